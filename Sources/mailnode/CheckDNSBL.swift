import ArgumentParser
import Defenses

/// `mailnode check dnsbl --ip 192.0.2.99 --zone zen.example [--zone bl.example]`: asks DNS block
/// lists ([RFC 5782](https://www.rfc-editor.org/rfc/rfc5782)) about one address, as the DM20
/// defense would, and prints the verdict, the health check of each list
/// ([RFC 5782 §5](https://www.rfc-editor.org/rfc/rfc5782#section-5)) and every query with its answer.
///
/// Each zone is a block list with weight 1, every `127.0.0.0/8` answer counting (except the
/// `127.255.255.0/24` refusal codes), threshold 1: one listing makes the verdict `listed`.
struct CheckDNSBL: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dnsbl",
        abstract: "Ask DNS block lists (RFC 5782) about a client IP; print the verdict, health checks and every query.")

    @Option(help: "The client's IP address (IPv4 or IPv6).")
    var ip: String

    @Option(help: "A DNS list zone (repeat for several), e.g. zen.spamhaus.org.")
    var zone: [String]

    @OptionGroup var server: DNSServerOption

    func validate() throws {
        guard IPAddress(ip) != nil else { throw ValidationError("--ip must be an IPv4 or IPv6 address, got '\(ip)'") }
        guard !zone.isEmpty else { throw ValidationError("give at least one --zone") }
        for name in zone where name.isEmpty || name.hasPrefix(".") || name.contains(" ") {
            throw ValidationError("--zone must be a domain name, got '\(name)'")
        }
    }

    func run() async throws {
        let address = IPAddress(ip)!
        let zones = zone.map { DNSListZone($0) }
        let checker = DNSListChecker(
            resolver: server.resolver(), configuration: DNSListConfiguration(zones: zones), logger: CheckOutput.quietLogger)
        let family: DNSListTestFamily = if case .v4 = address.unmapped { .ipv4 } else { .ipv6 }
        var lines: [String] = []
        for list in zones {
            // The check would run these itself; asked first so their trail can be shown.
            let report = await checker.healthCheck(list, family: family)
            lines += CheckOutput.section("health \(report.description)", trail: report.trail)
        }
        let verdict = await checker.check(clientIP: address)
        lines += CheckOutput.section("lookups:", trail: verdict.lookups.map(\.description))
        lines.append("result: \(verdict.result) (\(Self.summary(verdict)))")
        print(lines.joined(separator: "\n"))
    }

    /// `score 2.0, threshold 1.0; listed by bl.example 127.0.0.2` and the like.
    static func summary(_ verdict: DNSListVerdict) -> String {
        var parts = ["score \(verdict.score), threshold \(verdict.threshold)"]
        let listings = verdict.listings.compactMap { lookup -> String? in
            guard case .listed(let codes, _) = lookup.outcome else { return nil }
            return "\(lookup.zone) \(codes.map(\.description).joined(separator: ","))"
        }
        if !listings.isEmpty { parts.append("listed by " + listings.joined(separator: ", ")) }
        if !verdict.unknownZones.isEmpty { parts.append("no answer from " + verdict.unknownZones.joined(separator: ", ")) }
        if !verdict.unusableZones.isEmpty { parts.append("unusable: " + verdict.unusableZones.joined(separator: ", ")) }
        return parts.joined(separator: "; ")
    }
}
