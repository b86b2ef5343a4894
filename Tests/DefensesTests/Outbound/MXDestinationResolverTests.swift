import Foundation
import SMTPCore
import Testing

@testable import Defenses

/// ``MXDestinationResolver`` over ``MockResolver``: the RFC 5321 §5.1 and RFC 7505 rules.
@Suite("MXDestinationResolver")
struct MXDestinationResolverTests {
    static let zone = """
        $ORIGIN example.
        $TTL 300
        pref     IN MX   20 backup
        pref     IN MX   10 primary
        primary  IN A    192.0.2.1
        primary  IN AAAA 2001:db8::1
        backup   IN A    192.0.2.2
        equal    IN MX   10 a
        equal    IN MX   10 b
        equal    IN MX   10 c
        equal    IN MX   20 backup
        a        IN A    192.0.2.10
        b        IN A    192.0.2.11
        c        IN A    192.0.2.12
        implicit IN A    192.0.2.30
        implicit IN TXT  "no MX here"
        bare     IN TXT  "neither MX nor address"
        nomail   IN MX   0 .
        dangling IN MX   10 nowhere
        flaky    IN MX   10 broken
        flaky    IN MX   20 backup
        allflaky IN MX   10 broken
        broken   IN TXT  "its A and AAAA fail"
        """

    static func dns() throws -> MockResolver {
        var dns = try MockResolver(zone: zone)
        dns.fail("servfail.example", with: .serverFailure)
        dns.fail("slow.example", with: .timeout)
        dns.fail("broken.example", with: .serverFailure, type: .a)
        dns.fail("broken.example", with: .serverFailure, type: .aaaa)
        return dns
    }

    /// Always picks the first index: Fisher–Yates then rotates each group by one.
    static func resolver(_ dns: MockResolver, order: MXDestinationResolver.AddressOrder = .ipv4First,
                         pick: @escaping @Sendable (Int) -> Int = { _ in 0 }) -> MXDestinationResolver {
        MXDestinationResolver(dns: dns, port: 2525, tls: .opportunistic, addressOrder: order, pickIndex: pick)
    }

    static func hosts(_ destination: Destination) -> [String] {
        guard case .hosts(let hops) = destination else { return ["not hosts: \(destination)"] }
        return hops.map { "\($0.name)=\($0.host):\($0.port)" }
    }

