import Testing
import SMTPCore

@testable import Defenses

/// ``SenderChecker`` over ``MockResolver``: sender domain (MX, implicit MX, null MX), iprev
/// (RFC 8601 §3) and HELO checks.
@Suite("Sender and client checks (DM19)")
struct SenderCheckerTests {
    static let zone = """
        $ORIGIN example.
        good            MX 10 mx.good.example.
        mx.good         A  192.0.2.30
        implicit        A  192.0.2.31
        implicit6       AAAA 2001:db8::31
        nullmx          MX 0 .
        nullmx          A  192.0.2.32
        mixed           MX 0 .
        mixed           MX 10 mx.good.example.
        nomail          TXT "no mail"
        host            A  192.0.2.10
        host            AAAA 2001:db8::10
        other           A  198.51.100.7
        multi           A  192.0.2.40
        $ORIGIN arpa.
        10.2.0.192.in-addr.arpa.  PTR host.example.
        20.2.0.192.in-addr.arpa.  PTR other.example.
        40.2.0.192.in-addr.arpa.  PTR gone.example.
        40.2.0.192.in-addr.arpa.  PTR multi.example.
        50.2.0.192.in-addr.arpa.  PTR broken.example.
        1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa. PTR host.example.
        0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa. PTR host.example.
        """

    static func dns() -> MockResolver {
        var dns = try! MockResolver(zone: zone)
        dns.fail("temp.example", with: .serverFailure)
        dns.fail("broken.example", with: .timeout)
        dns.fail("60.2.0.192.in-addr.arpa", with: .serverFailure)
        dns.fail("halfbroken.example", with: .serverFailure, type: .aaaa)
        dns.add(.a(IPv4Address("192.0.2.33")!), at: "halfbroken.example")
        return dns
    }

    let checker = SenderChecker(resolver: SenderCheckerTests.dns(), configuration: SenderCheckConfiguration(
        localNames: ["mx.ours.example", "Ours.Example."], localAddresses: [IPAddress("192.0.2.1")!]))

    // MARK: - Sender domain

    @Test(arguments: [
        ("good.example", SenderDomainResult.pass, ["mx.good.example"]),
        ("implicit.example", .pass, ["implicit.example"]),    // RFC 5321 §5.1 implicit MX (A)
        ("implicit6.example", .pass, ["implicit6.example"]),  // ... or AAAA
        ("halfbroken.example", .pass, ["halfbroken.example"]), // an A is enough even if AAAA failed
        ("nullmx.example", .nullMX, []),                      // RFC 7505: the A record does not matter
        ("mixed.example", .pass, ["mx.good.example"]),        // "." among other MX is ignored
        ("nx.example", .nonexistent, []),
        ("nomail.example", .noMailHost, []),
        ("temp.example", .temperror, []),
        ("GOOD.Example.", .pass, ["mx.good.example"]),
    ])
    func senderDomain(_ domain: String, _ expected: SenderDomainResult, _ hosts: [String]) async {
        let check = await checker.checkSenderDomain(domain)
        #expect(check.result == expected, "\(check.trail)")
        #expect(check.mailHosts == hosts)
    }

    @Test func senderDomainOfReversePaths() async {
        #expect(await checker.checkSenderDomain(ReversePath.null).result == .none)
        let literal = ReversePath.mailbox(Mailbox(localPart: "a", host: .ipv4("192.0.2.1")))
        #expect(await checker.checkSenderDomain(literal).result == .none)
        let idn = ReversePath.mailbox(Mailbox(localPart: "a", host: .domain("xn--bcher-kva.example")))
        #expect(await checker.checkSenderDomain(idn).result == .nonexistent)
        #expect(await checker.checkSenderDomain("").result == .invalid)
        #expect(await checker.checkSenderDomain("bad..example").result == .invalid)
    }

    @Test func senderDomainTimeLimit() async {
        var dns = MockResolver()
        dns.timeoutDelay = .seconds(30)
        dns.fail("slow.example", with: .timeout)
        let slow = SenderChecker(resolver: dns, configuration: SenderCheckConfiguration(timeLimit: .milliseconds(100)))
        let start = ContinuousClock.now
        let check = await slow.checkSenderDomain("slow.example")
        #expect(check.result == .temperror)
        #expect(ContinuousClock.now - start < .seconds(29))   // the resolver alone would take 30 s
    }

    // MARK: - iprev

