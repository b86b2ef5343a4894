import ArgumentParser
import Defenses
import Foundation
import SMTPCore

/// `mailnode check mta-sts example.org [--dns H:P]`: a domain's MTA-STS as the outbound stage
/// sees it ([RFC 8461](https://www.rfc-editor.org/rfc/rfc8461)): the `_mta-sts` record, the
/// policy fetched over verified HTTPS, and which of the domain's mail exchangers it allows.
struct CheckMTASTS: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mta-sts",
        abstract: "Fetch a domain's MTA-STS record and policy (RFC 8461); say which of its MX hosts the policy allows.")

    @Argument(help: "The recipient domain, e.g. example.org.")
    var name: String

    @OptionGroup var server: DNSServerOption

    @Option(name: .customLong("ca-file"), help: "PEM certificate authorities for the policy host (default: the system store).")
    var caFile: String?

    @Option(name: .customLong("https-port"), help: "The policy host's port (443; other values for tests).")
    var httpsPort: Int = 443

    func validate() throws {
        guard !name.isEmpty, !name.contains(where: { $0 == " " || $0 == "@" }) else {
            throw ValidationError("NAME must be a domain name, got '\(name)'")
        }
        guard (1...65535).contains(httpsPort) else { throw ValidationError("--https-port must be 1–65535") }
    }

    func run() async throws {
        let dns = server.resolver()
        let domain = MXDestinationResolver.hostName(name)
        var lines: [String] = []
        var texts: [String] = []
        do {
            texts = try await dns.lookupTXT("_mta-sts." + domain).records.map(\.text)
        } catch {
            switch error {
            case .nxdomain, .noData: break
            default:
                print("record: temperror (_mta-sts.\(domain): \(error))")
                return
            }
        }
        guard let record = MTASTSRecord.select(texts) else {
            lines.append(texts.isEmpty ? "record: none (_mta-sts.\(domain) has no TXT record): no MTA-STS"
                : "record: invalid (\(texts.joined(separator: " | "))): no MTA-STS")
            print(lines.joined(separator: "\n"))
            return
        }
        lines.append("record: v=STSv1 id=\(record.id)")
        let fetcher = HTTPSPolicyFetcher(dns: dns, port: httpsPort, trustRoots: caFile.map { .file($0) } ?? .default)
        let policy: MTASTSPolicy
        do {
            let body = try await fetcher.fetch(domain: domain)
            policy = try MTASTSPolicy.parse(body)
        } catch {
            lines.append("policy: not usable (\(error)): delivery goes on as without MTA-STS unless a cached policy is valid")
            print(lines.joined(separator: "\n"))
            return
        }
        lines.append("policy: mode \(policy.mode), max_age \(policy.maxAge) s, mx \(policy.mx.joined(separator: ", "))")
        do {
            let answer = try await dns.lookupMX(domain)
            for mx in answer.records where !mx.isNullMX {
                let host = MXDestinationResolver.hostName(mx.exchange)
                lines.append("  MX \(mx.preference) \(host): \(policy.allows(host) ? "allowed" : "NOT allowed")")
            }
        } catch {
            if case .noData = error {
                lines.append("  implicit MX \(domain): \(policy.allows(domain) ? "allowed" : "NOT allowed")")
            } else {
                lines.append("  MX look-up: \(error)")
            }
        }
        print(lines.joined(separator: "\n"))
    }
}
