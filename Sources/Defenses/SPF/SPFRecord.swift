/// A parsed SPF version 1 record ([RFC 7208 §4.6, §12](https://www.rfc-editor.org/rfc/rfc7208#section-4.6)).
///
/// ```
/// record           = version terms *SP
/// version          = "v=spf1"
/// terms            = *( 1*SP ( directive / modifier ) )
/// directive        = [ qualifier ] mechanism
/// qualifier        = "+" / "-" / "?" / "~"
/// modifier         = redirect / explanation / unknown-modifier
/// unknown-modifier = name "=" macro-string
/// name             = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." )
/// ```
///
/// The whole record is parsed before anything is evaluated, so a syntax error anywhere gives
/// ``SPFResult/permerror`` even when an earlier mechanism would have matched (§4.6).
public struct SPFRecord: Hashable, Sendable {
    /// The mechanisms, in record order (§4.6.2).
    public var directives: [SPFDirective]
    /// `redirect=`: the domain-spec whose record decides when no mechanism matches (§6.1).
    public var redirect: SPFMacroString?
    /// `exp=`: the domain-spec of the explanation TXT record (§6.2).
    public var explanation: SPFMacroString?
    /// Unknown modifiers, checked for syntax and otherwise ignored (§6: "MUST ignore").
    public var unknownModifiers: [SPFUnknownModifier]

    public init(directives: [SPFDirective], redirect: SPFMacroString? = nil, explanation: SPFMacroString? = nil) {
        self.directives = directives
        self.redirect = redirect
        self.explanation = explanation
        self.unknownModifiers = []
    }

    /// Whether TXT text is an SPF version 1 record: `v=spf1` (any case) followed by a space or
    /// the end ([RFC 7208 §4.5](https://www.rfc-editor.org/rfc/rfc7208#section-4.5)). Works on
    /// bytes: records with non-ASCII bytes are still *selected* here and rejected by ``parse(_:)``.
    public static func isSPFv1(_ bytes: some Collection<UInt8>) -> Bool {
        let version = Array("v=spf1".utf8)
        let head = Array(bytes.prefix(version.count + 1))
        guard head.count >= version.count else { return false }
        for (byte, expected) in zip(head, version) {
            let lower = (0x41...0x5A).contains(byte) ? byte + 0x20 : byte
            guard lower == expected else { return false }
        }
        return head.count == version.count || head[version.count] == UInt8(ascii: " ")
    }

    /// Parses a whole record, `v=spf1` included.
    public static func parse(_ text: String) throws(SPFSyntaxError) -> SPFRecord {
        // RFC 7208 §3.1 / §4.6.1: 7-bit ASCII only, terms separated by spaces only (no tabs or
        // other control characters).
        if let bad = text.unicodeScalars.first(where: { !($0.value >= 0x20 && $0.value <= 0x7E) }) {
            throw SPFSyntaxError("character U+\(String(bad.value, radix: 16, uppercase: true)) in record")
        }
        guard isSPFv1(Array(text.utf8)) else { throw SPFSyntaxError("not a v=spf1 record") }
        var record = SPFRecord(directives: [])
        for term in text.dropFirst(6).split(separator: " ", omittingEmptySubsequences: true) {
            if let (name, value) = modifierParts(term) {
                try record.addModifier(name: name.lowercased(), value: value)
            } else {
                record.directives.append(try SPFDirective.parse(term))
            }
        }
        return record
    }