    @Test(arguments: [
        ("192.0.2.10", IPRevResult.pass, "host.example"),
        ("::ffff:192.0.2.10", .pass, "host.example"),   // IPv4-mapped: checked as IPv4
        ("192.0.2.20", .fail, nil),                     // other.example is 198.51.100.7
        ("192.0.2.40", .pass, "multi.example"),         // the second PTR name confirms
        ("192.0.2.50", .temperror, nil),                // forward look-up timed out
        ("192.0.2.60", .temperror, nil),                // PTR SERVFAIL
        ("192.0.2.99", .permerror, nil),                // no PTR data (RFC 8601 §2.7.3)
        ("2001:db8::1", .fail, nil),                    // host.example AAAA is 2001:db8::10
        ("2001:db8::10", .pass, "host.example"),
    ] as [(String, IPRevResult, String?)])
    func iprev(_ ip: String, _ expected: IPRevResult, _ name: String?) async {
        let check = await checker.checkIPRev(IPAddress(ip)!)
        #expect(check.result == expected, "\(check.trail)")
        #expect(check.confirmedName == name)
    }

    @Test func iprevAuthenticationResults() async {
        #expect(await checker.checkIPRev(IPAddress("192.0.2.10")!).authenticationResultsFragment
            == "iprev=pass policy.iprev=192.0.2.10 (host.example)")
        #expect(await checker.checkIPRev(IPAddress("192.0.2.99")!).authenticationResultsFragment == "iprev=permerror policy.iprev=192.0.2.99")
    }

    @Test func iprevLooksAtTenNamesAtMost() async {
        var dns = MockResolver()
        for index in 0..<12 { dns.add(.ptr("n\(index).example"), at: "5.2.0.192.in-addr.arpa") }
        dns.add(.a(IPv4Address("192.0.2.5")!), at: "n11.example")   // only the 12th confirms
        let check = await SenderChecker(resolver: dns).checkIPRev(IPAddress("192.0.2.5")!)
        #expect(check.result == .fail)
        #expect(check.names.count == 10)
    }

    // MARK: - HELO

    @Test(arguments: [
        (MailHost.domain("host.example"), "192.0.2.10", HELOResult.pass, true),
        (.domain("other.example"), "192.0.2.10", .pass, false),        // resolves, elsewhere: not refused (RFC 5321 §4.1.4)
        (.domain("localhost"), "192.0.2.10", .notFQDN, nil),
        (.domain("mail"), "192.0.2.10", .notFQDN, nil),
        (.domain("192.0.2.10"), "192.0.2.10", .notFQDN, nil),          // a bare address is no FQDN
        (.domain("-bad.example"), "192.0.2.10", .notFQDN, nil),
        (.general(tag: "X", content: "y"), "192.0.2.10", .notFQDN, nil),
        (.domain("MX.Ours.Example"), "192.0.2.10", .impersonation, nil),
        (.domain("ours.example."), "192.0.2.10", .impersonation, nil),
        (.ipv4("192.0.2.1"), "192.0.2.10", .impersonation, false),    // our address
        (.ipv4("192.0.2.10"), "192.0.2.10", .pass, true),
        (.ipv4("192.0.2.10"), "::ffff:192.0.2.10", .pass, true),
        (.ipv4("192.0.2.11"), "192.0.2.10", .literalMismatch, false),
        (.ipv6("2001:db8::1"), "2001:db8::1", .pass, true),
        (.ipv6("2001:DB8:0::1"), "2001:db8::1", .pass, true),
        (.ipv6("2001:db8::2"), "2001:db8::1", .literalMismatch, false),
        (.domain("nx.example"), "192.0.2.10", .unresolvable, nil),
        (.domain("nomail.example"), "192.0.2.10", .unresolvable, nil),
        (.domain("temp.example"), "192.0.2.10", .temperror, nil),
    ] as [(MailHost, String, HELOResult, Bool?)])
    func helo(_ host: MailHost, _ client: String, _ expected: HELOResult, _ matches: Bool?) async {
        let check = await checker.checkHELO(host, clientIP: IPAddress(client)!)
        #expect(check.result == expected, "\(check.trail)")
        #expect(check.matchesClient == matches)
    }

    @Test func heloLiteralOfTheLocalAddressIsImpersonation() async {
        let plain = SenderChecker(resolver: Self.dns())
        #expect(await plain.checkHELO(.ipv4("203.0.113.5"), clientIP: IPAddress("192.0.2.10")!,
                                      localAddress: IPAddress("203.0.113.5")!).result == .impersonation)
        // a client on our own host may name our address: it is its own
        #expect(await plain.checkHELO(.ipv4("203.0.113.5"), clientIP: IPAddress("203.0.113.5")!,
                                      localAddress: IPAddress("203.0.113.5")!).result == .pass)
    }

    @Test func fqdnRule() {
        #expect(SenderChecker.isFQDN("a.example") && SenderChecker.isFQDN("xn--bcher-kva.example") && SenderChecker.isFQDN("1.2.example"))
        #expect(!SenderChecker.isFQDN("example") && !SenderChecker.isFQDN("a..example") && !SenderChecker.isFQDN("a.123"))
        #expect(!SenderChecker.isFQDN("under_score.example") && !SenderChecker.isFQDN("a-.example"))
        #expect(!SenderChecker.isFQDN(String(repeating: "a", count: 64) + ".example"))
    }
}
