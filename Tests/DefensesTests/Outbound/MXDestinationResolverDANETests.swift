import SMTPCore
import Testing

@testable import Defenses

/// When ``MXDestinationResolver`` applies DANE (RFC 7672 §2.2), over ``MockResolver`` with the AD
/// bit on or off per zone. The live check of the certificates against the records is
/// `DANELiveTests` (a signed zone, nsd and a validating unbound).
@Suite("MXDestinationResolver: DANE")
struct MXDestinationResolverDANETests {
    static let digest = String(repeating: "ab", count: 32)
    static let zone = """
        $ORIGIN example.
        $TTL 300
        signed         IN MX   10 mx.signed
        mx.signed      IN A    192.0.2.40
        _2525._tcp.mx.signed IN TLSA 3 1 1 \(digest)
        _2525._tcp.mx.signed IN TLSA 1 1 1 \(digest)
        two            IN MX   10 mx.signed
        two            IN MX   20 mx.plain
        unusable       IN MX   10 mx.unusable
        mx.unusable    IN A    192.0.2.41
        _2525._tcp.mx.unusable IN TLSA 0 0 1 \(digest)
        _2525._tcp.mx.unusable IN TLSA 3 1 1 abcd
        plain          IN MX   10 mx.plain
        mx.plain       IN A    192.0.2.42
        bogus          IN MX   10 mx.bogus
        bogus          IN MX   20 mx.plain
        mx.bogus       IN A    192.0.2.43
        alias          IN MX   10 mxalias
        mxalias        IN CNAME mx.signed
        implicit       IN A    192.0.2.44
        _2525._tcp.implicit IN TLSA 2 0 1 \(digest)
        hosted         IN MX   10 mx.signed
        """

    static func dns(authenticated: Bool = true) throws -> MockResolver {
        var dns = try MockResolver(zone: zone)
        dns.authenticated = authenticated
        dns.fail("_2525._tcp.mx.bogus.example", with: .serverFailure, type: .tlsa)
        return dns
    }

    static func resolver(_ dns: MockResolver) -> MXDestinationResolver {
        MXDestinationResolver(dns: dns, port: 2525, tls: .opportunistic, pickIndex: { _ in 0 })
    }

    static func hops(_ destination: Destination) -> [NextHop] {
        guard case .hosts(let hops) = destination else { return [] }
        return hops
    }

    @Test func validatedUsableRecordsMakeTheHopDANEAuthenticated() async throws {
        let hops = Self.hops(await Self.resolver(try Self.dns()).destination(for: "signed.example"))
        #expect(hops.count == 1)
        let dane = try #require(hops.first?.dane)
        #expect(hops.first?.tls == .required)
        // The PKIX-EE record is not usable for SMTP (RFC 7672 §3.1.3) and is left out.
        #expect(dane.records.map(\.description) == ["3 1 1 " + Self.digest])
        #expect(dane.baseDomain == "mx.signed.example")
        #expect(dane.referenceNames == ["mx.signed.example", "signed.example"])
        #expect(hops.first?.mxAuthenticated == true)   // a validated MX RRset (REQUIRETLS)
    }

    @Test func withoutTheADBitNothingChanges() async throws {
        let unsigned = Self.hops(await Self.resolver(try Self.dns(authenticated: false)).destination(for: "signed.example"))
        #expect(unsigned.map(\.dane) == [nil] && unsigned.map(\.tls) == [.opportunistic])
        #expect(unsigned.map(\.mxAuthenticated) == [false])
        // A signed exchanger zone does not help an unsigned MX RRset (as Postfix: §2.2.1's "MAY" not taken).
        var dns = try Self.dns()
        dns.insecureZones = ["hosted.example"]
        let hosted = Self.hops(await Self.resolver(dns).destination(for: "hosted.example"))
        #expect(hosted.map(\.dane) == [nil])
        // Nor does a signed MX RRset pointing at an exchanger in an unsigned zone.
        dns = try Self.dns()
        dns.insecureZones = ["mx.signed.example"]
        #expect(Self.hops(await Self.resolver(dns).destination(for: "signed.example")).map(\.dane) == [nil])
    }

    @Test func onlyUnusableRecordsStillMakeTLSMandatory() async throws {
        let hops = Self.hops(await Self.resolver(try Self.dns()).destination(for: "unusable.example"))
        #expect(hops.map(\.dane) == [nil])
        #expect(hops.map(\.tls) == [.required])
    }

    @Test func anExchangerWithoutRecordsKeepsTheDefaultUnlessDANEIsMandatory() async throws {
        var resolver = Self.resolver(try Self.dns())
        let plain = Self.hops(await resolver.destination(for: "plain.example"))
        #expect(plain.map(\.dane) == [nil] && plain.map(\.tls) == [.opportunistic])
        // Mixed: each exchanger on its own records.
        let two = Self.hops(await resolver.destination(for: "two.example"))
        #expect(two.map { $0.dane != nil } == [true, false])
        resolver.tlsPolicy = TLSPolicyTable(["plain.example": .daneOnly, "two.example": .daneOnly])
        guard case .securityDeferral(let reason) = await resolver.destination(for: "plain.example") else {
            Issue.record("dane-only without records must defer (4.7.5)")
            return
        }
        #expect(reason.contains("dane-only") && reason.contains("mx.plain.example"))
        #expect(Self.hops(await resolver.destination(for: "two.example")).map(\.name) == ["mx.signed.example"])
    }

    @Test func aFailedTLSALookUpSkipsThatExchanger() async throws {
        let resolver = Self.resolver(try Self.dns())
        // The better exchanger's TLSA look-up fails (a validating resolver's SERVFAIL for forged
        // data): it is skipped, never used without DANE; the second one takes the mail.
        #expect(Self.hops(await resolver.destination(for: "bogus.example")).map(\.name) == ["mx.plain.example"])
        var only = try Self.dns()
        only.fail("mx.plain.example", with: .serverFailure, type: .a)
        guard case .temporaryFailure(let reason) = await Self.resolver(only).destination(for: "bogus.example") else {
            Issue.record("expected a temporary failure")
            return
        }
        #expect(reason.contains("TLSA look-up for _2525._tcp.mx.bogus.example"))
    }

    @Test func theTLSABaseDomainIsTheCNAMETargetThenTheImplicitMX() async throws {
        let resolver = Self.resolver(try Self.dns())
        let alias = try #require(Self.hops(await resolver.destination(for: "alias.example")).first?.dane)
        #expect(alias.baseDomain == "mx.signed.example")
        #expect(alias.referenceNames == ["mx.signed.example", "mxalias.example", "alias.example"])
        // No MX: the domain itself is the exchanger, its NODATA validated.
        let implicit = try #require(Self.hops(await resolver.destination(for: "implicit.example")).first?.dane)
        #expect(implicit.baseDomain == "implicit.example" && implicit.records.map(\.usage) == [2])
    }

    @Test func daneOffAndPerDomainLevels() async throws {
        var resolver = Self.resolver(try Self.dns())
        resolver.dane = false
        #expect(Self.hops(await resolver.destination(for: "signed.example")).map(\.dane) == [nil])
        resolver.tlsPolicy = TLSPolicyTable(["signed.example": .dane, "alias.example": .verify])
        #expect(Self.hops(await resolver.destination(for: "signed.example")).first?.dane != nil)
        // An explicit non-DANE level wins over DANE (as in Postfix's policy table).
        resolver.dane = true
        let verify = Self.hops(await resolver.destination(for: "alias.example"))
        #expect(verify.map(\.dane) == [nil] && verify.map(\.tls) == [.verify])
    }
}
