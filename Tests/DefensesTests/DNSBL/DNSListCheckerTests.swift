import Foundation
import Testing

@testable import Defenses

/// ``DNSListChecker`` over ``MockResolver``: query names, code filters, weights, allow lists,
/// domain lists, health checks, failures and the time limit.
@Suite("DNSBL/DNSWL checker (RFC 5782)")
struct DNSListCheckerTests {
    typealias F = DNSListFixture

    let bl = DNSListZone("bl.test")
    let ip = F.ip("192.0.2.99")

    /// The time limit is far beyond any answer of the in-memory resolver: on a loaded CI box the
    /// cooperative pool can stall for many seconds, and only ``timeLimitEndsSlowLookups`` is about it.
    func checker(_ dns: MockResolver, _ zones: [DNSListZone], threshold: Double = 1,
                 timeLimit: Duration = .seconds(300), healthCheckInterval: Duration = .seconds(3600)) -> DNSListChecker {
        DNSListChecker(resolver: dns, configuration: DNSListConfiguration(
            zones: zones, threshold: threshold, timeLimit: timeLimit, healthCheckInterval: healthCheckInterval))
    }

    func healthy(_ zones: DNSListZone...) -> MockResolver {
        var dns = MockResolver()
        for zone in zones { F.addTestPoints(&dns, zone) }
        return dns
    }

    // MARK: - Query names

    @Test func queryNames() throws {
        #expect(bl.queryName(for: F.ip("192.0.2.99")) == "99.2.0.192.bl.test")
        // RFC 5782 §2.4: 32 nibbles, lower-case hex
        #expect(bl.queryName(for: F.ip("2001:DB8::AB:1")) == "1.0.0.0.b.a.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.bl.test")
        // a client reaching a dual-stack socket as ::ffff:a.b.c.d is an IPv4 client
        #expect(bl.queryName(for: F.ip("::ffff:192.0.2.99")) == "99.2.0.192.bl.test")
        // domains: A-labels, lower case, trailing dot dropped (zone name too)
        let rhs = DNSListZone("RHS.Test.", subjects: [.mailFromDomain])
        #expect(rhs.name == "rhs.test")
        #expect(try rhs.queryName(forDomain: "Example.COM.") == "example.com.rhs.test")
        #expect(try rhs.queryName(forDomain: "bücher.example") == "xn--bcher-kva.example.rhs.test")
        let long = Array(repeating: String(repeating: "a", count: 60), count: 5).joined(separator: ".")
        #expect(throws: DNSError.self) { try rhs.queryName(forDomain: long) }
    }

    @Test func codeRules() {
        let exact = DNSListCodeRule("127.0.0.2")!
        let net = DNSListCodeRule("127.0.0.0/24")!
        let mask = DNSListCodeRule(.bitmask(0x04))
        #expect(exact.matches(IPv4Address("127.0.0.2")!) && !exact.matches(IPv4Address("127.0.0.3")!))
        #expect(net.matches(IPv4Address("127.0.0.11")!) && !net.matches(IPv4Address("127.0.1.2")!))
        #expect(mask.matches(IPv4Address("127.0.0.4")!) && mask.matches(IPv4Address("127.0.0.6")!))
        #expect(!mask.matches(IPv4Address("127.0.0.2")!) && !mask.matches(IPv4Address("10.0.0.4")!))
        #expect(DNSListCodeRule("127.0.0.0/33") == nil && DNSListCodeRule("127.0.0") == nil && DNSListCodeRule("127.0.0.0/x") == nil)
        #expect(DNSListCodeRule("127.0.0.4/30", label: "XBL")!.description == "127.0.0.4/30(XBL)")
    }

    // MARK: - Listings

