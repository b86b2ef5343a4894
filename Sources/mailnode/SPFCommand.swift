import ArgumentParser
import Defenses
import Foundation

/// `mailnode spf record`: the SPF record ([RFC 7208](https://www.rfc-editor.org/rfc/rfc7208))
/// a sending domain needs for the addresses the outbound role sends from (DM30), and with
/// `--check` whether the published record already covers them.
struct SPFCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "spf",
        abstract: "Print the SPF record your outbound addresses need (RFC 7208), or check the published one.",
        subcommands: [SPFRecordCommand.self])
}

/// `mailnode spf record --domain D [--ip A]... [--include X]... [--soft] [--check [--dns H:P]]`
struct SPFRecordCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "record",
        abstract: "Print the SPF TXT record for --domain that authorises the outbound addresses.",
        discussion: """
            Without --ip, the addresses are this machine's global unicast addresses (what the outbound \
            role sends from when it connects directly); behind NAT or a smarthost, name the public \
            addresses or the smarthost's include. With --check, the record published for --domain is \
            fetched and evaluated for every address instead: exit 0 when each gets pass, 1 otherwise.
            """)

    @Option(help: "The sending domain (the MAIL FROM domain and the DKIM/DMARC From domain).")
    var domain: String

    @Option(name: .customLong("ip"), help: "An address mail leaves from (repeat for several).")
    var addresses: [String] = []

    @Option(name: .customLong("include"), help: "Another domain's record to include, e.g. a smarthost provider's (repeat for several).")
    var includes: [String] = []

    @Flag(help: "End with ~all (softfail) instead of -all, while you test.")
    var soft = false

    @Flag(help: "Check the published record against the addresses instead of printing one.")
    var check = false

    @OptionGroup var server: DNSServerOption

    func validate() throws {
        for text in addresses where IPAddress(text) == nil {
            throw ValidationError("--ip must be an IPv4 or IPv6 address, got '\(text)'")
        }
        guard !domain.isEmpty, !domain.contains(" "), !domain.contains("@") else {
            throw ValidationError("--domain must be a domain name, got '\(domain)'")
        }
        guard includes.count <= 9 else { throw ValidationError("at most 9 --include: SPF allows 10 DNS look-ups in all (RFC 7208 §4.6.4)") }
    }

    func run() async throws {
        var ips = addresses.compactMap(IPAddress.init)
        if ips.isEmpty {
            ips = LocalInterfaceAddresses.globalUnicast()
            if ips.isEmpty && includes.isEmpty {
                FileHandle.standardError.write(Data("""
                    mailnode: this machine has no global address (behind NAT?); name the address your mail \
                    leaves from with --ip, or your smarthost's record with --include\n
                    """.utf8))
                throw ExitCode(2)
            }
        }
        if check {
            try await checkPublished(ips)
            return
        }
        let record = SPFRecordText.make(addresses: ips, includes: includes, soft: soft)
        print("\(domain.hasSuffix(".") ? domain : domain + ".") IN TXT \(SPFRecordText.quoted(record))")
    }

    /// Evaluates the published record for each address; exit 1 unless all pass.
    private func checkPublished(_ ips: [IPAddress]) async throws {
        let checker = SPFChecker(resolver: server.resolver())
        var allPass = true
        for ip in ips {
            let result = await checker.checkMailFrom(clientIP: ip, mailFrom: "postmaster@\(domain)", helo: domain)
            print("\(ip)\t\(result.result)\t\(result.explanation ?? result.trail.last ?? "")")
            if result.result != .pass { allPass = false }
        }
        if !allPass {
            print("the record for \(domain) does not authorise every address; publish:")
            print("  \(SPFRecordText.quoted(SPFRecordText.make(addresses: ips, includes: includes, soft: soft)))")
            throw ExitCode(1)
        }
    }
}

/// The record text: `v=spf1`, one `ip4:`/`ip6:` term per address, the includes, then `-all`.
enum SPFRecordText {
    static func make(addresses: [IPAddress], includes: [String], soft: Bool) -> String {
        var terms = ["v=spf1"]
        var seen = Set<IPAddress>()
        for address in addresses where seen.insert(address).inserted {
            switch address {
            case .v4(let v4): terms.append("ip4:\(v4)")
            case .v6(let v6): terms.append("ip6:\(v6)")
            }
        }
        terms += includes.map { "include:\($0)" }
        terms.append(soft ? "~all" : "-all")
        return terms.joined(separator: " ")
    }

    /// A TXT value in zone-file form: character-strings of at most 255 octets
    /// ([RFC 7208 §3.3](https://www.rfc-editor.org/rfc/rfc7208#section-3.3): joined without spaces).
    static func quoted(_ record: String) -> String {
        let bytes = Array(record.utf8)
        guard bytes.count > 255 else { return "\"\(record)\"" }
        let strings = stride(from: 0, to: bytes.count, by: 255).map {
            "\"\(String(decoding: bytes[$0..<min($0 + 255, bytes.count)], as: UTF8.self))\""
        }
        return "( " + strings.joined(separator: " ") + " )"
    }
}