    @Test func preferenceOrderWithEveryAddress() async throws {
        let destination = await Self.resolver(try Self.dns()).destination(for: "pref.example")
        #expect(Self.hosts(destination) == [
            "primary.example=192.0.2.1:2525", "primary.example=2001:db8::1:2525", "backup.example=192.0.2.2:2525",
        ])
        let v6 = await Self.resolver(try Self.dns(), order: .ipv6First).destination(for: "pref.example")
        #expect(Self.hosts(v6).prefix(2) == ["primary.example=2001:db8::1:2525", "primary.example=192.0.2.1:2525"])
        let v4 = await Self.resolver(try Self.dns(), order: .ipv4Only).destination(for: "pref.example")
        #expect(Self.hosts(v4) == ["primary.example=192.0.2.1:2525", "backup.example=192.0.2.2:2525"])
    }

    @Test func equalPreferencesAreShuffledByTheInjectedGenerator() async throws {
        let dns = try Self.dns()
        // pick 0 always: [a b c] → swap(2,0) [c b a] → swap(1,0) [b c a]
        let first = await Self.resolver(dns).destination(for: "equal.example")
        #expect(Self.hosts(first).map { String($0.prefix(1)) } == ["b", "c", "a", "b"])
        #expect(Self.hosts(first).last == "backup.example=192.0.2.2:2525")
        // pick the last always: the identity
        let identity = await Self.resolver(dns, pick: { $0 - 1 }).destination(for: "equal.example")
        #expect(Self.hosts(identity).map { String($0.prefix(1)) } == ["a", "b", "c", "b"])
        // The system generator: every order is a permutation of the group, backup always last.
        var seen = Set<[String]>()
        for _ in 0..<60 {
            let hosts = Self.hosts(await MXDestinationResolver(dns: dns).destination(for: "equal.example"))
            #expect(Set(hosts.prefix(3).map { String($0.prefix(1)) }) == ["a", "b", "c"])
            #expect(hosts.last?.hasPrefix("backup.example=") == true)
            seen.insert(Array(hosts.prefix(3)))
        }
        #expect(seen.count > 1)
    }

    @Test func implicitMXIsTheDomainItself() async throws {
        let destination = await Self.resolver(try Self.dns()).destination(for: "implicit.example")
        #expect(Self.hosts(destination) == ["implicit.example=192.0.2.30:2525"])
        // NODATA for MX and no address either: no mail host.
        let bare = await Self.resolver(try Self.dns()).destination(for: "bare.example")
        guard case .noMailHost = bare else { Issue.record("\(bare)"); return }
    }

    @Test func nullMXAndMissingDomains() async throws {
        let resolver = Self.resolver(try Self.dns())
        #expect(await resolver.destination(for: "nomail.example") == .nullMX)
        let missing = await resolver.destination(for: "missing.example")
        guard case .noMailHost(let reason) = missing else { Issue.record("\(missing)"); return }
        #expect(reason.contains("does not exist"))
        let dangling = await resolver.destination(for: "dangling.example")
        guard case .noMailHost = dangling else { Issue.record("\(dangling)"); return }
    }

    @Test func dnsFailuresAreTemporary() async throws {
        let resolver = Self.resolver(try Self.dns())
        for domain in ["servfail.example", "slow.example", "allflaky.example"] {
            let destination = await resolver.destination(for: domain)
            guard case .temporaryFailure = destination else { Issue.record("\(domain): \(destination)"); continue }
        }
        // An exchanger whose addresses cannot be looked up now is skipped while another has one.
        #expect(Self.hosts(await resolver.destination(for: "flaky.example")) == ["backup.example=192.0.2.2:2525"])
    }

    @Test func addressLimitAndHopSettings() async throws {
        var resolver = Self.resolver(try Self.dns())
        resolver.maxAddresses = 2
        resolver.tls = .required
        let destination = await resolver.destination(for: "pref.example")
        guard case .hosts(let hops) = destination else { Issue.record("\(destination)"); return }
        #expect(hops.count == 2)
        #expect(hops.allSatisfy { $0.tls == .required && $0.sessionProtocol == .smtp && $0.port == 2525 })
    }

    @Test func anExchangerThatIsThisHostEndsTheListOrLoops() async throws {
        let dns = try Self.dns()
        // We are the backup (preference 20): only the better primary is left.
        var resolver = Self.resolver(dns)
        resolver.ownHost = .init(addresses: ["192.0.2.2"])
        #expect(Self.hosts(await resolver.destination(for: "pref.example")) == [
            "primary.example=192.0.2.1:2525", "primary.example=2001:db8::1:2525",
        ])
        // We are the best: nothing is left, the mail would come back to us.
        resolver.ownHost = .init(addresses: ["2001:db8:0::1"])
        let loop = await resolver.destination(for: "pref.example")
        #expect(loop == .loopsBack("mail for pref.example loops back to myself: its best mail exchanger primary.example is this host"))
        // One of three equal exchangers is us (named by host name): that preference and the worse
        // backup go, so it loops — also when the other two came first in the shuffle.
        resolver.ownHost = .init(names: ["A.example."])
        let equal = await resolver.destination(for: "equal.example")   // order b, c, a, backup
        #expect(equal == .loopsBack("mail for equal.example loops back to myself: its best mail exchanger a.example is this host"))
        // The implicit MX being this host loops too.
        resolver.ownHost = .init(addresses: ["192.0.2.30"])
        if case .loopsBack(let reason) = await resolver.destination(for: "implicit.example") {
            #expect(reason.contains("loops back to myself"))
        } else {
            Issue.record("the implicit MX on our address should loop")
        }
        // Without an own host nothing changes.
        resolver.ownHost = .init()
        #expect(Self.hosts(await resolver.destination(for: "pref.example")).count == 3)
    }

    @Test func theTLSPolicyTableSetsEachDomainsLevelAndTheNameToVerify() async throws {
        let table = TLSPolicyTable(["Pref.Example.": .verify, ".example": .encrypt, "implicit.example": TLSPolicyTable.Level.none])
        #expect(table.policy(for: "pref.example") == .verify)
        #expect(table.policy(for: "a.b.example") == .encrypt)
        #expect(table.policy(for: "example") == nil)
        #expect(table.policy(for: "other.test") == nil)
        #expect(["none", "may", "encrypt", "verify", "dane", "dane-only", "strict"].map(TLSPolicyTable.level(named:))
            == [TLSPolicyTable.Level.none, .may, .encrypt, .verify, .dane, .daneOnly, nil])
        #expect(TLSPolicyTable.Level.allCases.map(\.hopTLS) == [NextHop.HopTLS.none, .opportunistic, .required, .verify, .opportunistic, .required])

        var resolver = Self.resolver(try Self.dns())
        resolver.tlsPolicy = table
        guard case .hosts(let hops) = await resolver.destination(for: "pref.example") else { Issue.record("no hosts"); return }
        #expect(hops.map(\.tls) == [.verify, .verify, .verify])
        #expect(hops.map(\.tlsServerName) == ["primary.example", "primary.example", "backup.example"])
        guard case .hosts(let implicit) = await resolver.destination(for: "implicit.example") else { Issue.record("no hosts"); return }
        #expect(implicit.map(\.tls) == [NextHop.HopTLS.none])
        guard case .hosts(let others) = await Self.resolver(try Self.dns()).destination(for: "equal.example") else { Issue.record("no hosts"); return }
        #expect(Set(others.map(\.tls)) == [.opportunistic])
    }

    @Test func aDomainThatDidTLSOnceIsNeverSentPlaintextAgain() async throws {
        let file = NSTemporaryDirectory() + "mailnode-tlshistory-\(UUID().uuidString).json"
        defer { try? FileManager.default.removeItem(atPath: file) }
        var resolver = Self.resolver(try Self.dns())
        resolver.tlsHistory = TLSHistory(file: file)
        guard case .hosts(let before) = await resolver.destination(for: "pref.example") else { Issue.record("no hosts"); return }
        #expect(Set(before.map(\.tls)) == [.opportunistic])
        await resolver.tlsHistory?.noteTLS("Pref.Example.", at: Date())
        // A new instance reads the promise back from the file.
        resolver.tlsHistory = TLSHistory(file: file)
        guard case .hosts(let after) = await resolver.destination(for: "pref.example") else { Issue.record("no hosts"); return }
        #expect(Set(after.map(\.tls)) == [.required])
        guard case .hosts(let others) = await resolver.destination(for: "equal.example") else { Issue.record("no hosts"); return }
        #expect(Set(others.map(\.tls)) == [.opportunistic])
        // An explicit level is left alone (none stays none; verify stays verify).
        resolver.tlsPolicy = TLSPolicyTable(["pref.example": TLSPolicyTable.Level.none])
        guard case .hosts(let table) = await resolver.destination(for: "pref.example") else { Issue.record("no hosts"); return }
        #expect(Set(table.map(\.tls)) == [NextHop.HopTLS.none])
    }
}
