import Defenses
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import SMTPCore

/// The first runnable node (`mailnode up`): one SMTP listener that accepts mail for the local
/// domains, refuses relaying (DM07), and makes every accepted message durable in the spool
/// before it answers 250.
///
/// Forwarding to the next stage and delivery come with the spool runner; until then accepted
/// messages stay in `spool/queue/`.
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

    public init(hostname: String, listenHost: String = "127.0.0.1", listenPort: Int = 2525,
                localDomains: Set<String>, spoolDirectory: String, limits: SMTPLimits = .init(),
                bareLineEndings: BareLineEndingPolicy = .reject,
                tlsCertificatePath: String? = nil, tlsKeyPath: String? = nil) {
        self.hostname = hostname
        self.listenHost = listenHost
        self.listenPort = listenPort
        self.localDomains = localDomains
        self.spoolDirectory = spoolDirectory
        self.limits = limits
        self.bareLineEndings = bareLineEndings
        self.tlsCertificatePath = tlsCertificatePath
        self.tlsKeyPath = tlsKeyPath
    }
}

/// A running embedded node.
public final class EmbeddedNode: Sendable {
    public let configuration: EmbeddedNodeConfiguration
    public let server: SMTPServer
    public let spool: SpoolReceiver

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
        self.server = SMTPServer(listeners: [listener],
                                 services: SMTPServerServices(receiver: spool, hooks: relay, logger: logger),
                                 group: group)
    }

    /// Binds the listener; returns its address.
    @discardableResult
    public func start() async throws -> [SocketAddress] {
        try await server.start()
    }

    public func shutdown() async {
        await server.shutdown(gracePeriod: .seconds(30))
    }
}
