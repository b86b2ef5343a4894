import Foundation
import Testing

@testable import Defenses

/// The durable aggregate-report records (``DMARCReportFileStore``) and the report built from
/// them (``DMARCAggregateReport``).
@Suite struct DMARCReportFileStoreTests {
    static func directory() -> String { NSTemporaryDirectory() + "mailnode-dmarc-" + UUID().uuidString }

    /// 2026-12-03 00:00:00 UTC.
    static let dayStart: Int64 = 1_796_256_000

    static func record(date: Int64, ip: String = "192.0.2.1", from: String = "example.org", disposition: DMARCDisposition = .none,
                       dkim: String = "pass", spf: String = "pass", reasons: [String] = []) -> DMARCAggregateRecord {
        var policy = DMARCRecord(policy: .reject, subdomainPolicy: .quarantine, percentage: 50, dkimAlignment: .strict,
                                 aggregateReportURIs: ["mailto:dmarc@example.org"], failureOptions: ["1", "d"])
        policy.ignored = []
        return DMARCAggregateRecord(
            date: date, sourceIP: IPAddress(ip)!, headerFrom: from, envelopeFrom: "bounce.\(from)", policyDomain: "example.org",
            policyPublished: policy, disposition: disposition, dkimAligned: dkim == "pass", spfAligned: false,
            overrideReasons: reasons,
            dkim: [DMARCIdentifierAlignment(method: "dkim", domain: from, result: dkim, selector: "s1", aligned: dkim == "pass")],
            spf: DMARCIdentifierAlignment(method: "spf", domain: "bounce.\(from)", result: spf, aligned: false), spfScope: "mfrom")
    }

    @Test func utcDayNamesFollowTheCivilCalendar() {
        #expect(UTCDay.day(of: Self.dayStart) == 20_790)
        #expect(UTCDay.name(of: 20_790) == "2026-12-03")
        #expect(UTCDay.name(of: 0) == "1970-01-01")
        #expect(UTCDay.name(of: UTCDay.day(of: 951_782_400)) == "2000-02-29")
        #expect(UTCDay.day(named: "2026-12-03") == 20_790)
        #expect(UTCDay.day(named: "2026-02-30") == nil)
        #expect(UTCDay.day(named: "2026-2-03") == nil)
        #expect(UTCDay.day(of: -1) == -1)
    }

    @Test func recordsSurviveAReopenExactly() async throws {
        let directory = Self.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let original = Self.record(date: Self.dayStart + 3600, disposition: .quarantine, reasons: ["local_policy"])
        let store = try DMARCReportFileStore(directory: directory)
        try await store.append(original)
        try await store.append(Self.record(date: Self.dayStart + 86_400 + 5, ip: "2001:db8::1"))

        let names = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
        #expect(names == ["2026-12-03.jsonl", "2026-12-04.jsonl"])
        let attributes = try FileManager.default.attributesOfItem(atPath: directory + "/2026-12-03.jsonl")
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)

