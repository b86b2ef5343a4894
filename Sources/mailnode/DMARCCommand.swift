import ArgumentParser
import Defenses
import Foundation

/// `mailnode dmarc report`: DMARC aggregate reports from the records the mx keeps
/// (`[mx.authentication] dmarc_records`; docs/dmarc.md, "Aggregate reports").
struct DMARCCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dmarc",
        abstract: "Build DMARC aggregate reports (RFC 7489 §7.2) from the mx's records.",
        subcommands: [DMARCReport.self])
}

/// `mailnode dmarc report --org-name N --email A [--day YYYY-MM-DD] [--records DIR] [--out DIR] [--domain D]`
struct DMARCReport: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write one aggregate report (XML, RFC 7489 Appendix C) per policy domain for one UTC day.",
        discussion: """
            Reads DIR/YYYY-MM-DD.jsonl, groups the day's messages per policy domain and writes \
            receiver!domain!begin!end.xml into --out, printing one line per report. With --send, each report \
            is also gzipped and mailed (§7.2.1.1) to the mailto: rua addresses of the domain's policy that \
            accept it (§7.1: an address outside the domain must publish D._report._dmarc.ITS-DOMAIN) and \
            whose size limit it fits, through --via.
            """)

    @Option(help: "The records directory (default: mailnode-data/spool/dmarc when it exists, else /var/spool/mailnode/dmarc).")
    var records: String?

    @Option(help: "The UTC day to report, YYYY-MM-DD (default: yesterday).")
    var day: String?

    @Option(name: .customLong("org-name"), help: "report_metadata/org_name: your organisation.")
    var organization: String

    @Option(help: "report_metadata/email: where domain owners can reach you.")
    var email: String

    @Option(name: .customLong("extra-contact"), help: "report_metadata/extra_contact_info (optional).")
    var extraContact: String?

    @Option(help: "The receiving domain in the file names (default: the domain of --email).")
    var receiver: String?

    @Option(help: "Report only this policy domain.")
    var domain: String?

    @Option(help: "Directory to write the reports to.")
    var out: String = "."

    @Flag(help: "Remove the records older than the reported day's end afterwards.")
    var prune = false

    @OptionGroup var sending: ReportSendingOptions

    @OptionGroup var server: DNSServerOption

    func validate() throws {
        if let day, UTCDay.day(named: day) == nil { throw ValidationError("--day must be a date YYYY-MM-DD, got '\(day)'") }
        guard email.contains("@") else { throw ValidationError("--email must be an address, got '\(email)'") }
    }

    func run() async throws {
        let directory = records ?? (FileManager.default.fileExists(atPath: "mailnode-data/spool/dmarc")
            ? "mailnode-data/spool/dmarc" : "/var/spool/mailnode/dmarc")
        guard FileManager.default.fileExists(atPath: directory) else {
            FileHandle.standardError.write(Data("mailnode: \(directory): no DMARC records directory\n".utf8))
            throw ExitCode(2)
        }
        let begin: Int64
        if let day, let start = UTCDay.day(named: day) {
            begin = UTCDay.start(of: start)
        } else {
            begin = UTCDay.start(of: UTCDay.day(of: Int64(Date().timeIntervalSince1970)) - 1)
        }
        let end = begin + 86_400
        let store = try DMARCReportFileStore(directory: directory)
        let reporter = DMARCAggregateReport.Reporter(
            organization: organization, email: email, extraContact: extraContact,
            domain: receiver ?? String(email[email.index(after: email.lastIndex(of: "@")!)...]))
        var domains = try await store.policyDomains(from: begin, to: end)
        if let domain { domains = domains.filter { $0 == domain.lowercased() } }
        var written = 0
        for policyDomain in domains {
            let records = try await store.records(policyDomain: policyDomain, from: begin, to: end)
            guard let report = DMARCAggregateReport(reporter: reporter, reportID: "\(begin).\(policyDomain)", begin: begin, end: end,
                                                    policyDomain: policyDomain, records: records) else { continue }
            let path = (out as NSString).appendingPathComponent(report.fileName)
            guard FileManager.default.createFile(atPath: path, contents: Data(report.xml.utf8)) else {
                FileHandle.standardError.write(Data("mailnode: cannot write \(path)\n".utf8))
                throw ExitCode(1)
            }
            let rua = report.policyPublished.aggregateReportURIs
            print("\(path)\tmessages=\(report.messageCount)\trows=\(report.rows.count)\trua=\(rua.isEmpty ? "-" : rua.joined(separator: ","))")
            if sending.send, let from = sending.from {
                var accepted: [ReportAddress] = []
                for address in ReportDestinations.dmarc(rua) {
                    if await ReportDestinations.acceptsDMARCReports(address, about: policyDomain, dns: server.resolver()) {
                        accepted.append(address)
                    } else {
                        print("  skipped \(address.address): \(policyDomain)._report._dmarc.\(address.domain) does not authorise it (RFC 7489 §7.1)")
                    }
                }
                print("  " + (await sending.submit({ try ReportMessage.dmarc(report, from: from, to: $0) }, to: accepted)))
            }
            written += 1
        }
        let skipped = store.skippedLines
        if skipped > 0 { FileHandle.standardError.write(Data("mailnode: \(skipped) unreadable record lines skipped\n".utf8)) }
        if written == 0 { print("no records for \(UTCDay.name(of: UTCDay.day(of: begin)))") }
        if prune { try await store.removeRecords(before: end) }
    }
}
