import Foundation
import Logging
import SMTPCore

/// DM11 "client rate limit": how many connections, messages and recipients one client (by
/// default one IP address) may send within a sliding window, counted in the ``StateStore`` — so
/// several nodes on one PostgreSQL store enforce one limit together. Beyond a limit the client
/// gets a temporary failure and retries later (RFC 5321 §4.2.5: 4xx for a condition that may
/// pass): `421 4.7.0` and the connection closes for connections, `451 4.7.1` for a recipient
/// (RCPT) or a message (DATA/BDAT). Postfix's anvil (`smtpd_client_connection_rate_limit`,
/// `smtpd_client_message_rate_limit`, `smtpd_client_recipient_rate_limit`) is the model.
///
/// Every attempt counts, refused ones too (a client that keeps hammering stays limited). A store
/// failure lets the session go on (logged). Log field: `defense=DM11` with `limit=connections|
/// messages|recipients`.
public struct ClientRateLimit: SessionHooks {
    public struct Configuration: Sendable, Hashable {
        /// The sliding window (default 60 s, counted in 10 buckets; see ``StateWindow``).
        public var window: Duration
        /// Connections per client and window (default 60; 0: unlimited).
        public var maxConnections: Int
        /// Messages (DATA/BDAT transactions) per client and window (default 100; 0: unlimited).
        public var maxMessages: Int
        /// Recipients (RCPT TO commands) per client and window (default 500; 0: unlimited).
        public var maxRecipients: Int
        /// What counts as one client (default: one address).
        public var grouping: ClientNetworkGrouping
        /// Clients from these networks are not limited.
        public var trustedNetworks: [IPNetwork]
        /// Authenticated sessions are not limited (default on; DM34 limits users).
        public var exemptAuthenticated: Bool

        public init(window: Duration = .seconds(60), maxConnections: Int = 60, maxMessages: Int = 100, maxRecipients: Int = 500,
                    grouping: ClientNetworkGrouping = .singleAddress, trustedNetworks: [IPNetwork] = [],
                    exemptAuthenticated: Bool = true) {
            self.window = window
            self.maxConnections = max(0, maxConnections)
            self.maxMessages = max(0, maxMessages)
            self.maxRecipients = max(0, maxRecipients)
            self.grouping = grouping
            self.trustedNetworks = trustedNetworks
            self.exemptAuthenticated = exemptAuthenticated
        }
    }

    /// Which limit a client ran into.
    public enum Limit: String, Sendable, Hashable {
        case connections, messages, recipients
    }

    public static let id = DefenseID.clientRateLimit

    /// `421 4.7.0`, then the connection closes.
    public static let connectionRefusal = Reply(.serviceNotAvailable, EnhancedStatusCode(4, 7, 0),
                                                "Connection rate limit exceeded, try again later")
    /// `451 4.7.1` for a recipient or a message.
    public static let transactionDeferral = Reply(.localError, EnhancedStatusCode(4, 7, 1),
                                                  "Rate limit exceeded, try again later")

    public let configuration: Configuration
    public let store: any StateStore
    let now: @Sendable () -> Date
    let logger: Logger

    public init(_ configuration: Configuration = .init(), store: any StateStore, now: @escaping @Sendable () -> Date = { Date() },
                logger: Logger = Logger(label: "mailnode.defense.rate")) {
        self.configuration = configuration
        self.store = store
        self.now = now
        self.logger = logger
    }

    public var stages: HookStages {
        var stages: HookStages = []
        if configuration.maxConnections > 0 { stages.insert(.connected) }
        if configuration.maxRecipients > 0 { stages.insert(.rcptTo) }
        if configuration.maxMessages > 0 { stages.insert(.dataStart) }
        return stages
    }

    public func connected(_ session: SessionContext) async -> HookDecision {
        await exceeded(.connections, limit: configuration.maxConnections, session: session) ? .disconnect(Self.connectionRefusal) : .continue
    }

    public func rcptTo(_ recipient: EnvelopeRecipient, envelope: Envelope, session: SessionContext) async -> HookDecision {
        await exceeded(.recipients, limit: configuration.maxRecipients, session: session) ? .reply(Self.transactionDeferral) : .continue
    }

    public func dataStart(_ envelope: Envelope, session: SessionContext) async -> HookDecision {
        await exceeded(.messages, limit: configuration.maxMessages, session: session) ? .reply(Self.transactionDeferral) : .continue
    }

    /// Counts one event of `kind` for the session's client; true when that passes the limit.
    func exceeded(_ kind: Limit, limit: Int, session: SessionContext) async -> Bool {
        guard limit > 0,
              !DefenseHookSupport.isExempt(session, authenticated: configuration.exemptAuthenticated,
                                           trusted: configuration.trustedNetworks),
              let client = configuration.grouping.key(for: session.remoteAddress)
        else { return false }
        let total: Int
        do {
            total = try await store.increment("rate:\(kind.rawValue):\(client)", window: StateWindow(configuration.window), at: now())
        } catch {
            logger.warning("state store failed; not rate limiting", metadata: [
                "defense": "\(Self.id)", "session": "\(session.sessionID)", "error": "\(error)",
            ])
            return false
        }
        guard total > limit else { return false }
        logger.notice("rate limit exceeded", metadata: [
            "defense": "\(Self.id)", "session": "\(session.sessionID)", "client": "\(client)",
            "limit": "\(kind.rawValue)", "count": "\(total)/\(limit)", "window": "\(configuration.window)",
        ])
        return true
    }
}
