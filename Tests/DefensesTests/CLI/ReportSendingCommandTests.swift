import Foundation
import NIOCore
import SMTPCore
import Testing

@testable import Defenses

/// `mailnode tlsrpt report --send` and `mailnode dmarc report --send` as processes: the report
/// destinations come from the loopback DNS server, the mail goes to an in-process SMTP relay, and
/// Python's `email` and `gzip` modules take the received messages apart (MIME structure, the
/// fields RFC 8460 §5.3 and RFC 7489 §7.2.1.1 ask for, the attachment equal to the file written).
@Suite struct ReportSendingCommandTests {
    static let day: Int64 = DMARCReportFileStoreTests.dayStart

    static let zone = """
        $ORIGIN test.
        $TTL 300
        @ 3600 IN SOA ns.test. hostmaster.test. 1 3600 600 86400 60
        _smtp._tls.a        TXT "v=TLSRPTv1; rua=mailto:tlsrpt@a.test,https://reports.a.test/v1"
        _smtp._tls.b        TXT "v=TLSRPTv1;rua=mailto:b-reports@elsewhere.test"
        example.org._report._dmarc.thirdparty TXT "v=DMARC1"
        """

    /// The message's structure as text, and whether the gunzipped attachment equals `argv[2]`.
    static let dissect = """
        import email, gzip, sys
        from email import policy
        m = email.message_from_bytes(open(sys.argv[1], "rb").read(), policy=policy.default)
        out = [m.get_content_type(), m.get_param("report-type") or "-", m["Subject"],
               m.get("TLS-Report-Domain", "-"), m.get("TLS-Report-Submitter", "-"), m.get("TLS-Required", "-")]
        parts = list(m.iter_attachments())
        for part in parts:
            data = gzip.decompress(part.get_payload(decode=True))
            out.append("%s %s %s" % (part.get_content_type(), part.get_filename(), "same" if data == open(sys.argv[2], "rb").read() else "DIFFERENT"))
        text = [p for p in m.walk() if p.get_content_type() == "text/plain"]
        out.append("text parts: %d" % len(text))
        print("\\n".join(out))
        """

    static func dissect(_ message: String, attachment: String) async throws -> String {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("mailnode-report-\(UUID().uuidString).eml").path
        defer { try? FileManager.default.removeItem(atPath: file) }
        try message.write(toFile: file, atomically: true, encoding: .utf8)
        let python = try await offThePool { try DKIMPython.interpreter.get() }
        let result = try await CheckCommand.run(executable: python.path, ["-c", dissect, file, attachment])
        #expect(result.status == 0, "\(result.output)")
        return result.output
    }

    static func withZone<T>(_ body: (DNSTestServer) async throws -> T) async throws -> T {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mailnode-reportzone-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try (zone + "\n").write(to: directory.appendingPathComponent("test.zone"), atomically: true, encoding: .utf8)
        return try await withDNSTestServer(zones: directory, body)
    }

