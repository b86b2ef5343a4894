/// A malformed domain, address literal, path or mailbox; the caller turns it into the
/// ``CommandParseError`` that fits the command (`.syntax`, `.badReversePath`, `.badForwardPath`).
struct AddressSyntaxError: Error {
    let detail: String

    init(_ detail: String) {
        self.detail = detail
    }
}

/// Parsers for the host part of a mailbox and for the EHLO/HELO/LHLO argument
/// (RFC 5321 §4.1.2, §4.1.3; RFC 6531 §3.3 for U-labels).
enum HostParser {
    /// RFC 5321 §4.5.3.1.2.
    static let maxDomainOctets = 255
    /// RFC 1035 §2.3.4 (ASCII labels; a U-label is measured by IDNA when it is converted).
    static let maxLabelOctets = 63

    // Mailbox-host = Domain / address-literal          ; the host part of `Mailbox`
    static func mailboxHost(_ cursor: inout ParseCursor) throws(AddressSyntaxError) -> MailHost {
        if cursor.peek() == UInt8(ascii: "[") { return try addressLiteral(&cursor) }
        return .domain(try domain(&cursor))
    }

    // Domain     = sub-domain *("." sub-domain)
    // sub-domain = Let-dig [Ldh-str] / U-label         ; RFC 6531 §3.3 adds U-label
    // Ldh-str    = *( ALPHA / DIGIT / "-" ) Let-dig
    static func domain(_ cursor: inout ParseCursor) throws(AddressSyntaxError) -> String {
        let name = cursor.take { SMTPGrammar.isAlphaDigit($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ".") || $0 >= 0x80 }
        guard !name.isEmpty else { throw AddressSyntaxError("missing domain") }
        guard name.count <= maxDomainOctets else { throw AddressSyntaxError("domain longer than 255 octets") }
        for label in name.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false) {
            guard let first = label.first, let last = label.last else {
                throw AddressSyntaxError("empty domain label")
            }
            guard first != UInt8(ascii: "-"), last != UInt8(ascii: "-") else {
                throw AddressSyntaxError("domain label starts or ends with a hyphen")
            }
            if label.allSatisfy({ $0 < 0x80 }) && label.count > maxLabelOctets {
                throw AddressSyntaxError("domain label longer than 63 octets")
            }
        }
        return ParserASCII.string(name)
    }

    // helo-host  = address-literal / helo-name          ; the whole EHLO/HELO/LHLO argument
    // helo-name  = helo-label *("." helo-label) ["."]   ; lenient, see below
    // helo-label = 1*( ALPHA / DIGIT / "-" / "_" / UTF8-non-ascii )
    //
    // Real clients send names with `_`, a trailing root dot, or leading/trailing hyphens, and
    // MTAs accept them; whether the name is a real FQDN is a HELO defense's decision. Other
    // punctuation is refused because the name ends up in Received: headers.
    static func heloHost(_ argument: ArraySlice<UInt8>) throws(AddressSyntaxError) -> MailHost {
        var cursor = ParseCursor(argument)
        if cursor.peek() == UInt8(ascii: "[") {
            let host = try addressLiteral(&cursor)
            guard cursor.isAtEnd else { throw AddressSyntaxError("text after address literal") }
            return host
        }
        guard !argument.contains(ParserASCII.space) else { throw AddressSyntaxError("space in host name") }
        guard argument.count <= maxDomainOctets else { throw AddressSyntaxError("host name longer than 255 octets") }
        var labels = argument.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        if labels.count > 1, labels.last?.isEmpty == true { labels.removeLast() }  // "host.example."
        for label in labels {
            guard !label.isEmpty else { throw AddressSyntaxError("empty label in host name") }
            let valid = label.allSatisfy {
                SMTPGrammar.isAlphaDigit($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") || $0 >= 0x80
            }
            guard valid else { throw AddressSyntaxError("invalid character in host name") }
        }
        return .domain(ParserASCII.string(argument))
    }

    // address-literal  = "[" ( IPv4-address-literal / IPv6-address-literal /
    //                          General-address-literal ) "]"
    // IPv4-address-literal    = Snum 3("."  Snum)
    // IPv6-address-literal    = "IPv6:" IPv6-addr
    // General-address-literal = Standardized-tag ":" 1*dcontent
    // Standardized-tag = Ldh-str
    // dcontent         = %d33-90 / %d94-126             ; printable US-ASCII except "[", "\", "]"
    static func addressLiteral(_ cursor: inout ParseCursor) throws(AddressSyntaxError) -> MailHost {
        guard cursor.consume(UInt8(ascii: "[")) else { throw AddressSyntaxError("expected [") }
        let content = cursor.take { $0 != UInt8(ascii: "]") }
        guard cursor.consume(UInt8(ascii: "]")) else { throw AddressSyntaxError("unterminated address literal") }

        var inner = ParseCursor(content)
        if inner.consume(caseInsensitive: "IPv6:") {
            let address = inner.takeRest()
            guard isIPv6(address) else { throw AddressSyntaxError("invalid IPv6 address literal") }
            return .ipv6(ParserASCII.string(address))
        }
        if let colon = content.firstIndex(of: UInt8(ascii: ":")) {
            let tag = content[..<colon], value = content[(colon + 1)...]
            guard isLdhString(tag) else { throw AddressSyntaxError("invalid address literal tag") }
            let isDcontent = { (byte: UInt8) in
                (33...90).contains(byte) || (94...126).contains(byte)
            }
            guard !value.isEmpty, value.allSatisfy(isDcontent) else {
                throw AddressSyntaxError("invalid general address literal")
            }
            return .general(tag: ParserASCII.string(tag), content: ParserASCII.string(value))
        }
        guard isIPv4(content) else { throw AddressSyntaxError("invalid IPv4 address literal") }
        return .ipv4(ParserASCII.string(content))
    }

    // Ldh-str = *( ALPHA / DIGIT / "-" ) Let-dig
    static func isLdhString(_ bytes: ArraySlice<UInt8>) -> Bool {
        guard let last = bytes.last, SMTPGrammar.isAlphaDigit(last) else { return false }
        return bytes.allSatisfy { SMTPGrammar.isAlphaDigit($0) || $0 == UInt8(ascii: "-") }
    }

    // IPv4-address-literal = Snum 3("."  Snum)
    // Snum = 1*3DIGIT                                   ; 0 through 255
    //
    // Leading zeros ("010") are refused: some resolvers read them as octal.
    static func isIPv4(_ bytes: ArraySlice<UInt8>) -> Bool {
        let parts = bytes.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard parts.count == 4 else { return false }
        return parts.allSatisfy { part in
            guard (1...3).contains(part.count), part.allSatisfy(ParserASCII.isDigit) else { return false }
            guard part.count == 1 || part.first != UInt8(ascii: "0") else { return false }
            return part.reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) } <= 255
        }
    }

    // IPv6-addr   = IPv6-full / IPv6-comp / IPv6v4-full / IPv6v4-comp
    // IPv6-hex    = 1*4HEXDIG
    // IPv6-full   = IPv6-hex 7(":" IPv6-hex)
    // IPv6-comp   = [IPv6-hex *5(":" IPv6-hex)] "::" [IPv6-hex *5(":" IPv6-hex)]
    // IPv6v4-full = IPv6-hex 5(":" IPv6-hex) ":" IPv4-address-literal
    // IPv6v4-comp = [IPv6-hex *3(":" IPv6-hex)] "::" [IPv6-hex *3(":" IPv6-hex) ":"]
    //               IPv4-address-literal
    //
    // RFC 5321 wants "::" to stand for at least two groups; like inet_pton (RFC 4291 §2.2)
    // we also accept it for a single group.
    static func isIPv6(_ bytes: ArraySlice<UInt8>) -> Bool {
        let colon = UInt8(ascii: ":")
        // Split at the one "::", if any.
        var head = bytes, tail: ArraySlice<UInt8>? = nil
        var index = bytes.startIndex
        while index < bytes.endIndex - 1 {
            if bytes[index] == colon && bytes[index + 1] == colon {
                guard tail == nil else { return false }  // a second "::"
                head = bytes[..<index]
                tail = bytes[(index + 2)...]
                index += 2
            } else {
                index += 1
            }
        }
        guard let headGroups = ipv6Groups(head, mayEndWithIPv4: tail == nil) else { return false }
        guard let tail else { return headGroups == 8 }
        guard let tailGroups = ipv6Groups(tail, mayEndWithIPv4: true) else { return false }
        return headGroups + tailGroups <= 7
    }

    /// Counts the 16-bit groups of a colon-separated run (an IPv4 tail counts as two);
    /// nil when malformed. An empty run has zero groups.
    private static func ipv6Groups(_ run: ArraySlice<UInt8>, mayEndWithIPv4: Bool) -> Int? {
        guard !run.isEmpty else { return 0 }
        let groups = run.split(separator: UInt8(ascii: ":"), omittingEmptySubsequences: false)
        var count = 0
        for (position, group) in groups.enumerated() {
            if position == groups.count - 1, mayEndWithIPv4, group.contains(UInt8(ascii: ".")) {
                guard isIPv4(group) else { return nil }
                count += 2
            } else {
                guard (1...4).contains(group.count), group.allSatisfy(ParserASCII.isHexDigit) else { return nil }
                count += 1
            }
        }
        return count
    }
}
