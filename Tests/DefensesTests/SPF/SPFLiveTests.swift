import Foundation
import Testing

@testable import Defenses

/// The SPF checker over the real resolver (``LDNSResolver``) against a real DNS server on loopback
/// (Tests/interop/dns_server.py serving Fixtures/dns, the policies in `spf.zone`).
@Suite("SPF over LDNSResolver against a live DNS server")
struct SPFLiveTests {
    /// A generous timeout by default: the full suite saturates two cores, and a 400 ms answer
    /// deadline lost to that load once (a `none` and a `pass` turned temperror). Only the
    /// dead-server test needs a short one.
    private func checker(_ server: DNSTestServer, edns: DNSResolverConfiguration.EDNS? = .init(),
                         timeout: Duration = .seconds(5), attempts: Int = 2) -> SPFChecker {
        SPFChecker(
            resolver: server.resolver(timeout: timeout, attempts: attempts, edns: edns),
            configuration: SPFConfiguration(receivingHost: "mx.receiver.test"))
    }

    private func mailFrom(_ spf: SPFChecker, _ ip: String, _ from: String, helo: String = "client.example") async -> SPFCheck {
        await spf.checkMailFrom(clientIP: IPAddress(ip)!, mailFrom: from, helo: helo)
    }

    @Test func mechanismsOverRealDNS() async throws {
        try await withDNSTestServer { server in
            let spf = checker(server)
            // mx (A and AAAA of the MX host), a:, ip6:, include:
            #expect(await mailFrom(spf, "192.0.2.25", "alice@spf.test").result == .pass)
            #expect(await mailFrom(spf, "2001:db8:25::1", "alice@spf.test").result == .pass)
            #expect(await mailFrom(spf, "192.0.2.26", "alice@spf.test").mechanism == "a:relay.spf.test")
            #expect(await mailFrom(spf, "2001:db8:5:1::7", "alice@spf.test").result == .pass)
            let partner = await mailFrom(spf, "198.51.100.7", "alice@spf.test")
            #expect(partner.result == .pass && partner.mechanism == "include:partner.spf.test")
            // -all with the exp= text fetched and expanded (two character-strings, RFC 7208 §6.2)
            let denied = await mailFrom(spf, "203.0.113.9", "alice@spf.test")
            #expect(denied.result == .fail)
            #expect(denied.explanation == "203.0.113.9 is not one of spf.test's designated mail servers.")
            #expect(denied.dnsTerms == 3)
            // redirect=, exists: with %{ir}, ptr: with a validated reverse name
            #expect(await mailFrom(spf, "192.0.2.26", "bob@redirect.spf.test").result == .pass)
            #expect(await mailFrom(spf, "192.0.2.25", "bob@exists.spf.test").result == .pass)
            #expect(await mailFrom(spf, "192.0.2.26", "bob@exists.spf.test").result == .fail)
            #expect(await mailFrom(spf, "192.0.2.10", "carol@ptr.spf.test").result == .pass)
            #expect(await mailFrom(spf, "192.0.2.11", "carol@ptr.spf.test").result == .fail)
            let queried = server.queries("25.2.0.192.allow.spf.test", "A")
            #expect(!queried.isEmpty)
        }
    }

    @Test func noneVoidAndDuplicateRecords() async throws {
        try await withDNSTestServer { server in
            let spf = checker(server)
            #expect(await mailFrom(spf, "192.0.2.1", "x@nospf.spf.test").result == .none)
            #expect(await mailFrom(spf, "192.0.2.1", "x@nxdomain.spf.test").result == .none)
            let void = await mailFrom(spf, "192.0.2.1", "x@void.spf.test")
            #expect(void.result == .permerror)
            #expect(void.voidLookups == 3)
            #expect(await mailFrom(spf, "192.0.2.1", "x@twice.spf.test").result == .permerror)
        }
    }

    @Test func bothIdentitiesOfASession() async throws {
        try await withDNSTestServer { server in
            let spf = checker(server)
            let ip = IPAddress("192.0.2.25")!
            let verification = await spf.verify(clientIP: ip, mailFrom: "alice@spf.test", helo: "mail.spf.test")
            #expect(verification.helo?.result == .pass)
            #expect(verification.helo?.identity == .helo)
            #expect(verification.mailFrom.result == .pass)
            #expect(verification.mailFrom.authenticationResultsFragment == "spf=pass smtp.mailfrom=spf.test")
            // The null reverse-path is postmaster@<helo>: the HELO evaluation, done once.
            let bounce = await spf.verify(clientIP: ip, mailFrom: "<>", helo: "mail.spf.test")
            #expect(bounce.mailFrom.result == .pass)
            #expect(bounce.mailFrom.identity == .mailFrom)
            #expect(bounce.mailFrom.sender.description == "postmaster@mail.spf.test")
            #expect(server.queries("mail.spf.test", "TXT").count == 2)  // once per verify
        }
    }

    /// A TXT answer of 776 bytes: without EDNS the UDP reply is truncated (RFC 1035 §4.2.1) and
    /// the record comes over TCP (RFC 7766); with EDNS (1232 bytes) it fits in UDP.
    @Test func largeRecordOverTCPFallback() async throws {
        try await withDNSTestServer { server in
            let plain = await mailFrom(checker(server, edns: nil), "192.0.2.99", "x@long.spf.test")
            #expect(plain.result == .pass)
            #expect(plain.mechanism == "ip4:192.0.2.99")
            let transports = server.queries("long.spf.test", "TXT").compactMap { $0.split(separator: " ").first }
            #expect(transports == ["udp", "tcp"])
            #expect(await mailFrom(checker(server), "198.18.39.1", "x@long.spf.test").result == .pass)
        }
    }

    /// A server that never answers costs the resolver's timeout and gives temperror
    /// (RFC 7208 §4.4, §5.2); SERVFAIL too.
    @Test func deadOrFailingServerIsTemperror() async throws {
        try await withDNSTestServer { server in
            let spf = checker(server, timeout: .milliseconds(400), attempts: 1)
            let start = ContinuousClock.now
            let timedOut = await mailFrom(spf, "192.0.2.1", "x@timeout.spf.test")
            let elapsed = ContinuousClock.now - start
            #expect(timedOut.result == .temperror)
            #expect(timedOut.problem?.contains("timeout") == true)
            #expect(elapsed < .seconds(30))   // 400 ms configured: only a hang fails this
            #expect(!server.queries("silent.example", "TXT").isEmpty)
            let servfail = await mailFrom(spf, "192.0.2.1", "x@servfail.spf.test")
            #expect(servfail.result == .temperror)
            #expect(servfail.receivedSPF(receiver: "mx.receiver.test").hasPrefix("temperror ("))
        }
    }

    /// The overall time limit (RFC 7208 §4.6.4) ends a check whose look-ups take too long, even
    /// when each look-up is within the resolver's own timeout.
    @Test func timeLimitOverRealDNS() async throws {
        try await withDNSTestServer { server in
            var spf = SPFChecker(resolver: server.resolver(timeout: .seconds(30), attempts: 1))
            spf.configuration.timeLimit = .milliseconds(300)
            let start = ContinuousClock.now
            let check = await spf.checkMailFrom(clientIP: IPAddress("192.0.2.1")!, mailFrom: "x@timeout.spf.test", helo: "h.example")
            #expect(check.result == .temperror)
            // Far below the resolver's 30 s timeout: the overall limit ended it (loose bound).
            #expect(ContinuousClock.now - start < .seconds(15))
        }
    }
}