    @Test func listedIPv4WithReasonForTheLogOnly() async {
        var dns = healthy(bl)
        F.list(&dns, bl, "192.0.2.99", txt: "Listed\u{07} for\nspam; see https://bl.test/x")
        let verdict = await checker(dns, [bl]).check(clientIP: ip)
        #expect(verdict.result == .listed)
        #expect(verdict.score == 1)
        guard let lookup = verdict.listings.first else { Issue.record("not listed: \(verdict.trail)"); return }
        #expect(lookup.queryName == "99.2.0.192.bl.test")
        #expect(lookup.outcome == .listed(codes: [IPv4Address("127.0.0.2")!], labels: []))
        // control characters never reach a log line
        #expect(lookup.reason == "Listed  for spam; see https://bl.test/x")
        #expect(verdict.trail.last == "score 1.0 threshold 1.0: listed")
    }

    @Test func reasonIsCappedAndOptional() async {
        var dns = healthy(bl)
        F.list(&dns, bl, "192.0.2.99", txt: String(repeating: "x", count: 500))
        var config = DNSListConfiguration(zones: [bl], timeLimit: .seconds(300))   // never the 10 s default: a loaded run
        config.maxReasonLength = 50
        #expect(await DNSListChecker(resolver: dns, configuration: config).check(clientIP: ip).listings.first?.reason?.count == 50)
        var quiet = bl
        quiet.fetchReason = false
        #expect(await checker(dns, [quiet]).check(clientIP: ip).listings.first.map { $0.reason == nil } == true)
    }

    @Test func notListed() async {
        let verdict = await checker(healthy(bl), [bl]).check(clientIP: ip)
        #expect(verdict.result == .notListed)
        #expect(verdict.lookups[0].outcome == .notListed(ignored: []))
    }

    @Test func listedIPv6ByNibbles() async {
        var dns = healthy(bl)
        F.list(&dns, bl, "2001:db8::99")
        #expect(await checker(dns, [bl]).check(clientIP: F.ip("2001:db8::99")).result == .listed)
        #expect(await checker(dns, [bl]).check(clientIP: F.ip("2001:db8::98")).result == .notListed)
        // a list without IPv6 entries is not asked
        var v4only = bl
        v4only.ipv6 = false
        let skipped = await checker(dns, [v4only]).check(clientIP: F.ip("2001:db8::99"))
        #expect(skipped.result == .notListed)
        #expect(skipped.lookups[0].outcome == .skipped("the zone has no IPv6 entries"))
    }

    @Test func returnCodeFilterExactVersusNetwork() async {
        let exact = DNSListZone("exact.test", codes: [DNSListCodeRule("127.0.0.2")!])
        let any = DNSListZone("any.test", codes: [DNSListCodeRule("127.0.0.0/24")!])
        var dns = healthy(exact, any)
        F.list(&dns, exact, "192.0.2.99", code: "127.0.0.10")
        F.list(&dns, any, "192.0.2.99", code: "127.0.0.10")
        let e = await checker(dns, [exact]).check(clientIP: ip)
        #expect(e.result == .notListed)
        #expect(e.lookups[0].outcome == .notListed(ignored: [IPv4Address("127.0.0.10")!]))
        #expect(await checker(dns, [any]).check(clientIP: ip).result == .listed)
    }