    @Test func tlsReportsAreMailedToTheRuaOfEachDomain() async throws {
        try CheckCommand.requireBinary()
        let records = DMARCReportFileStoreTests.directory()
        let out = DMARCReportFileStoreTests.directory()
        defer { for path in [records, out] { try? FileManager.default.removeItem(atPath: path) } }
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let store = try TLSReportFileStore(directory: records)
        for (offset, domain) in [(Int64(1), "a.test"), (2, "a.test"), (3, "b.test"), (4, "c.test")] {
            try await store.append(TLSReportRecord(date: Self.day + offset, domain: domain, policyType: "sts", result: "success",
                                                   mx: "mx.\(domain)", ip: "192.0.2.25"))
        }
        let (server, relay, port) = try await TLSPolicyLiveTests.sink(host: "127.0.0.1", port: 0, tls: false)
        try await Self.withZone { dns in
            let (status, output) = try await CheckCommand.run([
                "tlsrpt", "report", "--records", records, "--day", "2026-12-03", "--org-name", "Example Mail",
                "--contact", "mailto:tlsrpt@out.test", "--sender", "out.test", "--out", out,
                "--send", "--from", "tlsrpt@out.test", "--via", "127.0.0.1:\(port)", "--dns", "127.0.0.1:\(dns.port)",
            ])
            #expect(status == 0, "\(output)")
            #expect(output.contains("  skipped https://reports.a.test/v1 (https: not supported yet)"), "\(output)")
            #expect(output.contains("  sent to tlsrpt@a.test via 127.0.0.1:\(port)"), "\(output)")
            #expect(output.contains("  sent to b-reports@elsewhere.test via"), "\(output)")
            #expect(output.contains("  not sent: _smtp._tls.c.test has no TLSRPTv1 record"), "\(output)")
        }
        #expect(relay.messages.count == 2)
        let toA = try #require(relay.messages.first { $0.envelope.recipients.map(\.path.description) == ["<tlsrpt@a.test>"] })
        #expect(toA.envelope.reversePath.description == "<tlsrpt@out.test>")
        let name = "out.test!a.test!1796256000!1796342400.json"
        let parts = try await Self.dissect(String(buffer: toA.data), attachment: out + "/" + name)
        #expect(parts == """
            multipart/report
            tlsrpt
            Report Domain: a.test Submitter: out.test Report-ID: <1796256000.a.test@out.test>
            a.test
            out.test
            No
            application/tlsrpt+gzip \(name).gz same
            text parts: 1

            """)
        await server.shutdown(gracePeriod: .seconds(2))
    }

    @Test func dmarcReportsGoOnlyWhereRFC7489AllowsAndFits() async throws {
        try CheckCommand.requireBinary()
        let records = DMARCReportFileStoreTests.directory()
        let out = DMARCReportFileStoreTests.directory()
        defer { for path in [records, out] { try? FileManager.default.removeItem(atPath: path) } }
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let store = try DMARCReportFileStore(directory: records)
        var record = DMARCReportFileStoreTests.record(date: Self.day + 10)
        // Same organisation; authorised third party; a stranger that did not authorise; a limit
        // too small for any report; not mail.
        record.policyPublished.aggregateReportURIs = ["mailto:dmarc@example.org", "mailto:agg@thirdparty.test!10m",
                                                      "mailto:x@stranger.test", "mailto:tiny@example.org!1k", "https://example.org/r"]
        try await store.append(record)
        let (server, relay, port) = try await TLSPolicyLiveTests.sink(host: "127.0.0.1", port: 0, tls: false)
        try await Self.withZone { dns in
            let (status, output) = try await CheckCommand.run([
                "dmarc", "report", "--records", records, "--day", "2026-12-03", "--org-name", "Example & Co",
                "--email", "dmarc@mx.test", "--out", out,
                "--send", "--from", "dmarc-reports@mx.test", "--via", "127.0.0.1:\(port)", "--dns", "127.0.0.1:\(dns.port)",
            ])
            #expect(status == 0, "\(output)")
            #expect(output.contains("  skipped x@stranger.test: example.org._report._dmarc.stranger.test does not authorise it (RFC 7489 §7.1)"), "\(output)")
            #expect(output.contains("  sent to dmarc@example.org, agg@thirdparty.test via 127.0.0.1:\(port); skipped tiny@example.org (limit 1024 < "),
                    "\(output)")
        }
        #expect(relay.messages.count == 1)
        let message = try #require(relay.messages.first)
        #expect(Set(message.envelope.recipients.map(\.path.description)) == ["<dmarc@example.org>", "<agg@thirdparty.test>"])
        let name = "mx.test!example.org!1796256000!1796342400.xml"
        let parts = try await Self.dissect(String(buffer: message.data), attachment: out + "/" + name)
        #expect(parts == """
            multipart/mixed
            -
            Report Domain: example.org Submitter: mx.test Report-ID: <1796256000.example.org>
            -
            -
            -
            application/gzip \(name).gz same
            text parts: 1

            """)
        #expect(String(buffer: message.data).contains("\r\nTo: <dmarc@example.org>, <agg@thirdparty.test>\r\n"))
        await server.shutdown(gracePeriod: .seconds(2))
    }

    @Test func destinationsParse() {
        #expect(ReportDestinations.dmarc(["mailto:a@example.org!10m", " mailto:b@example.org ", "mailto:c@example.org!2k",
                                          "mailto:d@example.org!x", "https://e.example", "mailto:nobody"])
            == [ReportAddress(address: "a@example.org", maxSize: 10 << 20), ReportAddress(address: "b@example.org"),
                ReportAddress(address: "c@example.org", maxSize: 2048)])
        #expect(ReportDestinations.size("5") == 5 && ReportDestinations.size("1g") == 1 << 30 && ReportDestinations.size("m") == nil)
        let record = ReportDestinations.tlsReport(record: "v=TLSRPTv1; rua=mailto:r@example.net, https://r.example.net/x")
        #expect(record?.mailto == [ReportAddress(address: "r@example.net")] && record?.https == ["https://r.example.net/x"])
        #expect(ReportDestinations.tlsReport(record: "v=spf1 -all") == nil)
        #expect(ReportDestinations.tlsReport(record: "v=TLSRPTv1;") == nil)
    }

    @Test func externalDestinationsNeedTheirConsent() async throws {
        var dns = try MockResolver(zone: """
            example.org._report._dmarc.reports.example TXT "v=DMARC1"
            other.org._report._dmarc.reports.example TXT "v=DMARC1x"
            """)
        dns.negativeTTL = 60
        let address = ReportAddress(address: "agg@reports.example")
        #expect(await ReportDestinations.acceptsDMARCReports(address, about: "example.org", dns: dns))
        #expect(await ReportDestinations.acceptsDMARCReports(address, about: "other.org", dns: dns) == false)
        #expect(await ReportDestinations.acceptsDMARCReports(address, about: "third.org", dns: dns) == false)
        // Within one organisational domain no consent is needed.
        #expect(await ReportDestinations.acceptsDMARCReports(ReportAddress(address: "d@mail.example.co.uk"), about: "shop.example.co.uk", dns: dns))
    }
}
