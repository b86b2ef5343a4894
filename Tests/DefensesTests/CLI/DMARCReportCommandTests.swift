import Foundation
import Testing

@testable import Defenses

/// `mailnode dmarc report` as a process over a records directory written by the node's
/// ``DMARCReportFileStore``; the reports are read back by outside parsers (Python's
/// `xml.etree`, libxml2's `xmllint`).
@Suite struct DMARCReportCommandTests {
    static let day: Int64 = DMARCReportFileStoreTests.dayStart

    /// Element paths and texts of a report, printed as JSON by Python.
    static let summary = """
        import json, sys, xml.etree.ElementTree as ET
        root = ET.parse(sys.argv[1]).getroot()
        out = {"root": root.tag,
               "org": root.findtext("report_metadata/org_name"),
               "begin": root.findtext("report_metadata/date_range/begin"),
               "end": root.findtext("report_metadata/date_range/end"),
               "domain": root.findtext("policy_published/domain"),
               "p": root.findtext("policy_published/p"),
               "rows": [" ".join([r.findtext("row/source_ip"), r.findtext("row/count"),
                         r.findtext("row/policy_evaluated/disposition"), r.findtext("row/policy_evaluated/dkim"),
                         r.findtext("row/policy_evaluated/spf"), r.findtext("identifiers/header_from"),
                         ",".join(d.findtext("result") for d in r.findall("auth_results/dkim")),
                         r.findtext("auth_results/spf/result")]) for r in root.findall("record")]}
        print(json.dumps(out))
        """

    @Test func writesOneReportPerPolicyDomainThatOutsideParsersRead() async throws {
        try CheckCommand.requireBinary()
        let records = DMARCReportFileStoreTests.directory()
        let out = DMARCReportFileStoreTests.directory()
        defer { for path in [records, out] { try? FileManager.default.removeItem(atPath: path) } }
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let store = try DMARCReportFileStore(directory: records)
        for offset: Int64 in [10, 20, 30] { try await store.append(DMARCReportFileStoreTests.record(date: Self.day + offset)) }
        try await store.append(DMARCReportFileStoreTests.record(date: Self.day + 40, ip: "198.51.100.9", disposition: .reject,
                                                                dkim: "fail", spf: "fail"))
        var other = DMARCReportFileStoreTests.record(date: Self.day + 50, from: "news.example.net")
        other.policyDomain = "example.net"
        try await store.append(other)
        try await store.append(DMARCReportFileStoreTests.record(date: Self.day + 86_400 + 5))  // the next day: not reported

        let (status, output) = try await CheckCommand.run([
            "dmarc", "report", "--records", records, "--day", "2026-12-03", "--org-name", "Example & Co",
            "--email", "dmarc@mx.test", "--out", out,
        ])
        #expect(status == 0, "\(output)")
        #expect(output.contains("mx.test!example.org!1796256000!1796342400.xml\tmessages=4\trows=2\trua=mailto:dmarc@example.org"))
        #expect(output.contains("mx.test!example.net!1796256000!1796342400.xml\tmessages=1\trows=1"))
        let file = out + "/mx.test!example.org!1796256000!1796342400.xml"

        let python = try await offThePool { try DKIMPython.interpreter.get() }
        let parsed = try await CheckCommand.run(executable: python.path, ["-c", Self.summary, file])
        #expect(parsed.status == 0, "\(parsed.output)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(parsed.output.utf8)) as? [String: Any])
        #expect(json["root"] as? String == "feedback" && json["org"] as? String == "Example & Co")
        #expect(json["begin"] as? String == "1796256000" && json["end"] as? String == "1796342400")
        #expect(json["domain"] as? String == "example.org" && json["p"] as? String == "reject")
        #expect(json["rows"] as? [String] == [
            "192.0.2.1 3 none pass fail example.org pass pass",
            "198.51.100.9 1 reject fail fail example.org fail fail",
        ])

        let lint = try await CheckCommand.run(executable: "/usr/bin/xmllint", ["--noout", file])
        #expect(lint.status == 0, "xmllint: \(lint.output)")
    }

    @Test func aDayWithoutRecordsAndBadArgumentsAreSaidSo() async throws {
        try CheckCommand.requireBinary()
        let records = DMARCReportFileStoreTests.directory()
        defer { try? FileManager.default.removeItem(atPath: records) }
        try FileManager.default.createDirectory(atPath: records, withIntermediateDirectories: true)
        let empty = try await CheckCommand.run(["dmarc", "report", "--records", records, "--day", "2026-12-01",
                                                "--org-name", "o", "--email", "d@mx.test", "--out", records])
        #expect(empty.status == 0 && empty.output.contains("no records for 2026-12-01"))
        let badDay = try await CheckCommand.run(["dmarc", "report", "--records", records, "--day", "2026-13-01",
                                                 "--org-name", "o", "--email", "d@mx.test"])
        #expect(badDay.status == 64 && badDay.output.contains("--day must be a date"))
        let missing = try await CheckCommand.run(["dmarc", "report", "--records", records + "/nope", "--org-name", "o", "--email", "d@mx.test"])
        #expect(missing.status == 2 && missing.output.contains("no DMARC records directory"))
    }
}
