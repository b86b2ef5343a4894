import Logging
import NIOConcurrencyHelpers
import SMTPCore

/// DM10 "simultaneous connections per client": a client (by default one IP address) may hold
/// at most ``Configuration/maxPerClient`` sessions on this node at once; the next one is
/// greeted with `421 4.7.0` and closed (RFC 5321 §3.8, §4.2.2 "service not available").
/// Postfix's `smtpd_client_connection_count_limit` (default 50) is the same mechanism.
///
/// The count is per node and in memory, not in the ``StateStore``: a session's slot is released
/// when the session ends (the slot lives in the session's ``SessionAttributes``, which the server
/// empties before its 221 to QUIT goes out and when the client drops the connection), and a node
/// that crashes must not leave slots held in a shared database. Behind a load balancer, per-node limits add up to
/// `nodes × maxPerClient`; the cluster-wide limit on how *often* a client connects is DM11
/// (``ClientRateLimit``), which does use the shared store. Log field: `defense=DM10`.
public struct ClientConnectionLimit: SessionHooks {
    public struct Configuration: Sendable, Hashable {
        /// Sessions one client may hold at once (default 10).
        public var maxPerClient: Int
        /// What counts as one client (default: one address).
        public var grouping: ClientNetworkGrouping
        /// Clients from these networks are not limited (upstream stages, load balancers' health checks).
        public var trustedNetworks: [IPNetwork]

        public init(maxPerClient: Int = 10, grouping: ClientNetworkGrouping = .singleAddress, trustedNetworks: [IPNetwork] = []) {
            self.maxPerClient = max(1, maxPerClient)
            self.grouping = grouping
            self.trustedNetworks = trustedNetworks
        }
    }

    public static let id = DefenseID.clientConnectionLimit

    /// `421 4.7.0` ([RFC 3463](https://www.rfc-editor.org/rfc/rfc3463) X.7.0 "other security or policy status").
    public static let refusal = Reply(.serviceNotAvailable, EnhancedStatusCode(4, 7, 0),
                                      "Too many connections from your host, try again later")

    public let configuration: Configuration
    let table = ConnectionTable()
    let slotKey = SessionAttributeKey<ConnectionSlot>("dm10.slot")
    let logger: Logger

    public init(_ configuration: Configuration = .init(), logger: Logger = Logger(label: "mailnode.defense.connections")) {
        self.configuration = configuration
        self.logger = logger
    }

    public var stages: HookStages { .connected }

    /// Sessions the client of `session`'s group holds now (for tests and metrics).
    public func activeSessions(for key: String) -> Int { table.count(key) }

    public func connected(_ session: SessionContext) async -> HookDecision {
        guard !DefenseHookSupport.isExempt(session, authenticated: false, trusted: configuration.trustedNetworks),
              let client = configuration.grouping.key(for: session.remoteAddress)
        else { return .continue }
        guard let held = table.acquire(client, limit: configuration.maxPerClient) else {
            logger.notice("too many connections", metadata: [
                "defense": "\(Self.id)", "session": "\(session.sessionID)", "client": "\(client)",
                "limit": "\(configuration.maxPerClient)",
            ])
            return .disconnect(Self.refusal)
        }
        session.attributes[slotKey] = ConnectionSlot(table: table, key: client)
        logger.trace("connection slot", metadata: ["defense": "\(Self.id)", "client": "\(client)", "held": "\(held)"])
        return .continue
    }
}

/// Sessions per client on this node; one lock.
final class ConnectionTable: Sendable {
    private let counts = NIOLockedValueBox<[String: Int]>([:])

    /// Takes a slot when fewer than `limit` are held; returns the new count, or nil when full.
    func acquire(_ key: String, limit: Int) -> Int? {
        counts.withLockedValue { counts in
            let current = counts[key, default: 0]
            guard current < limit else { return nil }
            counts[key] = current + 1
            return current + 1
        }
    }

    func release(_ key: String) {
        counts.withLockedValue { counts in
            let remaining = counts[key, default: 1] - 1
            counts[key] = remaining > 0 ? remaining : nil
        }
    }

    func count(_ key: String) -> Int { counts.withLockedValue { $0[key, default: 0] } }
}

/// One held slot; gives itself back when the session's attributes are released.
final class ConnectionSlot: Sendable {
    let table: ConnectionTable
    let key: String

    init(table: ConnectionTable, key: String) {
        self.table = table
        self.key = key
    }

    deinit { table.release(key) }
}
