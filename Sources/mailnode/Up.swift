import ArgumentParser
import Foundation
import Logging
import Roles
import SMTPCore

/// `mailnode up`: the whole node on one machine, the first thing a newcomer runs.
///
/// Without `--spool`: prepares `--dir` on first use (configuration on loopback ports, a sample
/// domain, a self-signed certificate, a spool — see ``DevelopmentSetup``), then runs it; flags
/// override single settings. With `--spool`: runs purely from flags and writes nothing else.
struct Up: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a whole node on this machine (generates DIR/mailnode.toml on first use).")

    @Option(help: "Directory for the generated configuration, certificate and spool.")
    var dir: String = "mailnode-data"

    @Option(help: "Spool directory; given, the node runs from flags only (no generated files).")
    var spool: String?

    @Option(help: "Listen address, host:port (replaces the configured ones).")
    var listen: String?

    @Option(help: "Our host name in the greeting and EHLO reply.")
    var hostname: String?

    @Option(name: .customLong("domain"), help: "A local domain to accept mail for (repeatable; replaces the configured ones).")
    var domains: [String] = []

    @Option(help: "PEM certificate chain for STARTTLS.")
    var tlsCert: String?

    @Option(help: "PEM private key for STARTTLS.")
    var tlsKey: String?

    @Option(help: "Largest accepted message in octets.")
    var maxMessageSize: Int?

    @Option(help: "Bare CR/LF in message data: reject, accept or normalize.")
    var bareLineEndings: BareLineEndingPolicy?

    @Option(help: "Forward accepted mail to this SMTP server, host:port.")
    var nextHop: String?

    @Flag(help: "Speak LMTP to the next hop.")
    var nextHopLMTP = false

    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        if let listen, ListenAddress(listen) == nil { throw ValidationError("--listen must be host:port, got '\(listen)'") }
        if let nextHop, ListenAddress(nextHop) == nil { throw ValidationError("--next-hop must be host:port, got '\(nextHop)'") }
        if (tlsCert == nil) != (tlsKey == nil) { throw ValidationError("--tls-cert and --tls-key go together") }
        if let maxMessageSize, maxMessageSize <= 0 { throw ValidationError("--max-message-size must be positive") }
    }

    func run() async throws {
        var configuration: NodeConfiguration
        var announcement: String?
        if let spool {
            configuration = NodeConfiguration(hostname: hostname ?? "localhost", spoolDirectory: spool,
                                              mx: MXRoleConfiguration(localDomains: ["localhost"]))
        } else {
            let (path, created) = try DevelopmentSetup.prepare(directory: dir)
            configuration = try Mailnode.load(path, role: "mx")
            announcement = "configuration: \(path) (\(created ? "created now" : "existing"))"
        }
        apply(to: &configuration)
        try await NodeRunner.run(configuration, logLevel: logging.logLevel) { bound in
            guard let announcement else { return }
            FileHandle.standardOutput.write(Data((Self.banner(configuration, bound: bound, header: announcement) + "\n").utf8))
        }
    }

    /// Flags override single settings of the file (or of the flag-only defaults).
    func apply(to configuration: inout NodeConfiguration) {
        if let hostname { configuration.hostname = hostname }
        if let tlsCert, let tlsKey {
            configuration.tlsCertificatePath = tlsCert
            configuration.tlsKeyPath = tlsKey
        }
        var mx = configuration.mx ?? MXRoleConfiguration(localDomains: ["localhost"])
        if let listen, let address = ListenAddress(listen) { mx.listen = [address] }
        if !domains.isEmpty { mx.localDomains = Set(domains) }
        if let maxMessageSize { mx.limits.maxMessageSize = maxMessageSize }
        if let bareLineEndings { mx.bareLineEndings = bareLineEndings }
        configuration.mx = mx
        if let nextHop, let address = ListenAddress(nextHop) {
            configuration.routing.defaultHop = NextHop(name: "next", host: address.host, port: address.port,
                                                       sessionProtocol: nextHopLMTP ? .lmtp : .smtp)
        }
    }

    /// What runs where, what is absent, and how to send a first message.
    static func banner(_ configuration: NodeConfiguration, bound: [String], header: String) -> String {
        let domains = configuration.mx?.localDomains.sorted() ?? []
        let tls = configuration.tlsCertificatePath == nil ? "no TLS" : "STARTTLS"
        var lines = ["", "mailnode up", "  \(header)"]
        lines.append("  mx          listening on \(bound.joined(separator: ", ")) (SMTP, \(tls)) for \(domains.joined(separator: ", "))")
        if configuration.hasNextHop {
            lines.append("  forwarding  \(configuration.routing.defaultHop.map { "\($0)" } ?? "by [routes]")")
        } else {
            lines.append("  spool       \(configuration.spoolDirectory) (accepted mail stays here: no next hop yet)")
        }
        lines.append("  absent      \(MailNode.plannedRoles.joined(separator: ", ")) (not built yet)")
        let sample = domains.contains(DevelopmentSetup.sampleDomain) ? DevelopmentSetup.sampleDomain : domains.first
        if let first = bound.first, let domain = sample {
            let parts = first.split(separator: ":")
            let port = parts.last.map(String.init) ?? "2525"
            lines.append("")
            lines.append("Send a first message:")
            lines.append("  swaks --server 127.0.0.1:\(port) --to postmaster@\(domain)\(tls == "STARTTLS" ? " --tls" : "")")
        }
        lines.append("")
        return lines.joined(separator: "\n")
    }
}

extension BareLineEndingPolicy: ExpressibleByArgument {}
