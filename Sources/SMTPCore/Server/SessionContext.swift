import NIOCore

/// What a stage knows about the peer of one SMTP session; passed to hooks, the
/// authenticator and the message receiver. Never contains credentials.
public struct SessionContext: Sendable, Hashable {
    /// A short unique id that every log line of the session carries.
    public var sessionID: String
    /// The client, after PROXY protocol resolution when the listener trusts it.
    public var remoteAddress: SocketAddress?
    /// Our address the client connected to.
    public var localAddress: SocketAddress?
    /// The listener's name from the configuration (e.g. `mx`, `submission`).
    public var listenerName: String
    /// What the listener speaks (set by ``SMTPSession`` from its configuration).
    public var sessionProtocol: SessionProtocol = .smtp
    /// The argument of the last HELO/EHLO/LHLO.
    public var heloName: MailHost?
    /// True after EHLO or LHLO (ESMTP), false after HELO.
    public var isExtended: Bool = false
    /// Set once TLS is established (STARTTLS or implicit TLS).
    public var tls: TLSDetails?
    /// The authenticated identity after a successful AUTH.
    public var authenticatedUser: String?
    /// What hooks keep for the rest of the session (a verdict found at connect time, used at
    /// RCPT TO); shared by every copy of this context. See ``SessionAttributes``.
    public let attributes = SessionAttributes()

    public init(sessionID: String, remoteAddress: SocketAddress? = nil, localAddress: SocketAddress? = nil,
                listenerName: String = "smtp") {
        self.sessionID = sessionID
        self.remoteAddress = remoteAddress
        self.localAddress = localAddress
        self.listenerName = listenerName
    }

    /// The `with` protocol keyword for a Received header: `SMTP` after HELO; `ESMTP` or
    /// `LMTP` with `S` for TLS and `A` for AUTH appended ([RFC 3848 §2](https://www.rfc-editor.org/rfc/rfc3848#section-2));
    /// `UTF8SMTP`/`UTF8LMTP` plus the same suffixes when the transaction used SMTPUTF8
    /// ([RFC 6531 §3.7.3](https://www.rfc-editor.org/rfc/rfc6531#section-3.7.3)).
    public func receivedProtocol(smtpUTF8: Bool = false) -> String {
        var name: String
        switch sessionProtocol {
        case .lmtp: name = smtpUTF8 ? "UTF8LMTP" : "LMTP"
        case .smtp:
            // Plain SMTP has no variants: TLS, AUTH and SMTPUTF8 all need EHLO.
            guard isExtended else { return "SMTP" }
            name = smtpUTF8 ? "UTF8SMTP" : "ESMTP"
        }
        if tls != nil { name += "S" }
        if authenticatedUser != nil { name += "A" }
        return name
    }
}

extension SessionContext {
    /// True once the client sent anything before our greeting, although it must wait for it
    /// ([RFC 5321 §3.1](https://www.rfc-editor.org/rfc/rfc5321#section-3.1), §4.3.1). Set by the
    /// server while a connect hook runs; a hook that pauses before the greeting (DM32 greet
    /// pause) reads it afterwards. Shared by every copy of the context, like ``attributes``.
    public var clientTalkedBeforeGreeting: Bool { attributes[Self.earlyInputKey] ?? false }

    static let earlyInputKey = SessionAttributeKey<Bool>("smtp.early-input")
}

/// What was negotiated for TLS on a session (for Received headers and logs).
public struct TLSDetails: Sendable, Hashable {
    /// e.g. `TLSv1.3`.
    public var version: String
    /// True when TLS was started by the listener (RFC 8314), false for STARTTLS.
    public var implicit: Bool
    /// The client certificate's subject, when one was presented and verified.
    public var peerCertificateSubject: String?
    /// The identities of a client certificate the listener verified against its client CAs
    /// (`submission.client_ca_file`): the certificate's email SANs (rfc822Name), else its
    /// subject common name — what AUTH EXTERNAL authenticates (RFC 4422 Appendix A, DM05).
    /// Empty when no certificate was presented or the listener does not ask for one.
    public var clientCertificateNames: [String]

    public init(version: String, implicit: Bool, peerCertificateSubject: String? = nil, clientCertificateNames: [String] = []) {
        self.version = version
        self.implicit = implicit
        self.peerCertificateSubject = peerCertificateSubject
        self.clientCertificateNames = clientCertificateNames
    }
}

/// One accepted recipient of a transaction, with its DSN parameters.
public struct EnvelopeRecipient: Sendable, Hashable, Codable {
    public var path: ForwardPath
    public var parameters: RcptParameters

    public init(path: ForwardPath, parameters: RcptParameters = .init()) {
        self.path = path
        self.parameters = parameters
    }
}

/// The SMTP envelope of one message: reverse-path, parameters, accepted recipients.
public struct Envelope: Sendable, Hashable, Codable {
    public var reversePath: ReversePath
    public var parameters: MailParameters
    public var recipients: [EnvelopeRecipient]

    public init(reversePath: ReversePath, parameters: MailParameters = .init(), recipients: [EnvelopeRecipient] = []) {
        self.reversePath = reversePath
        self.parameters = parameters
        self.recipients = recipients
    }
}
