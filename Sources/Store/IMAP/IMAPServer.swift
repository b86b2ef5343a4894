import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL

/// One IMAP listening socket.
public struct IMAPListenerConfiguration: Sendable {
    public enum TLSMode: String, Sendable, Hashable {
        /// Port 143 style: plaintext until STARTTLS, which is required before any credentials.
        case startTLS = "starttls"
        /// Port 993 style (RFC 8314): TLS from the first octet.
        case implicit
    }

    /// For logs (`imap`, `imaps`).
    public var name: String
    public var host: String
    public var port: Int
    public var tls: TLSMode
    public var tlsContext: NIOSSLContext
    public var limits: IMAPLimits

    public init(name: String, host: String, port: Int, tls: TLSMode, tlsContext: NIOSSLContext, limits: IMAPLimits = .init()) {
        self.name = name
        self.host = host
        self.port = port
        self.tls = tls
        self.tlsContext = tlsContext
        self.limits = limits
    }
}

/// The store role's IMAP service ([RFC 3501](https://www.rfc-editor.org/rfc/rfc3501)): one or
/// more listeners sharing the store and the authenticator. Every listener has TLS (implicit or
/// STARTTLS): credentials never travel in plaintext (DESIGN.md §3.4).
public final class IMAPServer: Sendable {
    public let listeners: [IMAPListenerConfiguration]
    let services: IMAPServices
    let group: any EventLoopGroup
    private let state = NIOLockedValueBox(State())

    struct State {
        var serverChannels: [any Channel] = []
        var connections: [ObjectIdentifier: any Channel] = [:]
        var stopping = false
    }

    public init(listeners: [IMAPListenerConfiguration], services: IMAPServices, group: any EventLoopGroup) {
        self.listeners = listeners
        self.services = services
        self.group = group
    }

    /// Binds every listener; returns the bound addresses in listener order.
    @discardableResult
    public func start() async throws -> [SocketAddress] {
        var addresses: [SocketAddress] = []
        for listener in listeners {
            let channel = try await bootstrap(for: listener).bind(host: listener.host, port: listener.port).get()
            state.withLockedValue { $0.serverChannels.append(channel) }
            if let address = channel.localAddress { addresses.append(address) }
            services.logger.info("listening", metadata: [
                "listener": "\(listener.name)", "address": "\(channel.localAddress.map { "\($0)" } ?? "-")",
                "tls": "\(listener.tls.rawValue)", "protocol": "imap",
            ])
        }
        return addresses
    }

    private func bootstrap(for listener: IMAPListenerConfiguration) -> ServerBootstrap {
        let services = self.services
        return ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { [weak self] channel in
                channel.eventLoop.makeCompletedFuture {
                    guard let self, self.register(channel) else { throw IMAPServerError.stopping }
                    let sync = channel.pipeline.syncOperations
                    if listener.tls == .implicit {
                        try sync.addHandler(NIOSSLServerHandler(context: listener.tlsContext))
                    }
                    let session = IMAPSession(limits: listener.limits, implicitTLS: listener.tls == .implicit, canStartTLS: true)
                    try sync.addHandler(IMAPServerHandler(session: session, services: services, tlsContext: listener.tlsContext,
                                                          listenerName: listener.name))
                }
            }
    }

    private func register(_ channel: any Channel) -> Bool {
        let admitted = state.withLockedValue { state -> Bool in
            guard !state.stopping else { return false }
            state.connections[ObjectIdentifier(channel)] = channel
            return true
        }
        if admitted {
            channel.closeFuture.whenComplete { [weak self] _ in
                _ = self?.state.withLockedValue { $0.connections.removeValue(forKey: ObjectIdentifier(channel)) }
            }
        }
        return admitted
    }

    public var connectionCount: Int { state.withLockedValue { $0.connections.count } }

    /// Stops accepting and closes every session (what a session did is already committed).
    public func shutdown() async {
        let (servers, connections) = state.withLockedValue { state in
            state.stopping = true
            return (state.serverChannels, Array(state.connections.values))
        }
        for server in servers { try? await server.close().get() }
        for connection in connections { try? await connection.close().get() }
        services.logger.info("imap stopped", metadata: ["closed": "\(connections.count)"])
    }
}

public enum IMAPServerError: Error, Hashable, Sendable {
    case stopping
}