    /// `name "=" value` when the term is a modifier: a name of ALPHA then ALPHA / DIGIT / "-" /
    /// "_" / "." directly followed by "=" ([RFC 7208 §4.6.1](https://www.rfc-editor.org/rfc/rfc7208#section-4.6.1)).
    private static func modifierParts(_ term: Substring) -> (Substring, Substring)? {
        guard let first = term.first, first.isASCII, first.isLetter else { return nil }
        let nameEnd = term.firstIndex { !($0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == ".")) }
        guard let nameEnd, term[nameEnd] == "=" else { return nil }
        return (term[..<nameEnd], term[term.index(after: nameEnd)...])
    }

    private mutating func addModifier(name: String, value: Substring) throws(SPFSyntaxError) {
        switch name {
        case "redirect":
            // RFC 7208 §6: redirect and exp "MUST NOT appear in a record more than once each".
            guard redirect == nil else { throw SPFSyntaxError("redirect= appears twice") }
            redirect = try Self.domainSpec(value, term: "redirect")
        case "exp":
            guard explanation == nil else { throw SPFSyntaxError("exp= appears twice") }
            // An empty "exp=" is a syntax error (RFC 7208 erratum 3,  the suite's exp-empty-domain).
            explanation = try Self.domainSpec(value, term: "exp")
        default:
            // RFC 7208 §6: unknown modifiers are ignored, but must have macro-string syntax (App. A).
            unknownModifiers.append(
                SPFUnknownModifier(name: name, value: try SPFMacroString.parse(value, context: .unknownModifier)))
        }
    }

    /// A `domain-spec` (§7.1): a non-empty macro-string ending in `"." toplabel ["."]` or in a macro.
    ///
    /// ```
    /// domain-spec      = macro-string domain-end
    /// domain-end       = ( "." toplabel [ "." ] ) / macro-expand
    /// toplabel         = ( *alphanum ALPHA *alphanum ) /
    ///                    ( 1*alphanum "-" *( alphanum / "-" ) alphanum )
    /// ```
    static func domainSpec(_ text: Substring, term: String) throws(SPFSyntaxError) -> SPFMacroString {
        guard !text.isEmpty else { throw SPFSyntaxError("\(term): empty domain-spec") }
        let spec = try SPFMacroString.parse(text, context: .domainSpec)
        if spec.endsInMacro { return spec }
        // The literal tail after the last macro must hold "." toplabel, optionally a final ".".
        var tail = Substring(text)
        if let lastMacroEnd = text.lastIndex(of: "}") { tail = text[text.index(after: lastMacroEnd)...] }
        if tail.hasSuffix(".") { tail = tail.dropLast() }
        guard let dot = tail.lastIndex(of: ".") else {
            throw SPFSyntaxError("\(term): domain-spec \"\(text)\" does not end in a top label")
        }
        let toplabel = tail[tail.index(after: dot)...]
        guard isTopLabel(toplabel) else {
            throw SPFSyntaxError("\(term): \"\(toplabel)\" is not a valid top label in \"\(text)\"")
        }
        return spec
    }

    /// RFC 7208 §7.1 `toplabel`: letters, digits and inner hyphens, not all digits.
    static func isTopLabel(_ label: Substring) -> Bool {
        guard let first = label.first, let last = label.last else { return false }
        let alphanumeric: (Character) -> Bool = { $0.isASCII && ($0.isLetter || $0.isNumber) }
        guard label.allSatisfy({ alphanumeric($0) || $0 == "-" }), alphanumeric(first), alphanumeric(last) else { return false }
        return label.contains { $0.isLetter || $0 == "-" }
    }
}

/// A modifier other than `redirect` and `exp` ([RFC 7208 §6](https://www.rfc-editor.org/rfc/rfc7208#section-6)).
public struct SPFUnknownModifier: Hashable, Sendable {
    /// The name, lower-cased.
    public var name: String
    public var value: SPFMacroString

    public init(name: String, value: SPFMacroString) {
        self.name = name
        self.value = value
    }
}

/// `+`, `-`, `~`, `?`: the result a matching mechanism gives
/// ([RFC 7208 §4.6.2](https://www.rfc-editor.org/rfc/rfc7208#section-4.6.2)).
public enum SPFQualifier: Character, Hashable, Sendable {
    case pass = "+"
    case fail = "-"
    case softfail = "~"
    case neutral = "?"

    public var result: SPFResult {
        switch self {
        case .pass: .pass
        case .fail: .fail
        case .softfail: .softfail
        case .neutral: .neutral
        }
    }
}

/// A mechanism with its arguments ([RFC 7208 §5](https://www.rfc-editor.org/rfc/rfc7208#section-5)).
public enum SPFMechanism: Hashable, Sendable {
    /// `all`: always matches (§5.1).
    case all
    /// `include:<domain-spec>`: matches when the other domain's check passes (§5.2).
    case include(SPFMacroString)
    /// `a[:<domain-spec>][/<ip4-cidr>][//<ip6-cidr>]` (§5.3).
    case a(SPFMacroString?, SPFDualCIDR)
    /// `mx[:<domain-spec>][/<ip4-cidr>][//<ip6-cidr>]` (§5.4).
    case mx(SPFMacroString?, SPFDualCIDR)
    /// `ptr[:<domain-spec>]` (§5.5, "SHOULD NOT be used").
    case ptr(SPFMacroString?)
    /// `ip4:<network>[/<cidr>]` (§5.6).
    case ip4(IPv4Address, prefix: Int)
    /// `ip6:<network>[/<cidr>]` (§5.6).
    case ip6(IPv6Address, prefix: Int)
    /// `exists:<domain-spec>`: matches when the name has an A record (§5.7).
    case exists(SPFMacroString)