        let reopened = try DMARCReportFileStore(directory: directory)
        let first = try await reopened.records(policyDomain: "EXAMPLE.org", from: Self.dayStart, to: Self.dayStart + 86_400)
        #expect(first == [original])
        let both = try await reopened.records(policyDomain: "example.org", from: Self.dayStart, to: Self.dayStart + 2 * 86_400)
        #expect(both.map(\.sourceIP.description) == ["192.0.2.1", "2001:db8::1"])
        #expect(try await reopened.policyDomains(from: Self.dayStart, to: Self.dayStart + 2 * 86_400) == ["example.org"])
        #expect(try await reopened.records(policyDomain: "example.org", from: Self.dayStart + 7200, to: Self.dayStart + 86_400).isEmpty)
    }

    @Test func aTornOrForeignLineIsSkippedAndCounted() async throws {
        let directory = Self.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try DMARCReportFileStore(directory: directory)
        try await store.append(Self.record(date: Self.dayStart + 10))
        let handle = try #require(FileHandle(forWritingAtPath: directory + "/2026-12-03.jsonl"))
        try handle.seekToEnd()
        handle.write(Data("{\"t\":1796256020,\"ip\":\"not an address\",\"from\":\"x\"}\n{\"t\":17962".utf8))
        try handle.close()
        let records = try await store.records(policyDomain: "example.org", from: Self.dayStart, to: Self.dayStart + 86_400)
        #expect(records.count == 1)
        #expect(store.skippedLines == 2)
        // A new instance appending after the torn end starts a new line: its record is readable.
        let restarted = try DMARCReportFileStore(directory: directory)
        try await restarted.append(Self.record(date: Self.dayStart + 30))
        let after = try await restarted.records(policyDomain: "example.org", from: Self.dayStart, to: Self.dayStart + 86_400)
        let offsets: [Int64] = after.map { $0.date - Self.dayStart }
        #expect(offsets == [10, 30])
    }

    @Test func removingRecordsDropsWholeDaysAndRewritesTheCutDay() async throws {
        let directory = Self.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try DMARCReportFileStore(directory: directory)
        for offset: Int64 in [10, 86_400 + 10, 86_400 + 50_000, 2 * 86_400 + 1] {
            try await store.append(Self.record(date: Self.dayStart + offset))
        }
        try await store.removeRecords(before: Self.dayStart + 86_400 + 20_000)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).sorted() == ["2026-12-04.jsonl", "2026-12-05.jsonl"])
        let left = try await store.records(policyDomain: "example.org", from: 0, to: Self.dayStart + 3 * 86_400)
        let offsets: [Int64] = left.map { $0.date - Self.dayStart }
        #expect(offsets == [136_400, 172_801])
        // The store keeps appending to the rewritten day.
        try await store.append(Self.record(date: Self.dayStart + 86_400 + 60_000))
        #expect(try await store.records(policyDomain: "example.org", from: Self.dayStart + 86_400, to: Self.dayStart + 2 * 86_400).count == 2)
    }

    @Test func dayFilesPastTheRetentionGoWhenANewDayStarts() async throws {
        let directory = Self.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try DMARCReportFileStore(directory: directory, retentionDays: 2)
        for day: Int64 in 0..<4 { try await store.append(Self.record(date: Self.dayStart + day * 86_400)) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).sorted() == ["2026-12-05.jsonl", "2026-12-06.jsonl"])
    }

    @Test func theReportGroupsIdenticalMessagesIntoCountedRows() throws {
        let records = [
            Self.record(date: Self.dayStart + 1),
            Self.record(date: Self.dayStart + 2),
            Self.record(date: Self.dayStart + 3, ip: "198.51.100.7", disposition: .reject, dkim: "fail", spf: "softfail"),
            Self.record(date: Self.dayStart + 4),
            Self.record(date: Self.dayStart + 5, ip: "198.51.100.7", disposition: .none, dkim: "fail", spf: "fail",
                        reasons: ["trusted_forwarder"]),
        ]
        let reporter = DMARCAggregateReport.Reporter(organization: "Example & Co <mail>", email: "reports@mx.test", domain: "mx.test")
        let report = try #require(DMARCAggregateReport(reporter: reporter, reportID: "r1", begin: Self.dayStart, end: Self.dayStart + 86_400,
                                                       policyDomain: "example.org", records: records))
        #expect(report.messageCount == 5)
        #expect(report.rows.map(\.count) == [3, 1, 1])
        #expect(report.fileName == "mx.test!example.org!1796256000!1796342400.xml")
        let xml = report.xml
        #expect(xml.contains("<org_name>Example &amp; Co &lt;mail&gt;</org_name>"))
        #expect(xml.contains("<p>reject</p>") && xml.contains("<sp>quarantine</sp>") && xml.contains("<pct>50</pct>"))
        #expect(xml.contains("<adkim>s</adkim>") && xml.contains("<aspf>r</aspf>") && xml.contains("<fo>1:d</fo>"))
        #expect(xml.contains("<source_ip>198.51.100.7</source_ip>\n      <count>1</count>"))
        #expect(xml.contains("<type>trusted_forwarder</type>"))
        #expect(xml.contains("<result>softfail</result>"))
        #expect(DMARCAggregateReport(reporter: reporter, reportID: "r2", begin: 0, end: 1, policyDomain: "example.org", records: []) == nil)
    }

    @Test func theReportSaysSPFNoneWhenNoSPFResultWasKept() throws {
        var record = Self.record(date: Self.dayStart)
        record.spf = nil
        record.spfScope = nil
        let reporter = DMARCAggregateReport.Reporter(organization: "o", email: "e@mx.test", domain: "mx.test")
        let report = try #require(DMARCAggregateReport(reporter: reporter, reportID: "r", begin: 0, end: 1, policyDomain: "example.org",
                                                       records: [record]))
        #expect(report.xml.contains("<spf>\n        <domain>bounce.example.org</domain>\n        <scope>mfrom</scope>\n        <result>none</result>"))
    }
}
