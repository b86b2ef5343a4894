import Foundation
import NIOConcurrencyHelpers
import SMTPCore
import Testing

@testable import Defenses

/// MTA-STS (RFC 8461): the TXT record, the policy file, MX matching, the §5.1 cache rules and
/// what the outbound stage's MX resolver does with an `enforce` policy.
@Suite struct MTASTSPolicyTests {
    static let example = "version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx: *.example.net\r\nmx: backupmx.example.com\r\nmax_age: 604800\r\n"

    @Test func recordsAsSection3Point1Says() {
        #expect(MTASTSRecord.parse("v=STSv1; id=20160831085700Z;") == MTASTSRecord(id: "20160831085700Z"))
        #expect(MTASTSRecord.parse("v=STSv1;id=abc") == MTASTSRecord(id: "abc"))
        #expect(MTASTSRecord.parse("v=STSv1; id=1; ext=whatever") == MTASTSRecord(id: "1"))
        #expect(MTASTSRecord.parse("id=1; v=STSv1") == nil)                     // v first
        #expect(MTASTSRecord.parse("v=STSv1; id=") == nil)
        #expect(MTASTSRecord.parse("v=STSv1; id=has-dash") == nil)
        #expect(MTASTSRecord.parse("v=STSv1; id=" + String(repeating: "a", count: 33)) == nil)
        #expect(MTASTSRecord.parse("v=STSv1") == nil)                           // no id
        #expect(MTASTSRecord.select(["v=spf1 -all", "v=STSv1; id=7"]) == MTASTSRecord(id: "7"))
        #expect(MTASTSRecord.select(["v=STSv1; id=7", "v=STSv1; id=8"]) == nil)  // two records: none
    }

    @Test func thePolicyFileOfTheRFCParses() throws {
        let policy = try MTASTSPolicy.parse(Self.example)
        #expect(policy == MTASTSPolicy(mode: .enforce, mx: ["mail.example.com", "*.example.net", "backupmx.example.com"], maxAge: 604_800))
        // LF line ends, spaces around values, unknown keys, a trailing blank line.
        let loose = try MTASTSPolicy.parse("version: STSv1\nmode:testing\nmx:  MX.Example.org. \nfuture_key: x\nmax_age:86400\n\n")
        #expect(loose.mode == .testing && loose.mx == ["mx.example.org"] && loose.maxAge == 86_400)
        #expect(try MTASTSPolicy.parse("version: STSv1\nmode: none\nmax_age: 0\n").mode == MTASTSPolicy.Mode.none)
    }

    @Test(arguments: [
        ("mode: enforce\nmx: a.example\nmax_age: 1\n", "version is not STSv1"),
        ("version: STSv2\nmode: enforce\nmx: a.example\nmax_age: 1\n", "version is not STSv1"),
        ("version: STSv1\nmode: strict\nmx: a.example\nmax_age: 1\n", "unknown mode 'strict'"),
        ("version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 31557601\n", "max_age '31557601' is not 0–31557600"),
        ("version: STSv1\nmode: enforce\nmx: a.example\n", "no max_age"),
        ("version: STSv1\nmode: enforce\nmax_age: 1\n", "no mx"),
        ("version: STSv1\nmode: enforce\nmx: *.*.example\nmax_age: 1\n", "mx '*.*.example' is not a host name or *.domain"),
        ("<html>\n", "line without ':': <html>"),
    ])
    func brokenPoliciesAreRefused(body: String, reason: String) {
        #expect(throws: MTASTSPolicy.ParseError(description: reason)) { try MTASTSPolicy.parse(body) }
    }

    @Test func mxPatternsMatchExactlyOrOneLeftmostLabel() throws {
        let policy = try MTASTSPolicy.parse(Self.example)
        #expect(policy.allows("mail.example.com") && policy.allows("MAIL.example.com."))
        #expect(policy.allows("mx1.example.net") && !policy.allows("a.mx1.example.net") && !policy.allows("example.net"))
        #expect(!policy.allows("mail.example.com.evil.test") && !policy.allows("xmail.example.com"))
    }

