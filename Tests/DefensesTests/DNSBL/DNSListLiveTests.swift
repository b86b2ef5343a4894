import Foundation
import Testing

@testable import Defenses

/// ``DNSListChecker`` over ``LDNSResolver`` against the dnslib server on loopback, serving the
/// lists of `Fixtures/dns/dnsbl.zone`.
@Suite("DNSBL over LDNSResolver against a live DNS server")
struct DNSListLiveTests {
    static let bl = DNSListZone("bl.dnsbl.test", codes: [DNSListCodeRule("127.0.0.2", label: "SBL")!, DNSListCodeRule("127.0.0.10/31", weight: 0.5, label: "PBL")!])
    static let bl2 = DNSListZone("bl2.dnsbl.test", ipv6: false)
    static let wl = DNSListZone("wl.dnsbl.test", kind: .allow, ipv6: false)
    static let rhs = DNSListZone("rhs.dnsbl.test", subjects: [.mailFromDomain, .heloName])

    /// A 5 s DNS timeout: under the whole suite's load on two cores, 500 ms was lost once (answers
    /// read as `unknown`); only the silent-zone test below keeps a short one, on purpose.
    func checker(_ server: DNSTestServer, _ zones: [DNSListZone], threshold: Double = 1) -> DNSListChecker {
        DNSListChecker(resolver: server.resolver(timeout: .seconds(5), attempts: 2),
                       configuration: DNSListConfiguration(zones: zones, threshold: threshold))
    }

    @Test func listedIPv4AndIPv6Clients() async throws {
        try await withDNSTestServer { server in
            let c = checker(server, [Self.bl])
            let v4 = await c.check(clientIP: IPAddress("192.0.2.99")!)
            #expect(v4.result == .listed)
            #expect(v4.listings.first?.reason == "Listed: see https://bl.dnsbl.test/lookup?192.0.2.99")
            let v6 = await c.check(clientIP: IPAddress("2001:db8::99")!)
            #expect(v6.result == .listed)
            #expect(v6.listings.first?.reason == "IPv6 listing 2001:db8::99")
            #expect(await c.check(clientIP: IPAddress("192.0.2.10")!).result == .notListed)
            #expect(await c.check(clientIP: IPAddress("2001:db8::10")!).result == .notListed)
            // the RFC 5782 §5 test points were asked once per family, TXT only for listings
            #expect(server.queries("2.0.0.127.bl.dnsbl.test", "A").count == 1)
            #expect(server.queries("1.0.0.127.bl.dnsbl.test", "A").count == 1)
            #expect(server.queries("2.0.0.0.0.0.f.7.f.f.f.f.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.bl.dnsbl.test", "A").count == 1)
            #expect(server.queries("99.2.0.192.bl.dnsbl.test", "TXT").count == 1)
            #expect(server.queries("10.2.0.192.bl.dnsbl.test", "TXT").isEmpty)
        }
    }

    @Test func codesWeightsAndAnswersThatDoNotCount() async throws {
        try await withDNSTestServer { server in
            let c = checker(server, [Self.bl, Self.bl2])
            // PBL-like code: half a listing
            let pbl = await c.check(clientIP: IPAddress("192.0.2.98")!)
            #expect(pbl.result == .notListed && pbl.score == 0.5)
            // two lists add up
            let both = await c.check(clientIP: IPAddress("192.0.2.99")!)
            #expect(both.score == 2 && both.listings.map(\.zone) == ["bl.dnsbl.test", "bl2.dnsbl.test"])
            // a refusal code is unknown, never a listing; an answer outside 127/8 does not count
            let refused = await c.check(clientIP: IPAddress("192.0.2.97")!)
            #expect(refused.result == .unknown && refused.unknownZones == ["bl.dnsbl.test"])
            let rewritten = await c.check(clientIP: IPAddress("192.0.2.96")!)
            #expect(rewritten.result == .notListed)
            #expect(rewritten.lookups[0].outcome == .notListed(ignored: [IPv4Address("192.0.2.1")!]))
        }
    }

