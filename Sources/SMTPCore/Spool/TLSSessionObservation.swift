import Foundation

/// What TLS did on one new connection to a mail exchanger: the raw material of TLS reporting
/// ([RFC 8460](https://www.rfc-editor.org/rfc/rfc8460)). ``SpoolRunner`` hands one to
/// ``SpoolRunnerConfiguration/tlsObserver`` per connection it opens to a host found by MX
/// (a reused connection is no new session; a connection that could not be opened is none).
public struct TLSSessionObservation: Sendable, Hashable {
    public enum Outcome: Sendable, Hashable {
        /// STARTTLS succeeded (with the certificate verified when the hop's level asked for it).
        case negotiated
        /// The session went on in plaintext: STARTTLS not offered, or not wanted.
        case plaintext
        /// The level required STARTTLS and the server did not offer it.
        case startTLSNotOffered
        /// The handshake or the certificate check failed; the client's reason.
        case failed(String)
    }

    /// The recipient domain the mail exchanger was looked up for (the report's policy domain).
    public var domain: String
    public var hop: NextHop
    public var outcome: Outcome
    public var date: Date

    public init(domain: String, hop: NextHop, outcome: Outcome, date: Date) {
        self.domain = domain
        self.hop = hop
        self.outcome = outcome
        self.date = date
    }
}
