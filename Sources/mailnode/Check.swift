import ArgumentParser
import Defenses
import Foundation
import SMTPCore

/// `mailnode check …`: run one defense by hand against real DNS, as an operator would while
/// debugging a rejection.
struct Check: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a single check by hand.",
        subcommands: [CheckSPF.self, CheckDKIM.self])
}

/// `mailnode check spf --ip 192.0.2.1 --mail-from a@example.org --helo mail.example.org`
struct CheckSPF: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "spf",
        abstract: "Evaluate SPF (RFC 7208) for a client IP, MAIL FROM and HELO; print Received-SPF and Authentication-Results.")

    @Option(help: "The client's IP address.")
    var ip: String

    @Option(help: "The MAIL FROM address; empty or <> for the null sender.")
    var mailFrom: String

    @Option(help: "The HELO/EHLO name.")
    var helo: String

    @Option(help: "DNS server host:port (default: the nameservers of /etc/resolv.conf).")
    var dns: String?

    @Option(help: "Our name in the headers (authserv-id).")
    var receiver: String = "localhost"

    func validate() throws {
        guard IPAddress(ip) != nil else { throw ValidationError("--ip must be an IPv4 or IPv6 address, got '\(ip)'") }
        if let dns, DNSServerAddress(dns) == nil { throw ValidationError("--dns must be host:port, got '\(dns)'") }
    }

    func run() async throws {
        let configuration = dns.flatMap(DNSServerAddress.init).map { DNSResolverConfiguration(nameservers: [$0]) }
            ?? DNSResolverConfiguration.system()
        let checker = SPFChecker(resolver: LDNSResolver(configuration: configuration))
        let verification = await checker.verify(clientIP: IPAddress(ip)!, mailFrom: mailFrom, helo: helo)
        var lines: [String] = []
        if let heloCheck = verification.helo {
            lines.append("HELO \(heloCheck.domain): \(heloCheck.result)")
        }
        let check = verification.mailFrom
        lines.append(check.receivedSPFHeader(receiver: receiver))
        lines.append("Authentication-Results: \(receiver); \(check.authenticationResultsFragment)")
        print(lines.joined(separator: "\n"))
    }
}
