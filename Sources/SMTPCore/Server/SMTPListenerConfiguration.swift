import NIOSSL

/// How a listener uses TLS (RFC 3207 STARTTLS, RFC 8314 implicit TLS).
public enum ListenerTLSMode: String, Sendable, Hashable, CaseIterable {
    /// No TLS offered (internal LMTP on loopback, tests).
    case none
    /// STARTTLS offered; plaintext allowed until the listener's other rules need TLS.
    case startTLS = "starttls"
    /// TLS from the first byte (submissions on 465, RFC 8314 §3.3).
    case implicit
}

/// One listening socket and the session behaviour on it.
public struct SMTPListenerConfiguration: Sendable {
    /// A name for logs and hooks (`mx`, `submission`, `submissions`, `lmtp`).
    public var name: String
    public var host: String
    /// 0 picks a free port (tests); the bound address is returned by ``SMTPServer/start()``.
    public var port: Int
    public var session: SMTPSessionConfiguration
    public var tls: ListenerTLSMode
    /// The TLS context for STARTTLS or implicit TLS; required unless `tls == .none`.
    public var tlsContext: NIOSSLContext?
    /// Expect a PROXY protocol header, only from these networks (others are disconnected).
    /// Empty: PROXY protocol off.
    public var proxyProtocolTrusted: [IPNetwork]

    public init(name: String, host: String = "127.0.0.1", port: Int, session: SMTPSessionConfiguration,
                tls: ListenerTLSMode = .none, tlsContext: NIOSSLContext? = nil, proxyProtocolTrusted: [IPNetwork] = []) {
        self.name = name
        self.host = host
        self.port = port
        self.session = session
        self.tls = tls
        self.tlsContext = tlsContext
        self.proxyProtocolTrusted = proxyProtocolTrusted
        if tls == .startTLS, tlsContext != nil { self.session.startTLSAvailable = true }
    }
}