    @Test func allowListOverridesBlockList() async throws {
        try await withDNSTestServer { server in
            let verdict = await checker(server, [Self.bl, Self.wl]).check(clientIP: IPAddress("192.0.2.94")!)
            #expect(verdict.result == .allowed)
            #expect(verdict.authenticationResultsFragment == "dnswl=pass dns.zone=wl.dnsbl.test policy.ip=127.0.10.2")
            #expect(await checker(server, [Self.bl, Self.wl]).check(clientIP: IPAddress("192.0.2.99")!).result == .listed)
        }
    }

    @Test func zonesFailingTheHealthCheckAreIgnored() async throws {
        try await withDNSTestServer { server in
            let broken = DNSListZone("broken.dnsbl.test", ipv6: false)
            let wild = DNSListZone("wild.dnsbl.test", ipv6: false)
            let c = checker(server, [broken, wild, Self.bl2])
            // 192.0.2.95 is "listed" by all three; only bl2 counts
            let verdict = await c.check(clientIP: IPAddress("192.0.2.95")!)
            #expect(verdict.result == .listed && verdict.score == 1)
            #expect(verdict.unusableZones == ["broken.dnsbl.test", "wild.dnsbl.test"])
            let reports = await c.healthReports()
            #expect(reports.map(\.description) == [
                "bl2.dnsbl.test (ipv4): healthy",
                "broken.dnsbl.test (ipv4): unusable: the test entry 2.0.0.127.broken.dnsbl.test is not listed",
                "wild.dnsbl.test (ipv4): unusable: it lists 1.0.0.127.wild.dnsbl.test (127.0.0.2), which must not be listed: it may be answering every query",
            ])
            // the unusable lists are not asked about the client at all
            #expect(server.queries("95.2.0.192.broken.dnsbl.test", "A").isEmpty)
        }
    }

    @Test func domainListsOnMailFromAndHELO() async throws {
        try await withDNSTestServer { server in
            let c = checker(server, [Self.rhs])
            let sender = await c.check(clientIP: nil, helo: "client.senders.test", mailFromDomain: "bad.senders.test")
            #expect(sender.result == .listed && sender.listedSubjects == [.mailFromDomain])
            #expect(sender.listings.first?.reason == "domain listed for spam runs")
            let helo = await c.check(clientIP: nil, helo: "badhelo.senders.test", mailFromDomain: "good.senders.test")
            #expect(helo.result == .listed && helo.listedSubjects == [.heloName])
            #expect(await c.check(clientIP: nil, helo: "client.senders.test", mailFromDomain: "good.senders.test").result == .notListed)
            #expect(server.queries("test.rhs.dnsbl.test", "A").count == 1)
            #expect(server.queries("invalid.rhs.dnsbl.test", "A").count == 1)
        }
    }

    @Test func unservedZoneIsUnknownWithTheZoneNamed() async throws {
        try await withDNSTestServer { server in
            // the server is not authoritative for it: REFUSED
            let verdict = await checker(server, [DNSListZone("nowhere.invalid")]).check(clientIP: IPAddress("192.0.2.99")!)
            #expect(verdict.result == .unknown)
            #expect(verdict.unknownZones == ["nowhere.invalid"])
        }
    }

    @Test func silentZoneIsUnknownWithinTheResolverTimeout() async throws {
        // mute.dnsbl.test: test points and listing never answered (Fixtures/dns/behaviours.conf)
        try await withDNSTestServer { server in
            let c = DNSListChecker(resolver: server.resolver(timeout: .milliseconds(300), attempts: 1),
                                   configuration: DNSListConfiguration(zones: [DNSListZone("mute.dnsbl.test")], timeLimit: .seconds(30)))
            let start = ContinuousClock.now
            let verdict = await c.check(clientIP: IPAddress("192.0.2.99")!)
            #expect(ContinuousClock.now - start < .seconds(15))   // far below the 30 s limit: the resolver's timeouts end it
            #expect(verdict.result == .unknown)
            #expect(verdict.lookups[0].outcome == .unknown("DNS timeout"))
            #expect(await c.healthReports().isEmpty)   // inconclusive, not "unusable"
            #expect(server.queries("99.2.0.192.mute.dnsbl.test", "A").count == 1)
        }
    }
}
