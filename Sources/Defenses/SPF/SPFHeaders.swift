/// Header text for a check: `Received-SPF` ([RFC 7208 §9.1](https://www.rfc-editor.org/rfc/rfc7208#section-9.1))
/// and the `spf` method of `Authentication-Results`
/// ([RFC 8601 §2.7.2](https://www.rfc-editor.org/rfc/rfc8601#section-2.7.2)).
///
/// ``receivedSPFField(receiver:)`` is folded and ready for a header section; the other texts are
/// unfolded, and whoever writes them into a header block folds long lines.
extension SPFCheck {
    /// The field name and body: `Received-SPF: pass (...) client-ip=...; ...`.
    public func receivedSPFHeader(receiver: String) -> String {
        "Received-SPF: " + receivedSPF(receiver: receiver)
    }

    /// The whole field as it goes into a header section: `Received-SPF:` and the body of
    /// ``receivedSPF(receiver:)`` folded before each key-value pair (CRLF TAB, RFC 5322 §2.2.3),
    /// ending in CRLF.
    public func receivedSPFField(receiver: String) -> String {
        let (head, pairs) = receivedSPFParts(receiver: receiver)
        return "Received-SPF: " + head + "\r\n\t" + pairs.joined(separator: ";\r\n\t") + ";\r\n"
    }

    /// The `Received-SPF` field body (§9.1):
    ///
    /// ```
    /// header-field     = "Received-SPF:" [CFWS] result FWS [comment FWS] [ key-value-list ] CRLF
    /// key-value-list   = key-value-pair *( ";" [CFWS] key-value-pair ) [";"]
    /// key-value-pair   = key [CFWS] "=" ( dot-atom / quoted-string )
    /// ```
    ///
    /// With the keys `client-ip`, `envelope-from` (MAIL FROM identity), `helo`, `problem`
    /// (temperror, permerror), `receiver`, `identity` and `mechanism` (when one decided).
    public func receivedSPF(receiver: String) -> String {
        let (head, pairs) = receivedSPFParts(receiver: receiver)
        return head + " " + pairs.joined(separator: "; ") + ";"
    }

    /// `result (comment)` and the `key=value` pairs, unjoined.
    private func receivedSPFParts(receiver: String) -> (head: String, pairs: [String]) {
        var pairs: [(String, String)] = [("client-ip", clientIP.description)]
        if identity == .mailFrom { pairs.append(("envelope-from", sender.description)) }
        pairs.append(("helo", helo))
        if let problem, result == .temperror || result == .permerror { pairs.append(("problem", problem)) }
        pairs.append(("receiver", receiver))
        pairs.append(("identity", identity.rawValue))
        if let mechanism { pairs.append(("mechanism", mechanism)) }
        return ("\(result.rawValue) (\(HeaderText.comment(receiverComment(receiver))))",
                pairs.map { "\($0.0)=\(HeaderText.dotAtomOrQuoted($0.1))" })
    }

    /// The human-readable comment of §9.1, in the words of the RFC's examples.
    private func receiverComment(_ receiver: String) -> String {
        let who = identity == .helo ? helo : sender.description
        let ipText = clientIP.description
        switch result {
        case .pass: return "\(receiver): domain of \(who) designates \(ipText) as permitted sender"
        case .fail: return "\(receiver): domain of \(who) does not designate \(ipText) as permitted sender"
        case .softfail: return "\(receiver): transitioning domain of \(who) does not designate \(ipText) as permitted sender"
        case .neutral: return "\(receiver): \(ipText) is neither permitted nor denied by domain of \(who)"
        case .none: return "\(receiver): domain of \(who) does not provide an SPF record"
        case .temperror: return "\(receiver): error in processing during lookup of \(who)"
        case .permerror: return "\(receiver): permanent error in processing domain of \(who)"
        }
    }

    /// The `spf` resinfo of `Authentication-Results` without the leading `;` (RFC 8601 §2.7.2):
    /// `spf=pass smtp.mailfrom=example.org` or `spf=none smtp.helo=mail.example.org`; for
    /// temperror and permerror with a `reason`. The `smtp.mailfrom` value is the domain part
    /// (the `pvalue` grammar of RFC 8601 §2.2 allows omitting the local-part).
    public var authenticationResultsFragment: String { AuthenticationResult.spf(self).text }
}

/// Quoting for header values that come from the peer or the DNS: never a CR or LF, so nothing
/// can end the header early (RFC 5322 §2.2).
enum HeaderText {
    /// RFC 5322 §3.2.3 atext.
    private static func isAtext(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"), UInt8(ascii: "'"),
             UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "/"), UInt8(ascii: "="), UInt8(ascii: "?"),
             UInt8(ascii: "^"), UInt8(ascii: "_"), UInt8(ascii: "`"), UInt8(ascii: "{"), UInt8(ascii: "|"), UInt8(ascii: "}"),
             UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }

    /// A dot-atom when the text is one, else a quoted-string (RFC 5322 §3.2.3, §3.2.4).
    static func dotAtomOrQuoted(_ text: String) -> String {
        // One pass: atext and dots, no empty atom (no dot first, last, or next to another).
        var previous = UInt8(ascii: ".")
        var isDotAtom = !text.isEmpty
        for byte in text.utf8 where isDotAtom {
            isDotAtom = byte == UInt8(ascii: ".") ? previous != UInt8(ascii: ".") : isAtext(byte)
            previous = byte
        }
        if isDotAtom, previous != UInt8(ascii: ".") { return text }
        return quoted(text)
    }

    /// An RFC 2045 token when the text is one, else a quoted-string (RFC 8601 §2.2 `value`).
    static func tokenOrQuoted(_ text: String) -> String {
        if !text.isEmpty, text.utf8.allSatisfy(isTokenByte) { return text }
        return quoted(text)
    }

    /// An RFC 2045 token character: printable ASCII except space and tspecials.
    private static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: "<"), UInt8(ascii: ">"), UInt8(ascii: "@"), UInt8(ascii: ","),
             UInt8(ascii: ";"), UInt8(ascii: ":"), UInt8(ascii: "\\"), UInt8(ascii: "\""), UInt8(ascii: "/"), UInt8(ascii: "["),
             UInt8(ascii: "]"), UInt8(ascii: "?"), UInt8(ascii: "="):
            return false
        default:
            return byte > 0x20 && byte < 0x7F
        }
    }

    static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in clean(text).unicodeScalars {
            if scalar == "\"" || scalar == "\\" { out += "\\" }
            out.unicodeScalars.append(scalar)
        }
        return out + "\""
    }

    /// Comment text (RFC 5322 §3.2.2): parentheses and backslashes escaped.
    static func comment(_ text: String) -> String {
        // Usually there is nothing to escape or replace: then the text is the comment.
        let plain = text.utf8.allSatisfy { $0 >= 0x20 && $0 != 0x7F && $0 != UInt8(ascii: "(") && $0 != UInt8(ascii: ")") && $0 != UInt8(ascii: "\\") }
        if plain { return text }
        var out = ""
        for scalar in clean(text).unicodeScalars {
            if scalar == "(" || scalar == ")" || scalar == "\\" { out += "\\" }
            out.unicodeScalars.append(scalar)
        }
        return out
    }

    /// Control characters (CR and LF among them) become "?".
    private static func clean(_ text: String) -> String {
        String(String.UnicodeScalarView(text.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? "?" : $0 }))
    }
}
