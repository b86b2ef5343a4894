import Testing

@testable import Defenses

@Suite("MockResolver")
struct MockResolverTests {
    static let zone = """
        $ORIGIN example.
        $TTL 300
        mail     IN MX   20 mx2
        mail     IN MX   10 mx1
        mx1      IN A    192.0.2.1
        mx1      IN AAAA 2001:db8::1
        www      IN CNAME mx1
        txt      IN TXT  "v=spf1 " "-all"
        deep.ent IN TXT  "below an empty non-terminal"
        loop1    IN CNAME loop2
        loop2    IN CNAME loop1
        """

    @Test func answersFromZoneText() async throws {
        let dns = try MockResolver(zone: Self.zone)
        let mx = try await dns.lookupMX("mail.example")
        #expect(mx.records.map(\.exchange) == ["mx1.example", "mx2.example"])
        #expect(mx.ttl == 300)
        #expect(try await dns.lookupA("MX1.example.").records == [IPv4Address("192.0.2.1")!])
        #expect(try await dns.lookupAAAA("mx1.example").records == [IPv6Address("2001:db8::1")!])
        #expect(try await dns.lookupTXT("txt.example").records.map(\.text) == ["v=spf1 -all"])
        #expect(dns.records.count == 9)
    }

    @Test func followsCNAMEsLikeTheRealResolver() async throws {
        let dns = try MockResolver(zone: Self.zone)
        let response = try await dns.resolve("www.example", .a)
        #expect(response.canonicalName == "mx1.example")
        #expect(response.aliases.count == 1)
        #expect(try await dns.lookupCNAME("www.example").records == ["mx1.example"])
        await #expect(throws: DNSError.cnameChainTooLong("loop1.example")) { try await dns.lookupA("loop1.example") }
    }

    @Test func nxdomainNodataAndEmptyNonTerminals() async throws {
        var dns = try MockResolver(zone: Self.zone)
        await #expect(throws: DNSError.nxdomain(DNSNegativeAnswer(name: "nope.example", type: .a, ttl: 300))) {
            try await dns.lookupA("nope.example")
        }
        await #expect(throws: DNSError.noData(DNSNegativeAnswer(name: "mx1.example", type: .txt, ttl: 300))) {
            try await dns.lookupTXT("mx1.example")
        }
        await #expect(throws: DNSError.noData(DNSNegativeAnswer(name: "ent.example", type: .a, ttl: 300))) {
            try await dns.lookupA("ent.example")
        }
        // NODATA after a CNAME names the target (RFC 6604).
        await #expect(throws: DNSError.noData(DNSNegativeAnswer(name: "mx1.example", type: .mx, ttl: 300))) {
            try await dns.lookupMX("www.example")
        }
        dns.negativeTTL = nil
        await #expect(throws: DNSError.nxdomain(DNSNegativeAnswer(name: "nope.example", type: .a, ttl: nil))) {
            try await dns.lookupA("nope.example")
        }
    }

    @Test func forcedFailures() async throws {
        var dns = try MockResolver(zone: Self.zone)
        dns.fail("mail.example", with: .serverFailure)
        dns.fail("mx1.example", with: .timeout, type: .aaaa)
        dns.fail("txt.example", with: .nxdomain)
        dns.fail("www.example", with: .responseCode(5))
        dns.fail("net.example", with: .network)
        await #expect(throws: DNSError.serverFailure) { try await dns.lookupMX("mail.example") }
        await #expect(throws: DNSError.timeout) { try await dns.lookupAAAA("mx1.example") }
        #expect(try await dns.lookupA("mx1.example").records.count == 1)  // only AAAA fails
        await #expect(throws: DNSError.nxdomain(DNSNegativeAnswer(name: "txt.example", type: .txt, ttl: 300))) {
            try await dns.lookupTXT("txt.example")
        }
        await #expect(throws: DNSError.responseCode(5)) { try await dns.lookupA("www.example") }
        await #expect(throws: DNSError.network("mock network failure")) { try await dns.lookupA("net.example") }
    }

    @Test func timeoutCanTakeTime() async throws {
        var dns = MockResolver()
        dns.fail("slow.example", with: .timeout)
        dns.timeoutDelay = .milliseconds(100)
        let started = ContinuousClock.now
        await #expect(throws: DNSError.timeout) { try await dns.lookupA("slow.example") }
        #expect(ContinuousClock.now - started >= .milliseconds(100))
    }

    @Test func recordsAddedInCode() async throws {
        var dns = MockResolver()
        dns.add(.a(IPv4Address("192.0.2.7")!), at: "Host.Example.", ttl: 60)
        dns.add(.ptr("host.example"), at: IPAddress("192.0.2.7")!.reversePointerName)
        dns.add(.mx(MXRecord(preference: 0, exchange: ".")), at: "null.example")
        dns.add(.tlsa(TLSARecord(usage: 3, selector: 1, matchingType: 1, data: [1, 2])), at: "_25._tcp.host.example")
        dns.authenticated = true
        let a = try await dns.lookupA("host.example")
        #expect(a.records == [IPv4Address("192.0.2.7")!] && a.ttl == 60 && a.authenticated)
        #expect(try await dns.lookupPTR(IPAddress("192.0.2.7")!).records == ["host.example"])
        #expect(try await dns.lookupMX("null.example").isNullMX)
        #expect(try await dns.lookupTLSA(port: 25, host: "host.example").records.first?.usage == 3)
        // Every name goes through IDNA the same way.
        dns.add(.a(IPv4Address("192.0.2.8")!), at: "bücher.example")
        #expect(try await dns.lookupA("xn--bcher-kva.example").records == [IPv4Address("192.0.2.8")!])
    }

    @Test func badZoneTextIsAnError() {
        #expect(throws: DNSError.self) { try MockResolver(zone: "x.example. IN MX ten mx.example.") }
    }
}
