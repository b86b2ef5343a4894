import Defenses
import Logging
import NIOConcurrencyHelpers
import NIOCore
import SMTPCore
import StatePostgres
import StateSQLite

/// Every stage one process runs: one ``MailNode`` per role of the configuration, chained over
/// their listeners as ``NodeConfiguration/stages()`` describes (`--role all`, `mailnode up`).
///
/// With one role it is that role's node and nothing more. With several, the stages share the
/// event loops, one set of counters (served by the first stage's `[metrics]` listener) and one
/// state store (opened here once), and keep everything else apart — spools, dedup sets,
/// quarantine — exactly as if they ran on separate machines, so a stage that works in a
/// chain works alone.
public final class NodeChain: Sendable {
    /// The stages in the order mail flows through them, as planned.
    public let planned: [ChainedStage]
    public let metrics: DefenseMetrics
    let group: any EventLoopGroup
    let logger: Logger
    let stateStore: (any StateStore)?
    let sessionTasksOnConnectionLoop: Bool
    let purgeInterval: Duration
    let running = NIOLockedValueBox<(nodes: [(role: String, node: MailNode)], purger: Task<Void, Never>?)>(([], nil))

    /// Plans the stages and opens the shared state store; the nodes are built by ``start()``.
    /// `sessionTasksOnConnectionLoop`: see ``SMTPCore/SMTPServerServices/sessionTasksOnConnectionLoop``.
    public init(configuration: NodeConfiguration, group: any EventLoopGroup, logger: Logger,
                sessionTasksOnConnectionLoop: Bool = false) throws {
        self.sessionTasksOnConnectionLoop = sessionTasksOnConnectionLoop
        planned = configuration.stages()
        metrics = DefenseMetrics()
        self.group = group
        self.logger = logger
        purgeInterval = configuration.state.purgeInterval
        if planned.count > 1, let first = planned.first(where: { $0.configuration.needsStateStore }) {
            stateStore = try MailNode.openStateStore(first.configuration.state, logger: logger)
        } else {
            stateStore = nil
        }
    }

    /// The running stages, first stage first (empty before ``start()``).
    public var stages: [(role: String, node: MailNode)] { running.withLockedValue { $0.nodes } }

    /// Builds and starts the stages from the last to the first, so that each next hop listens
    /// before mail reaches it — and a hop to a listener on port 0 learns the port it got.
    /// Returns every bound address, first stage first. A stage that fails to start stops the
    /// ones already running.
    @discardableResult
    public func start() async throws -> [SocketAddress] {
        if let postgres = stateStore as? PostgresStateStore { try await postgres.prepare() }
        var bound: [[SocketAddress]] = []
        var ports: [String: Int] = [:]
        var nodes: [(role: String, node: MailNode)] = []
        do {
            for stage in planned.reversed() {
                var configuration = stage.configuration
                configuration.routing = Self.resolving(configuration.routing, ports: ports)
                var stageLogger = logger
                if planned.count > 1 { stageLogger[metadataKey: "stage"] = "\(stage.role)" }
                let node = try MailNode(configuration: configuration, group: group, logger: stageLogger, metrics: metrics,
                                        sharedStateStore: stateStore, sessionTasksOnConnectionLoop: sessionTasksOnConnectionLoop)
                let addresses = try await node.start()
                nodes.insert((stage.role, node), at: 0)
                bound.insert(addresses, at: 0)
                if let port = addresses.first?.port { ports[stage.role] = port }
            }
        } catch {
            for stage in nodes { await stage.node.shutdown() }
            await (stateStore as? PostgresStateStore)?.shutdown()
            await (stateStore as? SQLiteWriteBehindStore)?.close()
            throw error
        }
        let purger = planned.count > 1 ? stateStore.map { MailNode.purgeRegularly($0, every: purgeInterval, logger: logger) } : nil
        running.withLockedValue { $0 = (nodes, purger) }
        return bound.flatMap { $0 }
    }

    /// Hops to a chained stage's listener on port 0 get the port it was given.
    static func resolving(_ routing: RoutingTable, ports: [String: Int]) -> RoutingTable {
        func resolve(_ hop: NextHop) -> NextHop {
            guard hop.port == 0, let port = ports[hop.name] else { return hop }
            var copy = hop
            copy.port = port
            return copy
        }
        return RoutingTable(routes: routing.routes.mapValues(resolve), defaultHop: routing.defaultHop.map(resolve))
    }

    /// Stops the stages from the first to the last: nothing new enters while the later stages
    /// still take what the earlier ones hand on.
    public func shutdown() async {
        let (nodes, purger) = running.withLockedValue { $0 }
        for stage in nodes { await stage.node.shutdown() }
        purger?.cancel()
        await (stateStore as? PostgresStateStore)?.shutdown()
        await (stateStore as? SQLiteWriteBehindStore)?.close()
    }
}