    /// `include`, `a`, `mx`, `ptr` and `exists` query DNS and count against the limit of 10
    /// ([RFC 7208 §4.6.4](https://www.rfc-editor.org/rfc/rfc7208#section-4.6.4)).
    public var queriesDNS: Bool {
        switch self {
        case .all, .ip4, .ip6: false
        case .include, .a, .mx, .ptr, .exists: true
        }
    }
}

/// The `ip4-cidr-length` and `ip6-cidr-length` of `a` and `mx` (§5.3, §5.4, §5.6); 32 and 128
/// when absent.
public struct SPFDualCIDR: Hashable, Sendable {
    public var ipv4: Int
    public var ipv6: Int

    public init(ipv4: Int = 32, ipv6: Int = 128) {
        self.ipv4 = ipv4
        self.ipv6 = ipv6
    }
}

/// One directive: a qualifier and a mechanism (§4.6.2), with its text for diagnostics.
public struct SPFDirective: Hashable, Sendable, CustomStringConvertible {
    public var qualifier: SPFQualifier
    public var mechanism: SPFMechanism
    /// The term as written in the record.
    public var text: String

    public init(qualifier: SPFQualifier, mechanism: SPFMechanism, text: String) {
        self.qualifier = qualifier
        self.mechanism = mechanism
        self.text = text
    }

    public var description: String { text }

    /// Parses one `[qualifier] mechanism` term.
    static func parse(_ term: Substring) throws(SPFSyntaxError) -> SPFDirective {
        var rest = term
        var qualifier = SPFQualifier.pass  // RFC 7208 §4.6.2: the default qualifier is "+"
        if let first = rest.first, let explicit = SPFQualifier(rawValue: first) {
            qualifier = explicit
            rest = rest.dropFirst()
        }
        let nameEnd = rest.firstIndex { $0 == ":" || $0 == "/" } ?? rest.endIndex
        let name = rest[..<nameEnd].lowercased()
        let arguments = rest[nameEnd...]
        let mechanism: SPFMechanism
        switch name {
        case "all":
            // RFC 7208 §5.1: all = "all", nothing after it.
            guard arguments.isEmpty else { throw SPFSyntaxError("\"\(term)\": all takes no arguments") }
            mechanism = .all
        case "include":
            // RFC 7208 §5.2: include = "include" ":" domain-spec
            mechanism = .include(try requiredDomainSpec(arguments, term: term))
        case "exists":
            // RFC 7208 §5.7: exists = "exists" ":" domain-spec
            mechanism = .exists(try requiredDomainSpec(arguments, term: term))
        case "a", "mx":
            // RFC 7208 §5.3, §5.4: "a"/"mx" [ ":" domain-spec ] [ dual-cidr-length ]
            let (domainText, cidr) = try splitDualCIDR(arguments, term: term)
            var spec: SPFMacroString? = nil
            if domainText.first == ":" {
                spec = try SPFRecord.domainSpec(domainText.dropFirst(), term: String(term))
            } else if !domainText.isEmpty {
                throw SPFSyntaxError("\"\(term)\": bad CIDR length")
            }
            mechanism = name == "a" ? .a(spec, cidr) : .mx(spec, cidr)
        case "ptr":
            // RFC 7208 §5.5: PTR = "ptr" [ ":" domain-spec ]; no CIDR.
            if arguments.isEmpty {
                mechanism = .ptr(nil)
            } else if arguments.first == ":" {
                mechanism = .ptr(try SPFRecord.domainSpec(arguments.dropFirst(), term: String(term)))
            } else {
                throw SPFSyntaxError("\"\(term)\": ptr takes no CIDR length")
            }
        case "ip4":
            mechanism = try parseIP4(arguments, term: term)
        case "ip6":
            mechanism = try parseIP6(arguments, term: term)
        default:
            throw SPFSyntaxError("unknown mechanism \"\(term)\"")  // RFC 7208 §4.6.1
        }
        return SPFDirective(qualifier: qualifier, mechanism: mechanism, text: String(term))
    }

