import NIOCore
import NIOSSL

/// How long the client waits at each stage. Defaults are RFC 5321 §4.5.3.2's minimums; a
/// timeout always ends in a temporary failure, never a hang.
public struct SMTPClientTimeouts: Hashable, Sendable {
    /// Opening the TCP connection.
    public var connect: TimeAmount = .seconds(30)
    /// Initial `220` greeting (RFC 5321 §4.5.3.2.1: 5 minutes).
    public var greeting: TimeAmount = .minutes(5)
    /// EHLO/HELO/LHLO, STARTTLS, AUTH and RSET replies (RFC 5321 gives none; 5 minutes like MAIL).
    public var command: TimeAmount = .minutes(5)
    /// The TLS handshake after `220` to STARTTLS.
    public var tlsHandshake: TimeAmount = .minutes(1)
    /// Reply to MAIL (RFC 5321 §4.5.3.2.2: 5 minutes).
    public var mail: TimeAmount = .minutes(5)
    /// Reply to each RCPT (RFC 5321 §4.5.3.2.3: 5 minutes).
    public var rcpt: TimeAmount = .minutes(5)
    /// `354` to DATA (RFC 5321 §4.5.3.2.4: 2 minutes).
    public var dataInitiation: TimeAmount = .minutes(2)
    /// Each write of message data, and the reply to a non-final BDAT (RFC 5321 §4.5.3.2.5: 3 minutes).
    public var dataBlock: TimeAmount = .minutes(3)
    /// Reply to the final `.` or `BDAT … LAST`; for LMTP, each recipient's reply
    /// (RFC 5321 §4.5.3.2.6: 10 minutes).
    public var dataTermination: TimeAmount = .minutes(10)
    /// Reply to QUIT before the client closes anyway.
    public var quit: TimeAmount = .seconds(30)

    public init() {}

    /// Every stage gets the same timeout (tests, or a fast internal hop).
    public static func uniform(_ timeout: TimeAmount) -> SMTPClientTimeouts {
        var timeouts = SMTPClientTimeouts()
        timeouts.connect = timeout
        timeouts.greeting = timeout
        timeouts.command = timeout
        timeouts.tlsHandshake = timeout
        timeouts.mail = timeout
        timeouts.rcpt = timeout
        timeouts.dataInitiation = timeout
        timeouts.dataBlock = timeout
        timeouts.dataTermination = timeout
        timeouts.quit = timeout
        return timeouts
    }
}

/// A user name and password for AUTH PLAIN / LOGIN (RFC 4954, RFC 4616). Never printed.
public struct SMTPClientCredentials: Hashable, Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    public var username: String
    public var password: String
    /// PLAIN's authorization identity (RFC 4616 §2); nil means "the same as `username`".
    public var authorizationIdentity: String?

    public init(username: String, password: String, authorizationIdentity: String? = nil) {
        self.username = username
        self.password = password
        self.authorizationIdentity = authorizationIdentity
    }

    public var description: String { "SMTPClientCredentials(username: \(username), password: ***)" }
    public var debugDescription: String { description }
}

/// SASL mechanisms the client can run.
public enum ClientAuthMechanism: String, Hashable, Sendable, CaseIterable {
    /// RFC 4616, sent as an initial response: `AUTH PLAIN <base64(authzid NUL user NUL pass)>`.
    case plain = "PLAIN"
    /// The de-facto LOGIN mechanism (draft-murchison-sasl-login): user and password in two 334 rounds.
    case login = "LOGIN"
}

/// Everything a client connection needs besides host and port. Plain data with defaults.
public struct SMTPClientConfiguration: Hashable, Sendable {
    /// SMTP (RFC 5321), or LMTP (RFC 2033): `LHLO` instead of EHLO, and one reply per accepted
    /// recipient after the data.
    public var mode: SessionProtocol = .smtp
    /// Our name in EHLO/HELO/LHLO (RFC 5321 §4.1.1.1: the client's FQDN or an address literal).
    public var heloName: MailHost = .domain("localhost")
    public var tls: ClientTLSPolicy = .opportunistic
    /// Send REQUIRETLS messages to a server on a loopback address without TLS (it must still
    /// offer REQUIRETLS): the plaintext hand-off between stages on one host. Off by default; the
    /// spool runner turns it on for configured next hops on loopback.
    public var requireTLSOverLoopback = false
    /// A client certificate for mutual TLS between stages (empty: none).
    public var clientCertificateChain: [NIOSSLCertificateSource] = []
    public var clientPrivateKey: NIOSSLPrivateKeySource? = nil
    /// When set, the client authenticates after TLS and fails the attempt if it cannot.
    public var credentials: SMTPClientCredentials? = nil
    /// Mechanisms to try, in order of preference; the first one the server offers is used.
    public var authenticationMechanisms: [ClientAuthMechanism] = [.plain, .login]
    /// Send credentials over a connection without TLS. Off by default (DESIGN §3.4).
    public var allowPlaintextAuthentication = false
    /// Use PIPELINING (RFC 2920) when the server offers it.
    public var usePipelining = true
    /// Use BDAT (RFC 3030) instead of DATA when the server offers CHUNKING.
    public var preferChunking = true
    /// Octets per BDAT chunk.
    public var chunkSize = 64 * 1024
    public var timeouts = SMTPClientTimeouts()
    /// Limits on server replies (a misbehaving server cannot make us buffer without bound).
    public var maxReplyLineLength = 4096
    public var maxReplyLines = 100

    public init() {}

    public init(mode: SessionProtocol = .smtp, heloName: MailHost = .domain("localhost"),
                tls: ClientTLSPolicy = .opportunistic, credentials: SMTPClientCredentials? = nil,
                timeouts: SMTPClientTimeouts = SMTPClientTimeouts()) {
        self.mode = mode
        self.heloName = heloName
        self.tls = tls
        self.credentials = credentials
        self.timeouts = timeouts
    }
}
