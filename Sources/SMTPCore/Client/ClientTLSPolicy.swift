import NIOSSL

/// When the client upgrades a connection with STARTTLS (RFC 3207), and how much it checks.
///
/// After a successful handshake the client forgets everything it learned in plaintext and
/// sends EHLO again (RFC 3207 §4.2).
public enum ClientTLSPolicy: Hashable, Sendable {
    /// Never send STARTTLS, even when offered.
    case none
    /// Use STARTTLS when the server offers it, without verifying the certificate (RFC 7435
    /// opportunistic security). A `454` to STARTTLS continues in plaintext. A failed
    /// *handshake* fails the attempt with ``SMTPClientError/tlsFailed(_:)`` (the connection is
    /// unusable by then); the caller may retry on a new connection with ``none`` — this
    /// client never silently downgrades.
    case opportunistic
    /// STARTTLS must be offered and succeed, but the certificate is not verified (encryption
    /// against passive listeners only). Not offered → temporary ``SMTPClientError/localPolicy(_:stage:)``.
    case required
    /// ``required`` plus certificate chain and host name verification against `trustRoots`
    /// (`.default` for the system store); `serverName` is the name checked and sent as SNI.
    case verify(serverName: String, trustRoots: NIOSSLTrustRoots)
    /// ``required`` plus the certificate authenticated by the mail exchanger's DNSSEC-validated
    /// TLSA records instead of the CA system ([RFC 7672](https://www.rfc-editor.org/rfc/rfc7672),
    /// ``DANEVerifier``); the TLSA base domain is sent as SNI.
    case dane(DANEAuthentication)

    /// True when a connection without TLS is not acceptable.
    public var requiresTLS: Bool {
        switch self {
        case .none, .opportunistic: return false
        case .required, .verify, .dane: return true
        }
    }
}
