import Foundation
import Testing

/// `mailnode check dnsbl` as a process against the dnslib server with Fixtures/dns/dnsbl.zone.
@Suite struct CheckDNSBLCommandTests {
    @Test func listedByTwoListsWithCodesReasonAndHealth() async throws {
        try CheckCommand.requireBinary()
        try await withDNSTestServer { server in
            let (status, text) = try await CheckCommand.run([
                "check", "dnsbl", "--dns", "127.0.0.1:\(server.port)", "--ip", "192.0.2.99",
                "--zone", "bl.dnsbl.test", "--zone", "bl2.dnsbl.test", "--zone", "broken.dnsbl.test",
            ])
            #expect(status == 0, "\(text)")
            let lines = text.split(separator: "\n").map(String.init)
            #expect(lines.last == "result: listed (score 2.0, threshold 1.0; listed by bl.dnsbl.test 127.0.0.2, bl2.dnsbl.test 127.0.0.3; unusable: broken.dnsbl.test)", "\(text)")
            // the RFC 5782 §5 health checks, with their queries
            #expect(lines.contains("health bl.dnsbl.test (ipv4): healthy"), "\(text)")
            #expect(lines.contains("  2.0.0.127.bl.dnsbl.test A 127.0.0.2"), "\(text)")
            #expect(lines.contains { $0.hasPrefix("health broken.dnsbl.test (ipv4): unusable: the test entry 2.0.0.127.broken.dnsbl.test is not listed") }, "\(text)")
            // each query, its answer code and the list's TXT
            #expect(lines.contains("  bl.dnsbl.test ip=192.0.2.99 (99.2.0.192.bl.dnsbl.test A) listed 127.0.0.2 weight 1.0 \"Listed: see https://bl.dnsbl.test/lookup?192.0.2.99\""), "\(text)")
            #expect(lines.contains { $0.hasPrefix("  bl2.dnsbl.test ip=192.0.2.99 (99.2.0.192.bl2.dnsbl.test A) listed 127.0.0.3") }, "\(text)")
            #expect(lines.contains { $0.hasPrefix("  broken.dnsbl.test ip=192.0.2.99 (99.2.0.192.broken.dnsbl.test A) zone unusable") }, "\(text)")
            #expect(server.queries("99.2.0.192.broken.dnsbl.test", "A").isEmpty)   // an unusable list is not asked
        }
    }

    @Test func cleanIPv6AndUnansweredLists() async throws {
        try CheckCommand.requireBinary()
        try await withDNSTestServer { server in
            let dns = "127.0.0.1:\(server.port)"
            let (status, clean) = try await CheckCommand.run(["check", "dnsbl", "--dns", dns, "--ip", "192.0.2.10", "--zone", "bl.dnsbl.test"])
            #expect(status == 0)
            #expect(clean.contains("  bl.dnsbl.test ip=192.0.2.10 (10.2.0.192.bl.dnsbl.test A) not listed"), "\(clean)")
            #expect(clean.hasSuffix("result: none (score 0.0, threshold 1.0)\n"), "\(clean)")

            let (_, v6) = try await CheckCommand.run(["check", "dnsbl", "--dns", dns, "--ip", "2001:db8::99", "--zone", "bl.dnsbl.test"])
            #expect(v6.contains("health bl.dnsbl.test (ipv6): healthy"), "\(v6)")
            #expect(v6.contains("(9.9.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.bl.dnsbl.test A) listed 127.0.0.2"), "\(v6)")
            #expect(v6.contains("result: listed"), "\(v6)")

            // a refusal code (127.255.255.254) and a zone the server refuses: no answer, never "listed"
            let (_, refused) = try await CheckCommand.run(["check", "dnsbl", "--dns", dns, "--ip", "192.0.2.97",
                                                          "--zone", "bl.dnsbl.test", "--zone", "nowhere.invalid"])
            #expect(refused.contains("the list refused the query (127.255.255.254)"), "\(refused)")
            #expect(refused.contains("result: unknown (score 0.0, threshold 1.0; no answer from bl.dnsbl.test, nowhere.invalid)"), "\(refused)")
        }
    }

    @Test func badArgumentsAreRefused() async throws {
        try CheckCommand.requireBinary()
        let (status, text) = try await CheckCommand.run(["check", "dnsbl", "--ip", "192.0.2.300", "--zone", "bl.example"])
        #expect(status == 64)
        #expect(text.contains("--ip must be an IPv4 or IPv6 address"), "\(text)")
        let (noZone, noZoneText) = try await CheckCommand.run(["check", "dnsbl", "--ip", "192.0.2.1"])
        #expect(noZone == 64)
        #expect(noZoneText.contains("--zone"), "\(noZoneText)")
    }
}
