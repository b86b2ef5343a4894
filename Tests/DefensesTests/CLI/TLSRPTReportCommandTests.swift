import Foundation
import Testing

@testable import Defenses

/// `mailnode tlsrpt report` as a process over records written by ``TLSReportFileStore``; the
/// JSON read back by Python's `json` and checked against RFC 8460 §4.4's field names.
@Suite struct TLSRPTReportCommandTests {
    static let day: Int64 = DMARCReportFileStoreTests.dayStart

    static let summary = """
        import json, sys
        r = json.load(open(sys.argv[1]))
        out = [r["organization-name"], r["contact-info"], r["date-range"]["start-datetime"], r["date-range"]["end-datetime"]]
        for p in r["policies"]:
            s = p["summary"]
            out.append("%s %s ok=%d failed=%d mx=%s" % (p["policy"]["policy-type"], p["policy"]["policy-domain"],
                       s["total-successful-session-count"], s["total-failure-session-count"], ",".join(p["policy"].get("mx-host", []))))
            for d in p.get("failure-details", []):
                out.append("  %s %s %s x%d" % (d["result-type"], d["receiving-mx-hostname"], d["receiving-ip"], d["failed-session-count"]))
        print("\\n".join(out))
        """

    @Test func writesOneReportPerDomainThatPythonReads() async throws {
        try CheckCommand.requireBinary()
        let records = DMARCReportFileStoreTests.directory()
        let out = DMARCReportFileStoreTests.directory()
        defer { for path in [records, out] { try? FileManager.default.removeItem(atPath: path) } }
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let store = try TLSReportFileStore(directory: records)
        func record(_ offset: Int64, _ domain: String, _ type: String, _ result: String, ip: String = "192.0.2.25") -> TLSReportRecord {
            TLSReportRecord(date: Self.day + offset, domain: domain, policyType: type, result: result, mx: "mx.\(domain)", ip: ip,
                            reason: result == "success" ? nil : "reason \(offset)")
        }
        for offset: Int64 in [1, 2, 3] { try await store.append(record(offset, "a.example", "sts", "success")) }
        try await store.append(record(4, "a.example", "sts", "certificate-host-mismatch"))
        try await store.append(record(5, "a.example", "sts", "certificate-host-mismatch"))
        try await store.append(record(6, "a.example", "sts", "certificate-host-mismatch", ip: "192.0.2.26"))
        try await store.append(record(7, "b.example", "no-policy-found", "starttls-not-supported"))
        try await store.append(record(86_400 + 1, "a.example", "sts", "success"))   // next day

        let (status, output) = try await CheckCommand.run([
            "tlsrpt", "report", "--records", records, "--day", "2026-12-03", "--org-name", "Example Mail",
            "--contact", "mailto:tlsrpt@out.test", "--sender", "out.test", "--out", out,
        ])
        #expect(status == 0, "\(output)")
        #expect(output.contains("out.test!a.example!1796256000!1796342400.json\tsuccessful=3\tfailed=3"))
        #expect(output.contains("out.test!b.example!1796256000!1796342400.json\tsuccessful=0\tfailed=1"))
        let python = try await offThePool { try DKIMPython.interpreter.get() }
        let parsed = try await CheckCommand.run(executable: python.path, ["-c", Self.summary, out + "/out.test!a.example!1796256000!1796342400.json"])
        #expect(parsed.status == 0, "\(parsed.output)")
        #expect(parsed.output == """
            Example Mail
            mailto:tlsrpt@out.test
            2026-12-03T00:00:00Z
            2026-12-03T23:59:59Z
            sts a.example ok=3 failed=3 mx=mx.a.example
              certificate-host-mismatch mx.a.example 192.0.2.25 x2
              certificate-host-mismatch mx.a.example 192.0.2.26 x1

            """)
    }
}