    private static func requiredDomainSpec(_ arguments: Substring, term: Substring) throws(SPFSyntaxError) -> SPFMacroString {
        guard arguments.first == ":" else { throw SPFSyntaxError("\"\(term)\": needs \":\" and a domain") }
        return try SPFRecord.domainSpec(arguments.dropFirst(), term: String(term))
    }

    /// Splits `[/ip4-cidr][//ip6-cidr]` off the end of `a`/`mx` arguments (a domain-spec may
    /// itself contain "/", so the lengths are taken from the right).
    private static func splitDualCIDR(_ text: Substring, term: Substring) throws(SPFSyntaxError) -> (Substring, SPFDualCIDR) {
        var rest = text
        var cidr = SPFDualCIDR()
        if let (head, digits) = trailingLength(rest), head.hasSuffix("/") {
            cidr.ipv6 = try cidrLength(digits, maximum: 128, term: term)
            rest = head.dropLast()
        }
        if let (head, digits) = trailingLength(rest) {
            cidr.ipv4 = try cidrLength(digits, maximum: 32, term: term)
            rest = head
        }
        return (rest, cidr)
    }

    /// `(text before "/", digits)` when `text` ends in "/" 1*DIGIT.
    private static func trailingLength(_ text: Substring) -> (Substring, Substring)? {
        let digits = text.reversed().prefix { $0.isASCII && $0.isNumber }.count
        guard digits > 0 else { return nil }
        let digitStart = text.index(text.endIndex, offsetBy: -digits)
        guard digitStart > text.startIndex else { return nil }
        let slash = text.index(before: digitStart)
        guard text[slash] == "/" else { return nil }
        return (text[..<slash], text[digitStart...])
    }

    /// RFC 7208 §5.6: `ip4-cidr-length = "/" ("0" / %x31-39 0*1DIGIT)`, at most 32;
    /// `ip6-cidr-length = "/" ("0" / %x31-39 0*2DIGIT)`, at most 128. No leading zeros.
    private static func cidrLength(_ digits: Substring, maximum: Int, term: Substring) throws(SPFSyntaxError) -> Int {
        guard !digits.isEmpty, digits.count <= 3, digits.allSatisfy({ $0.isASCII && $0.isNumber }),
            digits == "0" || digits.first != "0", let value = Int(digits), value <= maximum
        else {
            throw SPFSyntaxError("\"\(term)\": invalid CIDR length /\(digits)")
        }
        return value
    }

    /// `ip4:` ip4-network [ ip4-cidr-length ] (§5.6).
    private static func parseIP4(_ arguments: Substring, term: Substring) throws(SPFSyntaxError) -> SPFMechanism {
        guard arguments.first == ":" else { throw SPFSyntaxError("\"\(term)\": needs \":\" and an address") }
        let body = arguments.dropFirst()
        let slash = body.firstIndex(of: "/")
        let network = body[..<(slash ?? body.endIndex)]
        // RFC 7208 §5.6: ip4-network = qnum "." qnum "." qnum "." qnum, no leading zeros, no
        // short forms ("1.2.3" is not 1.2.3.0).
        let quads = network.split(separator: ".", omittingEmptySubsequences: false)
        guard quads.count == 4,
            quads.allSatisfy({ !$0.isEmpty && $0.count <= 3 && $0.allSatisfy { $0.isASCII && $0.isNumber } && ($0 == "0" || $0.first != "0") }),
            let address = IPv4Address(String(network))
        else {
            throw SPFSyntaxError("\"\(term)\": invalid IPv4 network")
        }
        var prefix = 32
        if let slash { prefix = try cidrLength(body[body.index(after: slash)...], maximum: 32, term: term) }
        return .ip4(address, prefix: prefix)
    }

    /// `ip6:` ip6-network [ ip6-cidr-length ] (§5.6); the network in RFC 4291 text form.
    private static func parseIP6(_ arguments: Substring, term: Substring) throws(SPFSyntaxError) -> SPFMechanism {
        guard arguments.first == ":" else { throw SPFSyntaxError("\"\(term)\": needs \":\" and an address") }
        let body = arguments.dropFirst()
        let slash = body.firstIndex(of: "/")
        guard let address = IPv6Address(String(body[..<(slash ?? body.endIndex)])) else {
            throw SPFSyntaxError("\"\(term)\": invalid IPv6 network")
        }
        var prefix = 128
        if let slash { prefix = try cidrLength(body[body.index(after: slash)...], maximum: 128, term: term) }
        return .ip6(address, prefix: prefix)
    }
}
