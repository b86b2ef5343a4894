import ArgumentParser
import Logging
import NIOPosix
import Roles
import SMTPCore

/// `mailnode up`: the embedded single-node setup a newcomer starts with.
struct Up: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run an embedded node: SMTP for the local domains, durable spool, no relaying.")

    @Option(help: "Listen address, host:port.")
    var listen: String = "127.0.0.1:2525"

    @Option(help: "Our host name in the greeting and EHLO reply.")
    var hostname: String = "localhost"

    @Option(name: .customLong("domain"), help: "A local domain to accept mail for (repeatable).")
    var domains: [String] = ["localhost"]

    @Option(help: "Spool directory (created if missing).")
    var spool: String = "./mailnode-data/spool"

    @Option(help: "PEM certificate chain for STARTTLS.")
    var tlsCert: String?

    @Option(help: "PEM private key for STARTTLS.")
    var tlsKey: String?

    @Option(help: "Largest accepted message in octets.")
    var maxMessageSize: Int = SMTPLimits().maxMessageSize

    @Option(help: "Bare CR/LF in message data: reject, accept or normalize.")
    var bareLineEndings: BareLineEndingPolicy = .reject

    @Option(help: "Forward accepted mail to this SMTP server, host:port (default: keep it in the spool).")
    var nextHop: String?

    @Flag(help: "Speak LMTP to the next hop.")
    var nextHopLMTP = false

    @Option(help: "Log level: trace, debug, info, notice, warning, error.")
    var logLevel: Logger.Level = .info

    func validate() throws {
        guard ListenAddress(listen) != nil else {
            throw ValidationError("--listen must be host:port, got '\(listen)'")
        }
        if (tlsCert == nil) != (tlsKey == nil) {
            throw ValidationError("--tls-cert and --tls-key go together")
        }
        guard maxMessageSize > 0 else { throw ValidationError("--max-message-size must be positive") }
        if let nextHop, ListenAddress(nextHop) == nil {
            throw ValidationError("--next-hop must be host:port, got '\(nextHop)'")
        }
    }

    func run() async throws {
        let address = ListenAddress(listen)!
        var logger = Logger(label: "mailnode")
        logger.logLevel = logLevel
        let openFiles = ResourceLimits.raiseOpenFiles()
        var limits = SMTPLimits()
        limits.maxMessageSize = maxMessageSize
        let node = try EmbeddedNode(
            configuration: EmbeddedNodeConfiguration(
                hostname: hostname, listenHost: address.host, listenPort: address.port,
                localDomains: Set(domains), spoolDirectory: spool, limits: limits,
                bareLineEndings: bareLineEndings, tlsCertificatePath: tlsCert, tlsKeyPath: tlsKey,
                nextHop: nextHop.flatMap(ListenAddress.init).map {
                    NextHop(name: "next", host: $0.host, port: $0.port, sessionProtocol: nextHopLMTP ? .lmtp : .smtp)
                }),
            group: MultiThreadedEventLoopGroup.singleton, logger: logger)
        let bound = try await node.start()
        logger.notice("mailnode up", metadata: [
            "listen": "\(bound.map { "\($0)" }.joined(separator: ","))",
            "domains": "\(domains.joined(separator: ","))", "spool": "\(spool)", "open_files": "\(openFiles)",
        ])
        let signal = await TerminationSignal.wait()
        logger.notice("stopping", metadata: ["signal": "\(signal)"])
        await node.shutdown()
    }
}

extension BareLineEndingPolicy: ExpressibleByArgument {}

extension Logger.Level: @retroactive ExpressibleByArgument {}

/// `host:port` (IPv6 as `[::1]:25`).
struct ListenAddress {
    var host: String
    var port: Int

    init?(_ text: String) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
              (0...65535).contains(port) else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { return nil }
        self.host = host
        self.port = port
    }
}
