/// The part of a mailbox after `@`, or an EHLO/HELO argument (RFC 5321 §4.1.2, §4.1.3).
///
/// ```
/// Domain         = sub-domain *("." sub-domain)
/// address-literal = "[" ( IPv4-address-literal / IPv6-address-literal /
///                         General-address-literal ) "]"
/// ```
public enum MailHost: Hashable, Sendable, Codable, CustomStringConvertible {
    /// A domain name as written by the peer (ASCII, A-labels, or U-labels under SMTPUTF8).
    case domain(String)
    /// `[192.0.2.1]`: the dotted quad inside the brackets.
    case ipv4(String)
    /// `[IPv6:2001:db8::1]`: the address after the `IPv6:` tag.
    case ipv6(String)
    /// `[tag:content]` (RFC 5321 §4.1.3 General-address-literal).
    case general(tag: String, content: String)

    public var description: String {
        switch self {
        case .domain(let name): return name
        case .ipv4(let address): return "[\(address)]"
        case .ipv6(let address): return "[IPv6:\(address)]"
        case .general(let tag, let content): return "[\(tag):\(content)]"
        }
    }

    /// True when the host is a domain name containing non-ASCII characters (U-labels).
    public var isInternationalized: Bool {
        if case .domain(let name) = self { return !name.utf8.allSatisfy { $0 < 0x80 } }
        return false
    }

    /// The domain name, if this host is one (not an address literal).
    public var domainName: String? {
        if case .domain(let name) = self { return name }
        return nil
    }
}

/// A mailbox `local-part@host` (RFC 5321 §4.1.2).
///
/// `localPart` holds the *decoded* local part: for `"john doe"@example.org` it is `john doe`.
/// The wire form quotes it again when it is not a valid dot-string.
public struct Mailbox: Hashable, Sendable, Codable, CustomStringConvertible {
    public var localPart: String
    public var host: MailHost

    public init(localPart: String, host: MailHost) {
        self.localPart = localPart
        self.host = host
    }

    /// The wire form, without angle brackets.
    public var description: String { "\(Mailbox.encodeLocalPart(localPart))@\(host)" }

    /// True when the local part or the domain uses non-ASCII characters (RFC 6531).
    public var isInternationalized: Bool {
        !localPart.utf8.allSatisfy { $0 < 0x80 } || host.isInternationalized
    }

    /// RFC 5321 §4.1.2: `Dot-string` when possible, else `Quoted-string` with `\` escapes.
    public static func encodeLocalPart(_ localPart: String) -> String {
        if SMTPGrammar.isDotString(localPart.utf8) { return localPart }
        var out = "\""
        for ch in localPart.unicodeScalars {
            if ch == "\"" || ch == "\\" { out.append("\\") }
            out.unicodeScalars.append(ch)
        }
        out.append("\"")
        return out
    }
}

/// `Reverse-path` of MAIL FROM: a mailbox or the null path `<>` (RFC 5321 §4.1.1.2).
public enum ReversePath: Hashable, Sendable, Codable, CustomStringConvertible {
    /// `<>`: used by bounces (DSNs) and other automatic mail that must not be answered.
    case null
    case mailbox(Mailbox)

    public var description: String {
        switch self {
        case .null: return "<>"
        case .mailbox(let mailbox): return "<\(mailbox)>"
        }
    }

    public var mailbox: Mailbox? {
        if case .mailbox(let mailbox) = self { return mailbox }
        return nil
    }
}

/// `Forward-path` of RCPT TO: a mailbox or the bare `<Postmaster>` (RFC 5321 §4.1.1.3).
public enum ForwardPath: Hashable, Sendable, Codable, CustomStringConvertible {
    /// `<Postmaster>` without a domain: the local postmaster, which must always be accepted.
    case postmaster
    case mailbox(Mailbox)

    public var description: String {
        switch self {
        case .postmaster: return "<Postmaster>"
        case .mailbox(let mailbox): return "<\(mailbox)>"
        }
    }

    public var mailbox: Mailbox? {
        if case .mailbox(let mailbox) = self { return mailbox }
        return nil
    }
}
