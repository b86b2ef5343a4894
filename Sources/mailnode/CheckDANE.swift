import ArgumentParser
import Defenses
import Foundation
import Logging
import NIOPosix
import SMTPCore

/// `mailnode check dane example.org [--dns H:P] [--port 25] [--connect]`: a domain's DANE as the
/// outbound stage sees it ([RFC 7672](https://www.rfc-editor.org/rfc/rfc7672)): whether its MX
/// RRset is DNSSEC-validated, each exchanger's TLSA records and what the stage does with them;
/// with `--connect`, a STARTTLS session to each address and whether the certificate matches
/// (as Postfix's `posttls-finger` does).
struct CheckDANE: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dane",
        abstract: "Show a domain's DANE TLSA records (RFC 7672) as the outbound stage uses them; --connect checks the certificates.",
        discussion: """
            The AD bit is believed only from a resolver on loopback (a validating unbound, say) or \
            with resolv.conf's `options trust-ad`; with any other resolver nothing is validated and \
            DANE does not apply.
            """)

    @Argument(help: "The recipient domain, e.g. example.org.")
    var name: String

    @OptionGroup var server: DNSServerOption

    @Option(help: "The mail exchangers' port, in the TLSA name and for --connect (25; other values for tests).")
    var port: Int = 25

    @Flag(help: "Connect to each exchanger address, STARTTLS, and check its certificate against the records.")
    var connect = false

    @Option(help: "The name to say in EHLO with --connect.")
    var helo = "localhost"

    func validate() throws {
        guard !name.isEmpty, !name.contains(where: { $0 == " " || $0 == "@" }) else {
            throw ValidationError("NAME must be a domain name, got '\(name)'")
        }
        guard (1...65535).contains(port) else { throw ValidationError("--port must be 1–65535") }
    }

    func run() async throws {
        let dns = server.resolver()
        let domain = MXDestinationResolver.hostName(name)
        var lines: [String] = []
        do {
            let answer = try await dns.lookupMX(domain)
            lines.append("MX: " + (answer.authenticated ? "DNSSEC-validated" : "not validated (DANE does not apply)"))
        } catch {
            switch error {
            case .noData(let negative):
                lines.append("MX: none, implicit MX \(domain); absence " + (negative.authenticated ? "DNSSEC-validated" : "not validated (DANE does not apply)"))
            default:
                lines.append("MX: \(error)")
            }
        }
        var resolver = MXDestinationResolver(dns: dns, port: port, tls: .opportunistic)
        resolver.tlsPolicy = TLSPolicyTable([domain: .dane])
        let destination = await resolver.destination(for: domain)
        guard case .hosts(let hops) = destination else {
            switch destination {
            case .temporaryFailure(let reason), .securityDeferral(let reason): lines.append("delivery: deferred: \(reason)")
            case .noMailHost(let reason), .loopsBack(let reason): lines.append("delivery: fails: \(reason)")
            case .nullMX: lines.append("delivery: fails: the domain publishes a null MX (RFC 7505)")
            case .hosts: break
            }
            print(lines.joined(separator: "\n"))
            return
        }
        for hop in hops {
            guard let dane = hop.dane else {
                let level = hop.tls == .required ? "STARTTLS required, certificate unchecked (TLSA records, none usable)"
                    : "no validated TLSA records: opportunistic STARTTLS"
                lines.append("  \(hop.name) \(hop.host): \(level)")
                continue
            }
            lines.append("  \(hop.name) \(hop.host): DANE, TLSA \(dane.ownerName)")
            lines += dane.records.map { "    \($0)" }
            if connect { lines.append("    " + (await Self.probe(hop, dane: dane, helo: helo))) }
        }
        print(lines.joined(separator: "\n"))
    }

    /// One STARTTLS session checked against `dane`.
    static func probe(_ hop: NextHop, dane: DANEAuthentication, helo: String) async -> String {
        var client = SMTPClientConfiguration()
        client.heloName = .domain(helo)
        client.tls = .dane(dane)
        client.timeouts = .uniform(.seconds(30))
        do {
            let connection = try await SMTPClientConnection.connect(host: hop.host, port: hop.port, configuration: client,
                                                                    group: MultiThreadedEventLoopGroup.singleton,
                                                                    logger: CheckOutput.quietLogger)
            try? await connection.quit()
            return "certificate: matches (TLS established)"
        } catch {
            return "certificate: \(error)"
        }
    }
}
