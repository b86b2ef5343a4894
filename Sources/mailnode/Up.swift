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
            configuration = try Mailnode.load(path, role: "all")
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
        let mxBound = Array(bound.prefix(configuration.mx?.listen.count ?? 0))
        let stages = configuration.stages()
        for stage in stages {
            let c = stage.configuration
            switch stage.role {
            case "mx":
                lines.append("  mx          \(mxBound.joined(separator: ", ")) (SMTP, \(tls)) for \(domains.joined(separator: ", "))")
            case "submission":
                let listen = (c.submission?.listen ?? []).map { "\($0)" } + (c.submission?.listenTLS ?? []).map { "\($0) (TLS)" }
                lines.append("  submission  \(listen.joined(separator: ", ")) (STARTTLS, AUTH required; users: mailnode users add)")
            case "antivirus":
                lines.append("  antivirus   \((c.antivirus?.listen ?? []).map { "\($0)" }.joined(separator: ", ")) (clamd: \(c.antivirus?.clamd.map { "\($0)" }.joined(separator: ", ") ?? "-"))")
            case "store":
                let pop3 = (c.store?.pop3Listen ?? []).map { "\($0) (STLS)" } + (c.store?.pop3sListen ?? []).map { "\($0) (TLS)" }
                lines.append("  store       \((c.store?.listen ?? []).map { "\($0)" }.joined(separator: ", ")) (\(c.store?.sessionProtocol.rawValue.uppercased() ?? "LMTP")), POP3 \(pop3.isEmpty ? "off" : pop3.joined(separator: ", "))")
            default:
                break
            }
            if stage.role != "store" {
                let hops = Set(c.routing.routes.values.map { "\($0)" } + (c.routing.defaultHop.map { ["\($0)"] } ?? [])).sorted()
                var target = hops.isEmpty ? "the spool \(c.spoolDirectory) (no next hop: mail stays there)" : hops.joined(separator: ", ")
                if !hops.isEmpty, c.routing.defaultHop == nil, stage.role != "mx" {
                    target += "; other domains stay in the spool (no [routes] \"*\")"
                }
                lines.append("              → " + target)
            }
        }
        let absent = MailNode.availableRoles.filter { !configuration.enabledRoles.contains($0) } + MailNode.plannedRoles
        lines.append("  absent      \(absent.joined(separator: ", "))")
        let sample = domains.contains(DevelopmentSetup.sampleDomain) ? DevelopmentSetup.sampleDomain : domains.first
        if let first = mxBound.first, let domain = sample {
            let port = first.split(separator: ":").last.map(String.init) ?? "2525"
            let swaksTLS = tls == "STARTTLS" ? " --tls" : ""
            lines.append("")
            if let store = stages.first(where: { $0.role == "store" })?.configuration.store {
                // The store refuses unknown users (and so does the mx, at RCPT): make one first.
                lines.append("Send a first message (the password comes from standard input):")
                lines.append("  mailnode users add you@\(domain) --directory \(store.usersPath)")
                lines.append("  swaks --server 127.0.0.1:\(port) --to you@\(domain)\(swaksTLS)")
                if let pop3s = store.pop3sListen.first {
                    lines.append("Read it over POP3 with TLS: \(pop3s) (user you@\(domain); self-signed certificate)")
                }
            } else {
                lines.append("Send a first message:")
                lines.append("  swaks --server 127.0.0.1:\(port) --to postmaster@\(domain)\(swaksTLS)")
            }
        }
        lines.append("")
        return lines.joined(separator: "\n")
    }
}

extension BareLineEndingPolicy: ExpressibleByArgument {}