    /// A fetcher answering from a table, counting its calls.
    final class TableFetcher: MTASTSPolicyFetcher {
        let bodies: NIOLockedValueBox<[String: String]>
        let calls = NIOLockedValueBox(0)
        init(_ bodies: [String: String]) { self.bodies = NIOLockedValueBox(bodies) }
        func fetch(domain: String) async throws(MTASTSFetchError) -> String {
            calls.withLockedValue { $0 += 1 }
            guard let body = bodies.withLockedValue({ $0[domain] }) else { throw MTASTSFetchError("no answer for \(domain)") }
            return body
        }
    }

    final class Clock: Sendable {
        let value = NIOLockedValueBox(Date(timeIntervalSince1970: 1_800_000_000))
        var now: @Sendable () -> Date { { self.value.withLockedValue { $0 } } }
        func advance(_ seconds: TimeInterval) { value.withLockedValue { $0 += seconds } }
    }

    static func dns(id: String?) throws -> MockResolver {
        var dns = MockResolver()
        if let id { dns.add(.txt(TXTRecord("v=STSv1; id=\(id)")), at: "_mta-sts.example.com") }
        return dns
    }

    @Test func section5Point1CachingSurvivesAFailedFetchAndAStrippedRecord() async throws {
        let file = NSTemporaryDirectory() + "mailnode-sts-\(UUID().uuidString).json"
        defer { try? FileManager.default.removeItem(atPath: file) }
        let fetcher = TableFetcher(["example.com": Self.example])
        let clock = Clock()
        let cache = MTASTSPolicyCache(dns: try Self.dns(id: "1"), fetcher: fetcher, cacheFile: file, now: clock.now)
        #expect(await cache.lookup("example.com").policy?.mode == .enforce)
        #expect(await cache.lookup("Example.COM.").policy?.mode == .enforce)
        #expect(fetcher.calls.withLockedValue { $0 } == 1)          // same id: the cached policy

        // The attacker blocks the HTTPS fetch and changes the id: the cached policy still holds.
        fetcher.bodies.withLockedValue { $0 = [:] }
        let blocked = MTASTSPolicyCache(dns: try Self.dns(id: "2"), fetcher: fetcher, cacheFile: file, now: clock.now)
        guard case .policy(let kept, let source) = await blocked.lookup("example.com") else { Issue.record("cache lost"); return }
        #expect(kept.mode == .enforce && source.hasPrefix("cache (fetch failed"))
        // ... or strips the TXT record: still the cached policy (read back from the file).
        let stripped = MTASTSPolicyCache(dns: try Self.dns(id: nil), fetcher: fetcher, cacheFile: file, now: clock.now)
        #expect(await stripped.lookup("example.com").policy?.mode == .enforce)
        // After max_age nothing valid is left: no policy.
        clock.advance(604_801)
        guard case .none(let reason) = await stripped.lookup("example.com") else { Issue.record("expired policy used"); return }
        #expect(reason == "no _mta-sts record")
        // A new id with a reachable server: fetched again.
        fetcher.bodies.withLockedValue { $0 = ["example.com": Self.example.replacingOccurrences(of: "enforce", with: "testing")] }
        let renewed = MTASTSPolicyCache(dns: try Self.dns(id: "3"), fetcher: fetcher, cacheFile: file, now: clock.now)
        #expect(await renewed.lookup("example.com").policy?.mode == .testing)
        #expect(await renewed.cached("example.com")?.id == "3")
    }

    @Test func aPolicyPastHalfItsMaxAgeIsRefreshedAndKeptWhenTheRefreshFails() async throws {
        let fetcher = TableFetcher(["example.com": Self.example])   // max_age 604800
        let clock = Clock()
        let cache = MTASTSPolicyCache(dns: try Self.dns(id: "1"), fetcher: fetcher, now: clock.now)
        _ = await cache.lookup("example.com")
        clock.advance(200_000)
        _ = await cache.lookup("example.com")
        #expect(fetcher.calls.withLockedValue { $0 } == 1)          // well within max_age: no fetch
        clock.advance(200_000)                                      // 400000 of 604800 gone
        _ = await cache.lookup("example.com")
        #expect(fetcher.calls.withLockedValue { $0 } == 2)          // refreshed
        let refreshed = try #require(await cache.cached("example.com"))
        #expect(refreshed.expires == clock.now().timeIntervalSince1970 + 604_800)
        // A failing refresh keeps the cached policy in force.
        fetcher.bodies.withLockedValue { $0 = [:] }
        clock.advance(400_000)
        guard case .policy(_, let source) = await cache.lookup("example.com") else { Issue.record("policy lost"); return }
        #expect(source.hasPrefix("cache (fetch failed"))
    }

