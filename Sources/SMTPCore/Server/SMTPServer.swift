import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL

/// An SMTP/LMTP server: one or more listeners sharing services, with graceful shutdown.
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
    private let state = NIOLockedValueBox(State())

    struct State {
        var serverChannels: [any Channel] = []
        var connections: [ObjectIdentifier: any Channel] = [:]
        var stopping = false
    }

    public init(listeners: [SMTPListenerConfiguration], services: SMTPServerServices, group: any EventLoopGroup) {
        self.listeners = listeners
        self.services = services
        self.group = group
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
                    guard let self, self.register(channel) else {
                        throw SMTPServerError.stopping
                    }
                    let sync = channel.pipeline.syncOperations
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

    private func register(_ channel: any Channel) -> Bool {
        let registered = state.withLockedValue { state -> Bool in
            guard !state.stopping else { return false }
            state.connections[ObjectIdentifier(channel)] = channel
            return true
        }
        if registered {
            channel.closeFuture.whenComplete { [weak self] _ in
                _ = self?.state.withLockedValue { $0.connections.removeValue(forKey: ObjectIdentifier(channel)) }
            }
        }
        return registered
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