    @Test func spamhausStyleCodesWithOwnWeights() async {
        let zen = DNSListZone("zen.test", weight: 1, codes: [
            DNSListCodeRule("127.0.0.2", label: "SBL")!, DNSListCodeRule("127.0.0.4/30", label: "XBL")!,
            DNSListCodeRule("127.0.0.10/31", weight: 0.5, label: "PBL")!,
        ])
        var dns = healthy(zen)
        F.list(&dns, zen, "192.0.2.10", code: "127.0.0.11")   // PBL only: half a listing
        F.list(&dns, zen, "192.0.2.20", code: "127.0.0.2")
        F.list(&dns, zen, "192.0.2.20", code: "127.0.0.4")    // SBL + XBL: the zone counts once
        let pbl = await checker(dns, [zen]).check(clientIP: F.ip("192.0.2.10"))
        #expect(pbl.result == .notListed && pbl.score == 0.5)
        #expect(pbl.listings.first?.outcome == .listed(codes: [IPv4Address("127.0.0.11")!], labels: ["PBL"]))
        let both = await checker(dns, [zen]).check(clientIP: F.ip("192.0.2.20"))
        #expect(both.result == .listed && both.score == 1)
        if case .listed(_, let labels)? = both.listings.first?.outcome { #expect(labels == ["SBL", "XBL"]) }
    }

    @Test func weightsAddUpToTheThreshold() async {
        let a = DNSListZone("a.test", weight: 0.6)
        let b = DNSListZone("b.test", weight: 0.6)
        var dns = healthy(a, b)
        F.list(&dns, a, "192.0.2.1")
        F.list(&dns, a, "192.0.2.2")
        F.list(&dns, b, "192.0.2.2")
        let one = await checker(dns, [a, b]).check(clientIP: F.ip("192.0.2.1"))
        #expect(one.result == .notListed && one.score == 0.6)
        let two = await checker(dns, [a, b]).check(clientIP: F.ip("192.0.2.2"))
        #expect(two.result == .listed && abs(two.score - 1.2) < 1e-9)
        #expect(two.listings.map(\.zone) == ["a.test", "b.test"])
        #expect(await checker(dns, [a, b], threshold: 2).check(clientIP: F.ip("192.0.2.2")).result == .notListed)
    }

    @Test func allowListWinsOverBlockLists() async {
        let wl = DNSListZone("wl.test", kind: .allow)
        var dns = healthy(bl, wl)
        F.list(&dns, bl, "192.0.2.99")
        F.list(&dns, wl, "192.0.2.99", code: "127.0.10.2")
        let verdict = await checker(dns, [bl, wl]).check(clientIP: ip)
        #expect(verdict.result == .allowed)
        #expect(verdict.score == 1)   // still reported
        #expect(verdict.allowances.map(\.zone) == ["wl.test"])
        #expect(verdict.authenticationResultsFragment == "dnswl=pass dns.zone=wl.test policy.ip=127.0.10.2")
        // not on the allow list: the block list decides
        F.list(&dns, bl, "192.0.2.98")
        #expect(await checker(dns, [bl, wl]).check(clientIP: F.ip("192.0.2.98")).result == .listed)
    }

    @Test func refusalCodeIsUnknownNeverListed() async {
        var dns = healthy(bl)
        F.list(&dns, bl, "192.0.2.99", code: "127.255.255.254")
        let verdict = await checker(dns, [bl]).check(clientIP: ip)
        #expect(verdict.result == .unknown)
        #expect(verdict.unknownZones == ["bl.test"])
        #expect(verdict.lookups[0].outcome == .unknown("the list refused the query (127.255.255.254)"))
    }

    @Test func answersOutside127AreIgnored() async {
        var dns = healthy(bl)
        F.list(&dns, bl, "192.0.2.99", code: "192.0.2.1")   // a resolver rewriting NXDOMAIN
        let verdict = await checker(dns, [bl]).check(clientIP: ip)
        #expect(verdict.result == .notListed)
        #expect(verdict.lookups[0].outcome == .notListed(ignored: [IPv4Address("192.0.2.1")!]))
    }

    // MARK: - Failures

    @Test(arguments: [MockResolver.Failure.serverFailure, .timeout, .responseCode(5), .network])
    func failuresAreUnknownWithTheZoneNamed(_ failure: MockResolver.Failure) async {
        var dns = healthy(bl)
        F.list(&dns, bl, "192.0.2.99")
        dns.fail("99.2.0.192.bl.test", with: failure, type: .a)
        let verdict = await checker(dns, [bl]).check(clientIP: ip)
        #expect(verdict.result == .unknown)
        #expect(verdict.unknownZones == ["bl.test"])
        #expect(verdict.logSummary.contains("bl.test[ip]=unknown("))
    }

    @Test func unknownOnlyWhenItCouldReachTheThreshold() async {
        let small = DNSListZone("small.test", weight: 0.4)
        let big = DNSListZone("big.test", weight: 0.7)
        var dns = healthy(small, big)
        F.list(&dns, big, "192.0.2.99")
        dns.fail("99.2.0.192.small.test", with: .serverFailure)
        // 0.7 listed + 0.4 unknown could reach 1: unknown
        #expect(await checker(dns, [small, big]).check(clientIP: ip).result == .unknown)
        // nothing listed, a 0.4 list silent: it could not reach 1 alone
        let clean = F.ip("192.0.2.98")
        dns.fail("98.2.0.192.small.test", with: .serverFailure)
        #expect(await checker(dns, [small, big]).check(clientIP: clean).result == .notListed)
        // listed by enough lists: a silent one does not matter
        let big2 = DNSListZone("big2.test", weight: 0.7)
        F.addTestPoints(&dns, big2)
        F.list(&dns, big2, "192.0.2.99")
        #expect(await checker(dns, [small, big, big2]).check(clientIP: ip).result == .listed)
    }

    @Test func timeLimitEndsSlowLookups() async {
        var dns = healthy(bl)
        dns.timeoutDelay = .seconds(30)
        dns.fail("99.2.0.192.bl.test", with: .timeout)
        let start = ContinuousClock.now
        let verdict = await checker(dns, [bl], timeLimit: .milliseconds(200)).check(clientIP: ip)
        #expect(ContinuousClock.now - start < .seconds(29))   // below the 30 s the DNS would take
        #expect(verdict.result == .unknown)
        #expect(verdict.lookups[0].outcome == .unknown("no answer within the time limit of 0.2 seconds"))
    }

    /// Two lookups (a group, not the one-lookup path above): the slow one ends at the limit. (Not
    /// asserted: that the quick one answered within it — under the full suite on two cores the
    /// cooperative pool has been seen busy for 20 s, longer than any limit a test can wait for.)
    @Test func timeLimitEndsTheSlowOneOfTwoLookups() async {
        let quick = DNSListZone("quick.test")
        var dns = healthy(bl, quick)
        F.list(&dns, quick, "192.0.2.99")
        dns.timeoutDelay = .seconds(30)
        dns.fail("99.2.0.192.bl.test", with: .timeout)
        let start = ContinuousClock.now
        let verdict = await checker(dns, [bl, quick], timeLimit: .milliseconds(200)).check(clientIP: ip)
        #expect(ContinuousClock.now - start < .seconds(29))
        #expect(verdict.lookups.map(\.zone) == ["bl.test", "quick.test"])
        #expect(verdict.lookups[0].outcome == .unknown("no answer within the time limit of 0.2 seconds"))
    }

    // MARK: - Domain lists

    @Test func domainListsForMailFromAndHELO() async {
        let rhs = DNSListZone("rhs.test", subjects: [.mailFromDomain, .heloName])
        let mailOnly = DNSListZone("dbl.test", subjects: [.mailFromDomain])
        var dns = healthy(bl, rhs, mailOnly)
        F.list(&dns, rhs, "spam.example")
        F.list(&dns, rhs, "bad-helo.example")
        F.list(&dns, mailOnly, "bad-helo.example")
        let sender = await checker(dns, [bl, rhs]).check(clientIP: ip, helo: "mail.example", mailFromDomain: "Spam.Example")
        #expect(sender.result == .listed)
        #expect(sender.listedSubjects == [.mailFromDomain])
        #expect(sender.listings.first?.queryName == "spam.example.rhs.test")
        // the IP list is not asked about domains, the domain list not about the IP
        #expect(sender.lookups.map(\.subject) == [.clientIP, .heloName, .mailFromDomain])
        let helo = await checker(dns, [rhs, mailOnly]).check(clientIP: nil, helo: "bad-helo.example", mailFromDomain: "ok.example")
        #expect(helo.result == .listed && helo.listedSubjects == [.heloName])
        // address literals and empty names are not looked up
        let none = await checker(dns, [rhs]).check(clientIP: nil, helo: "[192.0.2.1]", mailFromDomain: "")
        #expect(none.lookups.isEmpty && none.result == .notListed)
    }

    // MARK: - Health check (RFC 5782 §5)

    @Test func listWithoutTestEntryIsUnusableAndIgnored() async {
        var dns = MockResolver()   // no 127.0.0.2
        F.list(&dns, bl, "192.0.2.99")
        let verdict = await checker(dns, [bl]).check(clientIP: ip)
        #expect(verdict.result == .notListed)
        #expect(verdict.unusableZones == ["bl.test"])
        guard case .unusable(let why) = verdict.lookups[0].outcome else { Issue.record("not unusable"); return }
        #expect(why.contains("2.0.0.127.bl.test is not listed"))
    }

    @Test func listAnsweringEverythingIsUnusable() async {
        var dns = healthy(bl)
        F.list(&dns, bl, "127.0.0.1")
        F.list(&dns, bl, "192.0.2.99")
        let verdict = await checker(dns, [bl]).check(clientIP: ip)
        #expect(verdict.result == .notListed)
        guard case .unusable(let why) = verdict.lookups[0].outcome else { Issue.record("not unusable"); return }
        #expect(why.contains("1.0.0.127.bl.test"))
    }

    @Test func healthIsPerFamily() async {
        var dns = MockResolver()
        dns.add(.a(IPv4Address("127.0.0.2")!), at: DNSListTestFamily.ipv4.testNames(in: bl).listed)   // no IPv6 test point
        F.list(&dns, bl, "192.0.2.99")
        F.list(&dns, bl, "2001:db8::99")
        let c = checker(dns, [bl])
        #expect(await c.check(clientIP: ip).result == .listed)
        #expect(await c.check(clientIP: F.ip("2001:db8::99")).unusableZones == ["bl.test"])
        let reports = await c.healthReports()
        #expect(reports.map { "\($0.family) \($0.health == .healthy)" } == ["ipv4 true", "ipv6 false"])
    }

    @Test func inconclusiveHealthCheckDoesNotDisableTheList() async {
        var dns = healthy(bl)
        F.list(&dns, bl, "192.0.2.99")
        dns.fail("2.0.0.127.bl.test", with: .serverFailure)
        let c = checker(dns, [bl])
        #expect(await c.check(clientIP: ip).result == .listed)
        #expect(await c.healthReports().isEmpty)   // nothing concluded, asked again next time
        #expect(await c.healthCheck(bl, family: .ipv4).health == .unknown("2.0.0.127.bl.test: SERVFAIL"))
    }

    @Test func healthCheckIsRememberedForTheInterval() async {
        var dns = healthy(bl)
        F.list(&dns, bl, "192.0.2.99")
        let counting = CountingResolver(dns)
        let remembered = DNSListChecker(resolver: counting, configuration: DNSListConfiguration(zones: [bl], timeLimit: .seconds(300)))
        for _ in 0..<3 { _ = await remembered.check(clientIP: ip) }
        #expect(await counting.questions.filter { $0.name.hasPrefix("2.0.0.127.") }.count == 1)
        let again = CountingResolver(dns)
        let always = DNSListChecker(resolver: again, configuration: DNSListConfiguration(zones: [bl], timeLimit: .seconds(300), healthCheckInterval: .zero))
        for _ in 0..<3 { _ = await always.check(clientIP: ip) }
        #expect(await again.questions.filter { $0.name.hasPrefix("2.0.0.127.") }.count == 3)
    }

    @Test func healthCheckAllAndRecovery() async {
        let rhs = DNSListZone("rhs.test", subjects: [.mailFromDomain])
        var off = DNSListZone("off.test")
        off.healthCheck = false
        var dns = healthy(rhs)
        F.list(&dns, off, "192.0.2.99")
        let c = checker(dns, [bl, rhs, off], healthCheckInterval: .zero)
        let reports = await c.healthCheckAll()
        #expect(reports.map(\.description) == [
            "bl.test (ipv4): unusable: the test entry 2.0.0.127.bl.test is not listed",
            "bl.test (ipv6): unusable: the test entry 2.0.0.0.0.0.f.7.f.f.f.f.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.bl.test is not listed",
            "rhs.test (domain): healthy",
        ])
        // a list without health checking is used as it is
        #expect(await c.check(clientIP: ip).listings.map(\.zone) == ["off.test"])
    }

    @Test func separateResolverPerZone() async {
        var other = healthy(bl)
        F.list(&other, bl, "192.0.2.99")
        let mirrored = DNSListZone("bl.test", resolver: other)
        #expect(await checker(MockResolver(), [mirrored]).check(clientIP: ip).result == .listed)
    }
}
