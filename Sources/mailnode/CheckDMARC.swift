import ArgumentParser
import Defenses
import Foundation

/// `mailnode check dmarc --ip IP --mail-from ADDR [--helo NAME] [--dns HOST:PORT] < message.eml`:
/// SPF for the envelope, DKIM for every signature, then DMARC ([RFC 7489](https://www.rfc-editor.org/rfc/rfc7489))
/// for the From domain — alignment, result and disposition — printed with the
/// `Authentication-Results` field a stage would add and the reasoning trail of each check.
///
/// Forged `Authentication-Results` fields claiming `--receiver` are counted (and would be removed
/// by a stage, RFC 8601 §5). The report would be recorded for an aggregate report; here its line is
/// printed.
struct CheckDMARC: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dmarc",
        abstract: "Evaluate SPF, DKIM and DMARC (RFC 7489) for a message on standard input; print alignment, result, disposition and Authentication-Results.")

    @Option(help: "The client's IP address.")
    var ip: String

    @Option(help: "The MAIL FROM address; empty or <> for the null sender.")
    var mailFrom: String

    @Option(help: "The HELO/EHLO name (default: the MAIL FROM domain; required for the null sender).")
    var helo: String?

    @OptionGroup var server: DNSServerOption

    @Option(help: "Our name in the header (authserv-id).")
    var receiver: String = "localhost"

    func validate() throws {
        guard IPAddress(ip) != nil else { throw ValidationError("--ip must be an IPv4 or IPv6 address, got '\(ip)'") }
        if helo == nil, heloName == nil { throw ValidationError("give --helo for the null sender") }
    }

    /// `--helo`, else the MAIL FROM domain.
    var heloName: String? {
        if let helo { return helo }
        let trimmed = mailFrom.trimmingCharacters(in: CharacterSet(charactersIn: "<> "))
        guard let at = trimmed.lastIndex(of: "@") else { return nil }
        let domain = trimmed[trimmed.index(after: at)...]
        return domain.isEmpty ? nil : String(domain)
    }

    func run() async throws {
        let resolver = server.resolver()
        let clientIP = IPAddress(ip)!
        let dkimVerifier = DKIMVerifier(resolver: resolver)
        var pending: DKIMPendingVerification?
        let header = try CheckMessage.read { header, body in
            if pending == nil { pending = dkimVerifier.begin(header: header) }
            pending?.update(body)
        }
        let forged = ForgedAuthenticationResults(authservID: receiver).removing(from: header)

        async let spfResult = SPFChecker(resolver: resolver).verify(clientIP: clientIP, mailFrom: mailFrom, helo: heloName ?? "")
        async let dkimResults = dkimVerifier.finish(pending ?? dkimVerifier.begin(header: header))
        let (spf, dkim) = await (spfResult, dkimResults)
        let dmarc = await DMARCVerifier(resolver: resolver).evaluate(header: forged.header, spf: spf.mailFrom, dkim: dkim)

        var lines: [String] = []
        let check = spf.mailFrom
        lines.append("SPF: \(check.result) for \(check.sender.domain) (\(check.identity == .mailFrom && !mailFromIsNull ? "MAIL FROM" : "HELO, null sender"))")
        if dkim.isEmpty { lines.append("DKIM: no signature") }
        for (index, verification) in dkim.enumerated() { lines.append("DKIM signature \(index + 1): \(verification)") }
        lines.append("From: \(dmarc.fromDomain ?? "(none)")" + (dmarc.organizationalDomain.map { ", organisational domain \($0)" } ?? ""))
        if let record = dmarc.record {
            lines.append("policy: \"\(record.text)\" at _dmarc.\(dmarc.policyDomain ?? "")")
            lines.append("alignment: SPF \(Self.alignment(dmarc.spf, mode: record.spfAlignment)); DKIM "
                + (dmarc.dkim.isEmpty ? "no signature" : dmarc.dkim.map { Self.alignment($0, mode: record.dkimAlignment) }.joined(separator: ", ")))
        }
        var summary = "DMARC: result \(dmarc.result), disposition \(dmarc.disposition)"
        if let source = dmarc.policySource, let policy = dmarc.requestedPolicy { summary += " (\(source)=\(policy)\(dmarc.sampledOut ? ", lowered by pct" : ""))" }
        if let reason = dmarc.reason { summary += " — \(reason)" }
        lines.append(summary)
        if forged.removed > 0 { lines.append("removed \(forged.removed) Authentication-Results field(s) claiming \(receiver) (RFC 8601 §5)") }

        var results = AuthenticationResults(authservID: receiver)
        results.append(.spf(check))
        results.append(dkim: dkim)
        results.append(.dmarc(dmarc))
        lines.append(results.field.description)
        if let report = DMARCAggregateRecord(dmarc, sourceIP: clientIP, spf: check, envelopeFrom: mailFromIsNull ? "" : nil) {
            lines.append("report record: source \(report.sourceIP) header_from \(report.headerFrom) disposition \(report.disposition) "
                + "dkim \(report.dkimAligned ? "pass" : "fail") spf \(report.spfAligned ? "pass" : "fail")"
                + (report.overrideReasons.isEmpty ? "" : " reason \(report.overrideReasons.joined(separator: ","))")
                + " envelope_from \(report.envelopeFrom.map { $0.isEmpty ? "<>" : $0 } ?? "-") scope \(report.spfScope ?? "-")"
                + " → rua \(report.policyPublished.aggregateReportURIs.isEmpty ? "(none)" : report.policyPublished.aggregateReportURIs.joined(separator: ","))")
        }
        lines += CheckOutput.section("trail (SPF \(check.identity) \(check.sender)):", trail: check.trail)
        for verification in dkim where verification.result != .pass {
            lines.append("DKIM \(verification.domain ?? "?"): \(verification.reason ?? verification.result.rawValue)")
        }
        lines += CheckOutput.section("trail (DMARC):", trail: dmarc.trail)
        print(lines.joined(separator: "\n"))
    }

    private var mailFromIsNull: Bool {
        mailFrom.trimmingCharacters(in: CharacterSet(charactersIn: "<> ")).isEmpty
    }

    static func alignment(_ identifier: DMARCIdentifierAlignment?, mode: DMARCAlignmentMode) -> String {
        guard let identifier else { return "no result" }
        return "\(identifier.domain) \(identifier.result), \(identifier.aligned ? "aligned" : "not aligned") (\(mode))"
    }
}
