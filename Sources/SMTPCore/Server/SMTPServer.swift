import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL

/// An SMTP/LMTP server: one or more listeners sharing services and connection caps
/// (``ConnectionCaps``, DM12/DM13), with graceful shutdown.
///
/// ```swift
/// let server = SMTPServer(listeners: [listener], services: services, group: group)
/// let addresses = try await server.start()
/// ...
/// await server.shutdown(gracePeriod: .seconds(30))
/// ```
public final class SMTPServer: Sendable {
    public let listeners: [SMTPListenerConfiguration]
    let services: SMTPServerServices
    let group: any EventLoopGroup
    /// DM12/DM13: how many connections the server holds at once.
    public let connectionCaps: ConnectionCaps
    private let state: NIOLockedValueBox<State>

    struct State {
        var serverChannels: [any Channel] = []
        var connections: [ObjectIdentifier: any Channel] = [:]
        var counter: ConnectionCounter
        var stopping = false
    }

    public init(listeners: [SMTPListenerConfiguration], services: SMTPServerServices, group: any EventLoopGroup,
                connectionCaps: ConnectionCaps = .init()) {
        self.listeners = listeners
        self.services = services
        self.group = group
        self.connectionCaps = connectionCaps
        self.state = NIOLockedValueBox(State(counter: ConnectionCounter(caps: connectionCaps)))
    }

    /// Binds every listener; returns the bound addresses in listener order.
    @discardableResult
    public func start() async throws -> [SocketAddress] {
        var addresses: [SocketAddress] = []
        for listener in listeners {
            if listener.tls != .none, listener.tlsContext == nil {
                throw SMTPServerError.missingTLSContext(listener: listener.name)
            }
            let channel = try await bootstrap(for: listener).bind(host: listener.host, port: listener.port).get()
            state.withLockedValue { $0.serverChannels.append(channel) }
            if let address = channel.localAddress { addresses.append(address) }
            services.logger.info("listening", metadata: [
                "listener": "\(listener.name)", "address": "\(channel.localAddress.map { "\($0)" } ?? "-")",
                "tls": "\(listener.tls.rawValue)", "protocol": "\(listener.session.sessionProtocol.rawValue)",
            ])
        }
        return addresses
    }

    private func bootstrap(for listener: SMTPListenerConfiguration) -> ServerBootstrap {
        let services = self.services
        return ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 4)
            .childChannelOption(.autoRead, value: true)
            .childChannelInitializer { [weak self] channel in
                channel.eventLoop.makeCompletedFuture {
                    guard let self else { throw SMTPServerError.stopping }
                    let sync = channel.pipeline.syncOperations
                    switch self.register(channel) {
                    case .stopping:
                        throw SMTPServerError.stopping
                    case .refused(let refusal):
                        self.services.metrics.record(refusal.defense, .disconnected)
                        self.logRefusal(refusal, channel: channel, listener: listener)
                        // Implicit TLS: a plaintext 421 would be garbage to the handshake; just close.
                        try sync.addHandler(ConnectionRefusalHandler(reply: listener.tls == .implicit ? nil : .tooManyConnections))
                        return
                    case .admitted:
                        self.services.metrics.record(.connections)
                    }
                    if !listener.proxyProtocolTrusted.isEmpty {
                        try sync.addHandler(ProxyProtocolHandler(trusted: listener.proxyProtocolTrusted, logger: services.logger))
                    }
                    if listener.tls == .implicit, let tlsContext = listener.tlsContext {
                        try sync.addHandler(NIOSSLServerHandler(context: tlsContext))
                    }
                    try sync.addHandler(SMTPServerHandler(
                        configuration: listener.session, services: services, tlsContext: listener.tlsContext,
                        implicitTLS: listener.tls == .implicit,
                        awaitProxyHeader: !listener.proxyProtocolTrusted.isEmpty, listenerName: listener.name))
                }
            }
    }

    enum Registration {
        case admitted
        case refused(ConnectionCounter.Refusal)
        case stopping
    }

    /// Counts `channel` against the caps; an admitted channel is released exactly once, when it
    /// closes (client gone, TLS handshake failed, timeout, shutdown: `closeFuture` covers all).
    private func register(_ channel: any Channel) -> Registration {
        let loop = ObjectIdentifier(channel.eventLoop)
        let registration = state.withLockedValue { state -> Registration in
            guard !state.stopping else { return .stopping }
            if let refusal = state.counter.admit(loop: loop) { return .refused(refusal) }
            state.connections[ObjectIdentifier(channel)] = channel
            return .admitted
        }
        if case .admitted = registration {
            channel.closeFuture.whenComplete { [weak self] _ in
                self?.state.withLockedValue { state in
                    if state.connections.removeValue(forKey: ObjectIdentifier(channel)) != nil {
                        state.counter.release(loop: loop)
                    }
                }
            }
        }
        return registration
    }

    private func logRefusal(_ refusal: ConnectionCounter.Refusal, channel: any Channel, listener: SMTPListenerConfiguration) {
        let (open, limit, scope) = switch refusal {
        case .node(let open, let limit): (open, limit, "node")
        case .eventLoop(let open, let limit): (open, limit, "event loop")
        }
        services.logger.notice("connection refused: too many connections", metadata: [
            "defense": "\(refusal.defense)", "listener": "\(listener.name)", "scope": "\(scope)",
            "client": "\(channel.remoteAddress.map(SMTPServerHandler.logText) ?? "-")",
            "open": "\(open)", "limit": "\(limit)",
        ])
    }

    /// Number of open client connections.
    public var connectionCount: Int { state.withLockedValue { $0.connections.count } }

    /// Stops accepting, sends `421 4.3.2` to idle sessions, lets sessions in a transaction finish
    /// their current message, and force-closes whatever remains after `gracePeriod`.
    public func shutdown(gracePeriod: TimeAmount = .seconds(30)) async {
        let (servers, connections) = state.withLockedValue { state in
            state.stopping = true
            return (state.serverChannels, Array(state.connections.values))
        }
        for server in servers { try? await server.close().get() }
        for connection in connections {
            connection.pipeline.fireUserInboundEventTriggered(SMTPShutdownEvent())
        }
        let deadline = NIODeadline.now() + gracePeriod
        while connectionCount > 0, NIODeadline.now() < deadline {
            try? await Task.sleep(nanoseconds: 20_000_000)
        }
        let remaining = state.withLockedValue { Array($0.connections.values) }
        for connection in remaining { try? await connection.close().get() }
        services.logger.info("server stopped", metadata: ["forced": "\(remaining.count)"])
    }
}

public enum SMTPServerError: Error, Hashable, Sendable {
    case missingTLSContext(listener: String)
    case stopping
}
