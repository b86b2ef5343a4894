import ArgumentParser
import Defenses
import SMTPCore

/// `mailnode check domain example.org [--ip 192.0.2.1]`: the DM19 checks that take a domain, as
/// the defense runs them, with their trails:
///
/// - as a MAIL FROM domain: can it receive mail (MX, else A/AAAA as the implicit MX of
///   [RFC 5321 §5.1](https://www.rfc-editor.org/rfc/rfc5321#section-5.1); a null MX of
///   [RFC 7505](https://www.rfc-editor.org/rfc/rfc7505) says it never does)?
/// - as a HELO name: a fully-qualified name that resolves
///   ([RFC 5321 §4.1.1.1](https://www.rfc-editor.org/rfc/rfc5321#section-4.1.1.1)); with `--ip`,
///   whether its addresses include the client's (information only, RFC 5321 §4.1.4).
struct CheckDomain: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "domain",
        abstract: "Check a domain as a sender domain (MX, implicit MX, null MX) and as a HELO name; print results and trails.")

    @Argument(help: "The domain, e.g. example.org (U-labels are converted with IDNA).")
    var name: String

    @Option(help: "A client IP address to compare the HELO name's addresses with.")
    var ip: String?

    @OptionGroup var server: DNSServerOption

    func validate() throws {
        if let ip, IPAddress(ip) == nil { throw ValidationError("--ip must be an IPv4 or IPv6 address, got '\(ip)'") }
        guard !name.isEmpty, !name.contains(where: { $0 == " " || $0 == "@" }) else {
            throw ValidationError("NAME must be a domain name, got '\(name)'")
        }
    }

    func run() async throws {
        let checker = SenderChecker(resolver: server.resolver())
        async let sender = checker.checkSenderDomain(name)
        async let helo = checker.checkHELO(.domain(name), clientIP: ip.flatMap(IPAddress.init))
        let (domain, heloName) = await (sender, helo)
        var lines = CheckOutput.section("sender domain: \(domain.result)\(Self.hosts(domain))", trail: domain.trail)
        lines += CheckOutput.section("HELO name: \(heloName.result)\(Self.match(heloName))", trail: heloName.trail)
        print(lines.joined(separator: "\n"))
    }

    static func hosts(_ check: SenderDomainCheck) -> String {
        check.mailHosts.isEmpty ? "" : " (mail hosts: \(check.mailHosts.joined(separator: ", ")))"
    }

    static func match(_ check: HELOCheck) -> String {
        switch check.matchesClient {
        case true?: " (its addresses include the client)"
        case false?: " (its addresses do not include the client)"
        case nil: ""
        }
    }
}
