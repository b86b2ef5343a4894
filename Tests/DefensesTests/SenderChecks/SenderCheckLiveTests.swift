import Foundation
import Testing
import SMTPCore

@testable import Defenses

/// ``SenderChecker`` over ``LDNSResolver`` against the dnslib server (`Fixtures/dns/senders.zone`,
/// `reverse.zone`, `example.zone`, `behaviours.conf`).
@Suite("Sender checks over LDNSResolver against a live DNS server")
struct SenderCheckLiveTests {
    func checker(_ server: DNSTestServer) -> SenderChecker {
        // 3 s and a retry: in a fresh-clone CI run 1 s once lost an answer (iprev gave temperror, not permerror);
        // two silent questions still end well inside the 15 s bound below.
        SenderChecker(resolver: server.resolver(timeout: .seconds(3), attempts: 2),
                      configuration: SenderCheckConfiguration(localNames: ["mx.senders.test"]))
    }

    @Test func senderDomains() async throws {
        try await withDNSTestServer { server in
            let c = checker(server)
            #expect(await c.checkSenderDomain("good.senders.test").mailHosts == ["mx.good.senders.test"])
            #expect(await c.checkSenderDomain("implicit.senders.test").result == .pass)
            #expect(await c.checkSenderDomain("implicit6.senders.test").result == .pass)
            let null = await c.checkSenderDomain("nullmx.senders.test")
            #expect(null.result == .nullMX)
            #expect(server.queries("nullmx.senders.test", "A").isEmpty)   // the null MX decides; no A/AAAA asked
            #expect(await c.checkSenderDomain("nx.senders.test").result == .nonexistent)
            #expect(await c.checkSenderDomain("nomail.senders.test").result == .noMailHost)
            #expect(await c.checkSenderDomain("servfail.example").result == .temperror)
            let start = ContinuousClock.now
            #expect(await c.checkSenderDomain("silent.example").result == .temperror)
            #expect(ContinuousClock.now - start < .seconds(15))   // the 20 s time limit was not needed
        }
    }

    @Test func forwardConfirmedReverseDNS() async throws {
        try await withDNSTestServer { server in
            let c = checker(server)
            let pass = await c.checkIPRev(IPAddress("192.0.2.10")!)
            #expect(pass.result == .pass && pass.confirmedName == "host.example")
            #expect(pass.authenticationResultsFragment == "iprev=pass policy.iprev=192.0.2.10 (host.example)")
            #expect(await c.checkIPRev(IPAddress("2001:db8::10")!).result == .pass)
            // PTR elsewhere.senders.test, whose A is 198.51.100.7: pass
            #expect(await c.checkIPRev(IPAddress("198.51.100.7")!).confirmedName == "elsewhere.senders.test")
            // PTR client.senders.test, whose A is 192.0.2.10: fail
            let fail = await c.checkIPRev(IPAddress("198.51.100.8")!)
            #expect(fail.result == .fail && fail.names == ["client.senders.test"])
            #expect(await c.checkIPRev(IPAddress("192.0.2.99")!).result == .permerror)   // no PTR data
        }
    }

    @Test func heloNames() async throws {
        try await withDNSTestServer { server in
            let c = checker(server)
            let client = IPAddress("192.0.2.10")!
            let matching = await c.checkHELO(.domain("client.senders.test"), clientIP: client)
            #expect(matching.result == .pass && matching.matchesClient == true)
            let elsewhere = await c.checkHELO(.domain("elsewhere.senders.test"), clientIP: client)
            #expect(elsewhere.result == .pass && elsewhere.matchesClient == false)
            #expect(await c.checkHELO(.domain("nx.senders.test"), clientIP: client).result == .unresolvable)
            #expect(await c.checkHELO(.domain("mx.senders.test"), clientIP: client).result == .impersonation)
            #expect(await c.checkHELO(.domain("servfail.example"), clientIP: client).result == .temperror)
        }
    }
}
