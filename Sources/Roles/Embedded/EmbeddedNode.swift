import Defenses
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import SMTPCore

/// The first runnable node (`mailnode up`): one SMTP listener that accepts mail for the local
/// domains, refuses relaying (DM07), makes every accepted message durable in the spool before
/// it answers 250, and forwards it to the configured next hop (or keeps it in `spool/queue/`).
public struct EmbeddedNodeConfiguration: Sendable {
    public var hostname: String
    public var listenHost: String
    public var listenPort: Int
    public var localDomains: Set<String>
    public var spoolDirectory: String
    public var limits: SMTPLimits
    public var bareLineEndings: BareLineEndingPolicy
    /// PEM certificate chain and key; when both are set the listener offers STARTTLS.
    public var tlsCertificatePath: String?
    public var tlsKeyPath: String?
    /// Where accepted mail goes next; nil keeps it in the spool (no stage to hand it to yet).
    public var nextHop: NextHop?
    public var retry: RetryPolicy

    public init(hostname: String, listenHost: String = "127.0.0.1", listenPort: Int = 2525,
                localDomains: Set<String>, spoolDirectory: String, limits: SMTPLimits = .init(),
                bareLineEndings: BareLineEndingPolicy = .reject,
                tlsCertificatePath: String? = nil, tlsKeyPath: String? = nil,
                nextHop: NextHop? = nil, retry: RetryPolicy = .init()) {
        self.hostname = hostname
        self.listenHost = listenHost
        self.listenPort = listenPort
        self.localDomains = localDomains
        self.spoolDirectory = spoolDirectory
        self.limits = limits
        self.bareLineEndings = bareLineEndings
        self.tlsCertificatePath = tlsCertificatePath
        self.tlsKeyPath = tlsKeyPath
        self.nextHop = nextHop
        self.retry = retry
    }
}

/// A running embedded node.
public final class EmbeddedNode: Sendable {
    public let configuration: EmbeddedNodeConfiguration
    public let server: SMTPServer
    public let spool: SpoolReceiver
    /// Forwards to the next hop; nil when none is configured.
    public let runner: SpoolRunner?
    let logger: Logger

    public init(configuration: EmbeddedNodeConfiguration, group: any EventLoopGroup, logger: Logger) throws {
        self.configuration = configuration
        let spool = SpoolReceiver(store: try SpoolStore(directory: configuration.spoolDirectory), hostname: configuration.hostname)
        var tlsContext: NIOSSLContext?
        if let certificate = configuration.tlsCertificatePath, let key = configuration.tlsKeyPath {
            let tls = TLSConfiguration.makeServerConfiguration(
                certificateChain: try NIOSSLCertificate.fromPEMFile(certificate).map { .certificate($0) },
                privateKey: .privateKey(try NIOSSLPrivateKey(file: key, format: .pem)))
            tlsContext = try NIOSSLContext(configuration: tls)
        }
        let session = SMTPSessionConfiguration(hostname: configuration.hostname, limits: configuration.limits,
                                               bareLineEndings: configuration.bareLineEndings)
        let listener = SMTPListenerConfiguration(name: "mx", host: configuration.listenHost, port: configuration.listenPort,
                                                 session: session, tls: tlsContext == nil ? .none : .startTLS,
                                                 tlsContext: tlsContext)
        let relay = RelayControl(.init(localDomains: configuration.localDomains), logger: logger)
        self.spool = spool
        self.logger = logger
        if let hop = configuration.nextHop {
            runner = SpoolRunner(store: spool.store,
                                 configuration: SpoolRunnerConfiguration(routing: RoutingTable(defaultHop: hop),
                                                                         retry: configuration.retry,
                                                                         hostname: configuration.hostname),
                                 group: group, logger: logger)
        } else {
            runner = nil
        }
        self.server = SMTPServer(listeners: [listener],
                                 services: SMTPServerServices(receiver: spool, hooks: relay, logger: logger),
                                 group: group)
    }

    /// Recovers the spool, starts forwarding, binds the listener; returns its address.
    @discardableResult
    public func start() async throws -> [SocketAddress] {
        if let runner {
            try await runner.start()
        } else {
            let waiting = try spool.store.committedIDs().count
            logger.warning("no next hop configured: accepted mail stays in the spool", metadata: ["queued": "\(waiting)"])
        }
        return try await server.start()
    }

    /// Stops accepting, lets sessions finish, then stops forwarding.
    public func shutdown() async {
        await server.shutdown(gracePeriod: .seconds(30))
        await runner?.stop()
    }
}