    @Test func noRecordOrNoServerMeansNoPolicy() async throws {
        let none = MTASTSPolicyCache(dns: try Self.dns(id: nil), fetcher: TableFetcher([:]))
        #expect(await none.lookup("example.com") == .none("no _mta-sts record"))
        let unreachable = MTASTSPolicyCache(dns: try Self.dns(id: "1"), fetcher: TableFetcher([:]))
        #expect(await unreachable.lookup("example.com") == .none("policy fetch failed: no answer for example.com"))
        let broken = MTASTSPolicyCache(dns: try Self.dns(id: "1"), fetcher: TableFetcher(["example.com": "<html>"]))
        #expect(await broken.lookup("example.com").policy == nil)
    }

    static let zone = """
        $ORIGIN example.com.
        $TTL 300
        @            IN MX 10 mail
        @            IN MX 20 rogue.example.org.
        mail         IN A  192.0.2.1
        """

    @Test func anEnforcePolicyKeepsTheNamedExchangersWithVerifiedTLS() async throws {
        var dns = try MockResolver(zone: Self.zone)
        try dns.add(zone: "$ORIGIN example.org.\n$TTL 300\nrogue IN A 198.51.100.66\n")
        dns.add(.txt(TXTRecord("v=STSv1; id=1")), at: "_mta-sts.example.com")
        var resolver = MXDestinationResolver(dns: dns, port: 25, pickIndex: { _ in 0 })
        resolver.mtaSTS = MTASTSPolicyCache(dns: dns, fetcher: TableFetcher(["example.com": Self.example]))
        guard case .hosts(let hops) = await resolver.destination(for: "example.com") else { Issue.record("no hosts"); return }
        #expect(hops.map(\.host) == ["192.0.2.1"])             // the rogue MX is not in the policy
        #expect(hops.map(\.tls) == [.verify] && hops.map(\.tlsServerName) == ["mail.example.com"])

        // No exchanger matches: deferred, never sent elsewhere.
        resolver.mtaSTS = MTASTSPolicyCache(dns: dns, fetcher: TableFetcher([
            "example.com": "version: STSv1\nmode: enforce\nmx: other.example.com\nmax_age: 100\n",
        ]))
        // A security deferral (4.7.5 in the queue and in delay warnings), not a DNS failure.
        guard case .securityDeferral(let reason) = await resolver.destination(for: "example.com") else { Issue.record("not deferred"); return }
        #expect(reason.contains("allows none of its mail exchangers mail.example.com, rogue.example.org"))

        // testing: as without a policy; a tls_policy entry wins over MTA-STS.
        resolver.mtaSTS = MTASTSPolicyCache(dns: dns, fetcher: TableFetcher([
            "example.com": Self.example.replacingOccurrences(of: "enforce", with: "testing"),
        ]))
        guard case .hosts(let testing) = await resolver.destination(for: "example.com") else { Issue.record("no hosts"); return }
        #expect(testing.map(\.host) == ["192.0.2.1", "198.51.100.66"] && Set(testing.map(\.tls)) == [.opportunistic])
        // ... except that a policy in either mode vouches for the names it lists (REQUIRETLS, RFC 8689 §4.2.1).
        #expect(testing.map(\.mxAuthenticated) == [true, false])
        #expect(hops.map(\.mxAuthenticated) == [true])
        resolver.mtaSTS = MTASTSPolicyCache(dns: dns, fetcher: TableFetcher(["example.com": Self.example]))
        resolver.tlsPolicy = TLSPolicyTable(["example.com": .encrypt])
        guard case .hosts(let table) = await resolver.destination(for: "example.com") else { Issue.record("no hosts"); return }
        #expect(table.count == 2 && Set(table.map(\.tls)) == [.required])
    }
}
