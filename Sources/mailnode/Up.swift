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
        var limits = SMTPLimits()
        limits.maxMessageSize = maxMessageSize
        var routing = RoutingTable()
        if let nextHop, let address = ListenAddress(nextHop) {
            routing.defaultHop = NextHop(name: "next", host: address.host, port: address.port,
                                         sessionProtocol: nextHopLMTP ? .lmtp : .smtp)
        }
        let configuration = NodeConfiguration(
            hostname: hostname, spoolDirectory: spool, tlsCertificatePath: tlsCert, tlsKeyPath: tlsKey,
            mx: MXRoleConfiguration(listen: [ListenAddress(listen)!], localDomains: Set(domains), limits: limits,
                                    bareLineEndings: bareLineEndings),
            routing: routing)
        try await NodeRunner.run(configuration, logLevel: logLevel)
    }
}

extension BareLineEndingPolicy: ExpressibleByArgument {}


