import SMTPCore

/// The seven results of an SPF check ([RFC 7208 §2.6](https://www.rfc-editor.org/rfc/rfc7208#section-2.6)).
///
/// A verdict only: what a role does with it (reject, tempfail, tag, ignore) is the policy's
/// business (DESIGN "Defenses": the verdict is separate from the action). The raw values are the
/// result names as they appear in `Received-SPF` and `Authentication-Results`.
public enum SPFResult: String, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    /// No syntactically valid domain to check, or no SPF record at it
    /// ([§2.6.1](https://www.rfc-editor.org/rfc/rfc7208#section-2.6.1)).
    case none
    /// The domain owner states nothing about the client (`?` qualifier, or no match and no
    /// redirect, [§2.6.2](https://www.rfc-editor.org/rfc/rfc7208#section-2.6.2)).
    case neutral
    /// The client is authorized ([§2.6.3](https://www.rfc-editor.org/rfc/rfc7208#section-2.6.3)).
    case pass
    /// The client is explicitly not authorized ([§2.6.4](https://www.rfc-editor.org/rfc/rfc7208#section-2.6.4)).
    case fail
    /// Probably not authorized; weaker than fail ([§2.6.5](https://www.rfc-editor.org/rfc/rfc7208#section-2.6.5)).
    case softfail
    /// A transient DNS error; a later retry may succeed
    /// ([§2.6.6](https://www.rfc-editor.org/rfc/rfc7208#section-2.6.6)).
    case temperror
    /// The published records cannot be interpreted; needs the domain owner to fix them
    /// ([§2.6.7](https://www.rfc-editor.org/rfc/rfc7208#section-2.6.7)).
    case permerror

    public var description: String { rawValue }
}

/// Which identity a check authorized ([RFC 7208 §2.3, §2.4](https://www.rfc-editor.org/rfc/rfc7208#section-2.3)).
public enum SPFIdentity: String, Hashable, Sendable, CustomStringConvertible {
    /// The HELO/EHLO domain; `<sender>` is `postmaster@<helo>` (§2.3).
    case helo
    /// The MAIL FROM reverse-path, or `postmaster@<helo>` for the null path (§2.4).
    case mailFrom = "mailfrom"

    public var description: String { rawValue }
}

/// The `<sender>` of `check_host()`: a local-part and a domain
/// ([RFC 7208 §4.1](https://www.rfc-editor.org/rfc/rfc7208#section-4.1)).
///
/// The local-part is kept decoded (a quoted `"john doe"` is `john doe`); it only feeds the `l`
/// and `s` macros (§7.3). An empty local-part reads as `postmaster` (§4.3).
public struct SPFSender: Hashable, Sendable, CustomStringConvertible {
    public var localPart: String
    /// The domain part as given (a domain name, or an address literal such as `[192.0.2.1]`,
    /// which yields `none`).
    public var domain: String

    public init(localPart: String, domain: String) {
        self.localPart = localPart
        self.domain = domain
    }

    /// Splits at the last `@`; text without `@` is a bare domain (`postmaster@<text>`).
    public init(_ text: String) {
        if let at = text.lastIndex(of: "@") {
            self.init(localPart: String(text[..<at]), domain: String(text[text.index(after: at)...]))
        } else {
            self.init(localPart: "", domain: text)
        }
    }

    /// From a MAIL FROM mailbox; the host keeps its literal form (`[192.0.2.1]`).
    public init(_ mailbox: Mailbox) {
        self.init(localPart: mailbox.localPart, domain: mailbox.host.description)
    }

    /// `postmaster@<domain>`: the HELO identity and the null reverse-path (§2.3, §2.4).
    public static func postmaster(_ domain: String) -> SPFSender {
        SPFSender(localPart: "postmaster", domain: domain)
    }

    /// The local-part for macros: `postmaster` when empty
    /// ([§4.3](https://www.rfc-editor.org/rfc/rfc7208#section-4.3)).
    public var effectiveLocalPart: String { localPart.isEmpty ? "postmaster" : localPart }

    /// `local-part@domain`, with `postmaster` for an empty local-part.
    public var description: String { "\(effectiveLocalPart)@\(domain)" }
}

/// The outcome of one `check_host()` evaluation, with the reasoning behind it.
public struct SPFCheck: Hashable, Sendable {
    /// The result (§2.6).
    public var result: SPFResult
    /// Which identity was checked.
    public var identity: SPFIdentity
    /// The client address as evaluated (an IPv4-mapped IPv6 address becomes IPv4, §5).
    public var clientIP: IPAddress
    /// The `<domain>` whose record was evaluated first.
    public var domain: String
    /// The `<sender>`.
    public var sender: SPFSender
    /// The HELO/EHLO name given by the client (`%{h}`).
    public var helo: String
    /// The term that decided the result (`-all`, `ip4:192.0.2.0/24`, `include:_spf.example`),
    /// `default` when no mechanism matched (§4.7); `nil` when no record was evaluated.
    public var mechanism: String?
    /// On ``SPFResult/fail``: the `exp=` text of the domain, macro-expanded, or the configured
    /// default explanation ([§6.2](https://www.rfc-editor.org/rfc/rfc7208#section-6.2)). It
    /// comes from a third party: show it to the client only with that in mind (§6.2, §11.4).
    public var explanation: String?
    /// Why the result is none, temperror or permerror, for logs and `problem=` (§9.1).
    public var problem: String?
    /// What was looked up and what matched, in order: the reasoning trail for diagnostics.
    public var trail: [String]
    /// DNS-querying terms evaluated (limit 10, [§4.6.4](https://www.rfc-editor.org/rfc/rfc7208#section-4.6.4)).
    public var dnsTerms: Int
    /// Void look-ups seen (limit 2, §4.6.4).
    public var voidLookups: Int

    public init(
        result: SPFResult, identity: SPFIdentity, clientIP: IPAddress, domain: String, sender: SPFSender, helo: String,
        mechanism: String? = nil, explanation: String? = nil, problem: String? = nil, trail: [String] = [],
        dnsTerms: Int = 0, voidLookups: Int = 0
    ) {
        self.result = result
        self.identity = identity
        self.clientIP = clientIP
        self.domain = domain
        self.sender = sender
        self.helo = helo
        self.mechanism = mechanism
        self.explanation = explanation
        self.problem = problem
        self.trail = trail
        self.dnsTerms = dnsTerms
        self.voidLookups = voidLookups
    }
}

/// Both checks of a session: HELO (when the HELO name can be checked) and MAIL FROM
/// ([RFC 7208 §2.3, §2.4](https://www.rfc-editor.org/rfc/rfc7208#section-2.3)).
public struct SPFVerification: Hashable, Sendable {
    /// The HELO identity check; `nil` when it was not run (an address literal or a name that is
    /// not a domain, or turned off in ``SPFConfiguration/checkHELO``).
    public var helo: SPFCheck?
    /// The MAIL FROM identity check (for a null reverse-path: `postmaster@<helo>`, §2.4).
    public var mailFrom: SPFCheck

    public init(helo: SPFCheck?, mailFrom: SPFCheck) {
        self.helo = helo
        self.mailFrom = mailFrom
    }
}
