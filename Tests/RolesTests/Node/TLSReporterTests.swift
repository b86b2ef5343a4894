import Defenses
import Foundation
import Logging
import SMTPCore
import Testing

@testable import Roles

/// The outbound node's TLS-RPT recorder: `sts` for domains with a valid MTA-STS policy, plaintext
/// without a policy not counted, every other session one record.
@Suite struct TLSReporterTests {
    struct OnePolicy: MTASTSPolicyFetcher {
        func fetch(domain: String) async throws(MTASTSFetchError) -> String {
            guard domain == "sts.example" else { throw MTASTSFetchError("none") }
            return "version: STSv1\nmode: testing\nmx: mx.sts.example\nmax_age: 86400\n"
        }
    }

    @Test func recordsCarryThePolicyTypeAndResult() async throws {
        let directory = NSTemporaryDirectory() + "mailnode-tlsrpt-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var dns = MockResolver()
        dns.add(.txt(TXTRecord("v=STSv1; id=1")), at: "_mta-sts.sts.example")
        let cache = MTASTSPolicyCache(dns: dns, fetcher: OnePolicy())
        _ = await cache.lookup("sts.example")
        let store = try TLSReportFileStore(directory: directory)
        let report = MailNode.tlsReporter(store, mtaSTS: cache, logger: Logger(label: "test"))
        let now = Date()
        let hop = { (name: String) in NextHop(name: name, host: "192.0.2.25", port: 25, tlsServerName: name) }
        await report(TLSSessionObservation(domain: "sts.example", hop: hop("mx.sts.example"), outcome: .negotiated, date: now))
        await report(TLSSessionObservation(domain: "sts.example", hop: hop("mx.sts.example"), outcome: .plaintext, date: now))
        await report(TLSSessionObservation(domain: "plain.example", hop: hop("mx.plain.example"), outcome: .plaintext, date: now))
        await report(TLSSessionObservation(domain: "plain.example", hop: hop("mx.plain.example"),
                                           outcome: .failed("certificate has expired"), date: now))
        let records = try await store.records(from: Int64(now.timeIntervalSince1970) - 10, to: Int64(now.timeIntervalSince1970) + 10)
        #expect(records.map { "\($0.domain) \($0.policyType) \($0.result)" } == [
            "sts.example sts success", "sts.example sts starttls-not-supported", "plain.example no-policy-found certificate-expired",
        ])
        #expect(records.last?.reason == "certificate has expired" && records.last?.mx == "mx.plain.example")
    }
}
