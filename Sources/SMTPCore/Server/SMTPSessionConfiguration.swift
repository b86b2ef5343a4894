/// Whether a listener or a client speaks SMTP (RFC 5321) or LMTP (RFC 2033).
public enum SessionProtocol: String, Sendable, Hashable, CaseIterable {
    case smtp
    case lmtp
}

/// How one session behaves: what it advertises, what it requires, its limits.
///
/// Built by the server from the listener's configuration; plain values so the state machine
/// can be tested without sockets.
public struct SMTPSessionConfiguration: Sendable, Hashable {
    /// Our host name, used in the greeting and the EHLO reply.
    public var hostname: String
    public var sessionProtocol: SessionProtocol
    public var limits: SMTPLimits
    /// What a bare CR or LF in message data does (SMTP smuggling defense).
    public var bareLineEndings: BareLineEndingPolicy
    /// Offer STARTTLS (RFC 3207): a TLS context exists and TLS is not already active.
    public var startTLSAvailable: Bool
    /// Refuse MAIL and AUTH until TLS is active (`530 5.7.0`), as a submission port must (RFC 8314 §3.3).
    public var requireTLS: Bool
    /// SASL mechanisms offered in EHLO (`PLAIN`, `LOGIN`); empty means no AUTH at all.
    public var authMechanisms: [String]
    /// Allow AUTH over a connection without TLS. Off by default; never turn it on for a public listener.
    public var allowPlaintextAuth: Bool
    /// Refuse MAIL until the client authenticated (`530 5.7.0`, RFC 4954 §6): submission.
    public var requireAuthentication: Bool
    /// Offer CHUNKING/BINARYMIME (RFC 3030).
    public var chunkingEnabled: Bool
    /// Offer SMTPUTF8 (RFC 6531).
    public var smtpUTF8Enabled: Bool
    /// Offer DSN (RFC 3461).
    public var dsnEnabled: Bool
    /// Offer REQUIRETLS ([RFC 8689](https://www.rfc-editor.org/rfc/rfc8689)) once TLS is active.
    /// A node turns it off when it cannot keep the promise on its next hop (a plaintext hand-off
    /// could not carry the flag); the parameter is then refused with `555`.
    public var requireTLSOffered = true
    /// A session from a loopback address (``LoopbackAddress``) counts as protected for
    /// REQUIRETLS: offered and accepted without STARTTLS. Both ends are on this host and no
    /// network carries the bytes — the hand-offs between the chained stages of `mailnode up`.
    public var requireTLSOverLoopback = true

    public init(hostname: String,
                sessionProtocol: SessionProtocol = .smtp,
                limits: SMTPLimits = .init(),
                bareLineEndings: BareLineEndingPolicy = .reject,
                startTLSAvailable: Bool = false,
                requireTLS: Bool = false,
                authMechanisms: [String] = [],
                allowPlaintextAuth: Bool = false,
                requireAuthentication: Bool = false,
                chunkingEnabled: Bool = true,
                smtpUTF8Enabled: Bool = true,
                dsnEnabled: Bool = true) {
        self.hostname = hostname
        self.sessionProtocol = sessionProtocol
        self.limits = limits
        self.bareLineEndings = bareLineEndings
        self.startTLSAvailable = startTLSAvailable
        self.requireTLS = requireTLS
        self.authMechanisms = authMechanisms
        self.allowPlaintextAuth = allowPlaintextAuth
        self.requireAuthentication = requireAuthentication
        self.chunkingEnabled = chunkingEnabled
        self.smtpUTF8Enabled = smtpUTF8Enabled
        self.dsnEnabled = dsnEnabled
    }
}
