import ArgumentParser
import Defenses
import Logging

/// `--dns HOST:PORT`, shared by the `check` subcommands.
struct DNSServerOption: ParsableArguments {
    @Option(help: "DNS server host:port (default: the nameservers of /etc/resolv.conf).")
    var dns: String?

    func validate() throws {
        if let dns, DNSServerAddress(dns) == nil { throw ValidationError("--dns must be host:port, got '\(dns)'") }
    }

    /// A resolver asking the given server, or the system's.
    func resolver() -> LDNSResolver {
        let configuration = dns.flatMap(DNSServerAddress.init).map { DNSResolverConfiguration(nameservers: [$0]) }
            ?? DNSResolverConfiguration.system()
        return LDNSResolver(configuration: configuration)
    }
}

/// How the `check` subcommands print: a heading line per check, its trail indented below it.
enum CheckOutput {
    /// `heading`, then each trail line indented by two spaces.
    static func section(_ heading: String, trail: [String]) -> [String] {
        [heading] + trail.map { "  " + $0 }
    }

    /// The checks log what they find for a node's operator; here the trail says it all, so the
    /// log stays quiet instead of interleaving with the report.
    static let quietLogger = Logger(label: "mailnode.check", factory: { _ in SwiftLogNoOpLogHandler() })
}
