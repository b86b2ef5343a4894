import ArgumentParser
import Defenses
import Foundation

/// `mailnode tlsrpt report`: TLS reports (RFC 8460) from the outbound stage's session records
/// (`outbound.tls_reports`; docs/outbound.md, "TLS-RPT data").
struct TLSRPTCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tlsrpt",
        abstract: "Build TLS reports (RFC 8460) from the outbound stage's records.",
        subcommands: [TLSRPTReport.self])
}

/// `mailnode tlsrpt report --org-name N --contact C [--day YYYY-MM-DD] [--records DIR] [--out DIR] [--domain D]`
struct TLSRPTReport: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write one TLS report (JSON, RFC 8460 §4) per recipient domain for one UTC day.",
        discussion: """
            Reads DIR/YYYY-MM-DD.jsonl and writes sender!domain!begin!end.json into --out, printing one \
            line per report. With --send, each report is also gzipped and mailed (RFC 8460 §5.3) to the             mailto: addresses of the domain's _smtp._tls TXT record, through --via (https: destinations             are not posted to yet).
            """)

    @Option(help: "The records directory (default: mailnode-data/spool/tls-rpt when it exists, else /var/spool/mailnode/tls-rpt).")
    var records: String?

    @Option(help: "The UTC day to report, YYYY-MM-DD (default: yesterday).")
    var day: String?

    @Option(name: .customLong("org-name"), help: "organization-name: your organisation.")
    var organization: String

    @Option(help: "contact-info: where domain owners can reach you (an address or URL).")
    var contact: String

    @Option(help: "Your sending domain, the first part of the file names.")
    var sender: String

    @Option(help: "Report only this recipient domain.")
    var domain: String?

    @Option(help: "Directory to write the reports to.")
    var out: String = "."

    @OptionGroup var sending: ReportSendingOptions

    @OptionGroup var server: DNSServerOption

    func validate() throws {
        if let day, UTCDay.day(named: day) == nil { throw ValidationError("--day must be a date YYYY-MM-DD, got '\(day)'") }
    }

    func run() async throws {
        let directory = records ?? (FileManager.default.fileExists(atPath: "mailnode-data/spool/tls-rpt")
            ? "mailnode-data/spool/tls-rpt" : "/var/spool/mailnode/tls-rpt")
        guard FileManager.default.fileExists(atPath: directory) else {
            FileHandle.standardError.write(Data("mailnode: \(directory): no TLS report records directory\n".utf8))
            throw ExitCode(2)
        }
        let first = day.flatMap { UTCDay.day(named: $0) } ?? UTCDay.day(of: Int64(Date().timeIntervalSince1970)) - 1
        let begin = UTCDay.start(of: first), end = begin + 86_400
        let store = try TLSReportFileStore(directory: directory)
        let all = try await store.records(from: begin, to: end)
        var domains = Array(Set(all.map { $0.domain.lowercased() })).sorted()
        if let domain { domains = domains.filter { $0 == domain.lowercased() } }
        for name in domains {
            guard let report = TLSReport(organization: organization, contact: contact, reportID: "\(begin).\(name)", begin: begin,
                                         end: end, domain: name, sender: sender,
                                         records: all.filter { $0.domain.lowercased() == name }) else { continue }
            let path = (out as NSString).appendingPathComponent(report.fileName)
            guard FileManager.default.createFile(atPath: path, contents: report.json) else {
                FileHandle.standardError.write(Data("mailnode: cannot write \(path)\n".utf8))
                throw ExitCode(1)
            }
            print("\(path)\tsuccessful=\(report.successCount)\tfailed=\(report.failureCount)")
            guard sending.send, let from = sending.from else { continue }
            guard let destinations = await ReportDestinations.tlsReport(domain: name, dns: server.resolver()) else {
                print("  not sent: _smtp._tls.\(name) has no TLSRPTv1 record")
                continue
            }
            if !destinations.https.isEmpty { print("  skipped \(destinations.https.joined(separator: ", ")) (https: not supported yet)") }
            let line = await sending.submit({ try ReportMessage.tls(report, from: from, to: $0) }, to: destinations.mailto)
            print("  " + line)
        }
        if domains.isEmpty { print("no records for \(UTCDay.name(of: first))") }
    }
}
