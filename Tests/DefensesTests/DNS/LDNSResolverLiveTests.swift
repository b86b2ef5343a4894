import Foundation
import Testing

@testable import Defenses

/// The real resolver against a real DNS server (Tests/interop/dns_server.py over Fixtures/dns) on
/// loopback: each test starts its own server, so the server's query log counts that test alone.
@Suite("LDNSResolver against a live DNS server")
struct LDNSResolverLiveTests {
    // MARK: - Record types

    @Test func aAndAAAARecords() async throws {
        try await withDNSTestServer { server in
            let dns = server.resolver()
            let v4 = try await dns.lookupA("host.example")
            #expect(v4.records == [IPv4Address("192.0.2.10")!])
            #expect(v4.ttl == 300)
            #expect(v4.canonicalName == "host.example")
            #expect(!v4.authenticated)
            let v6 = try await dns.lookupAAAA("host.example")
            #expect(v6.records == [IPv6Address("2001:db8::10")!])
            let several = try await dns.lookupA("dual.example")
            #expect(Set(several.records) == [IPv4Address("192.0.2.11")!, IPv4Address("192.0.2.12")!])
        }
    }

    @Test func mxRecordsComeInPreferenceOrder() async throws {
        try await withDNSTestServer { server in
            let dns = server.resolver()
            let mx = try await dns.lookupMX("mail.example")
            #expect(mx.records.map(\.preference) == [10, 20, 30])
            #expect(mx.records.map(\.exchange) == ["mx1.example", "mx2.example", "mx3.example"])
            #expect(!mx.isNullMX)
            let null = try await dns.lookupMX("nullmx.example")
            #expect(null.records == [MXRecord(preference: 0, exchange: ".")])
            #expect(null.isNullMX)
        }
    }

    @Test func txtRecordsKeepTheirStringsAndStaySeparate() async throws {
        try await withDNSTestServer { server in
            let txt = try await server.resolver().lookupTXT("txt.example")
            #expect(txt.records.count == 2)
            let spf = try #require(txt.records.first { $0.strings.count == 3 })
            #expect(spf.strings == [Array("v=spf1 ".utf8), Array("ip4:192.0.2.0/24 ".utf8), Array("-all".utf8)])
            #expect(spf.text == "v=spf1 ip4:192.0.2.0/24 -all")
            #expect(txt.records.contains(TXTRecord("second record")))
        }
    }

    @Test func ptrRecordsForIPv4AndIPv6() async throws {
        try await withDNSTestServer { server in
            let dns = server.resolver()
            let v4 = try await dns.lookupPTR(IPAddress("192.0.2.10")!)
            #expect(v4.records == ["host.example"])
            #expect(v4.name == "10.2.0.192.in-addr.arpa")
            let v6 = try await dns.lookupPTR(IPAddress("2001:db8::10")!)
            #expect(v6.records == ["host.example"])
        }
    }

    @Test func tlsaRecord() async throws {
        try await withDNSTestServer { server in
            let tlsa = try await server.resolver().lookupTLSA(port: 25, host: "mx1.example")
            let record = try #require(tlsa.records.first)
            #expect(tlsa.name == "_25._tcp.mx1.example")
            #expect(record.usage == 3 && record.selector == 1 && record.matchingType == 1)
            #expect(record.data.count == 32)
            #expect(record.data.prefix(4) == [0x0C, 0x72, 0xAC, 0x70])
        }
    }

    // MARK: - CNAME

    @Test func cnameChainIsFollowed() async throws {
        try await withDNSTestServer { server in
            let dns = server.resolver()
            let response = try await dns.resolve("alias.example", .a)
            #expect(response.records.map(\.data) == [.a(IPv4Address("192.0.2.10")!)])
            #expect(response.aliases.map(\.data) == [.cname("alias2.example"), .cname("host.example")])
            #expect(response.canonicalName == "host.example")
            let cname = try await dns.lookupCNAME("alias.example")
            #expect(cname.records == ["alias2.example"])
        }
    }

    @Test func cnameLeavingTheZoneIsAskedAgain() async throws {
        try await withDNSTestServer { server in
            let answer = try await server.resolver().lookupA("outside.example")
            #expect(answer.records == [IPv4Address("192.0.2.40")!])
            #expect(answer.canonicalName == "target.other.test")
            #expect(server.queries("outside.example", "A").count == 1)
            #expect(server.queries("target.other.test", "A").count == 1)
        }
    }

    @Test func cnameLoopIsAnError() async throws {
        try await withDNSTestServer { server in
            await #expect(throws: DNSError.cnameChainTooLong("loop1.example")) {
                try await server.resolver().lookupA("loop1.example")
            }
        }
    }

    // MARK: - Negative answers and failures

    @Test func nxdomainAndNodataAreDistinct() async throws {
        try await withDNSTestServer { server in
            let dns = server.resolver()
            // RFC 2308 §5: negative TTL = min(SOA TTL, SOA MINIMUM) = 60 in example.zone
            await #expect(throws: DNSError.nxdomain(DNSNegativeAnswer(name: "nope.example", type: .a, ttl: 60))) {
                try await dns.lookupA("nope.example")
            }
            await #expect(throws: DNSError.noData(DNSNegativeAnswer(name: "host.example", type: .txt, ttl: 60))) {
                try await dns.lookupTXT("host.example")
            }
            // An empty non-terminal exists (RFC 8020).
            await #expect(throws: DNSError.noData(DNSNegativeAnswer(name: "empty.example", type: .a, ttl: 60))) {
                try await dns.lookupA("empty.example")
            }
        }
    }

    @Test func servfailIsNotRetriedAtTheSameServer() async throws {
        try await withDNSTestServer { server in
            let dns = server.resolver(attempts: 3)
            await #expect(throws: DNSError.serverFailure) {
                try await dns.lookupA("servfail.example")
            }
            #expect(server.queries("servfail.example", "A").count == 1)
        }
    }

    @Test func refusedIsAResponseCodeError() async throws {
        try await withDNSTestServer { server in
            await #expect(throws: DNSError.responseCode(5)) {
                try await server.resolver().lookupA("refused.example")
            }
        }
    }

    @Test func silentServerCostsTheTimeoutTimesAttempts() async throws {
        try await withDNSTestServer { server in
            let dns = server.resolver(timeout: .milliseconds(300), attempts: 2)
            let started = ContinuousClock.now
            await #expect(throws: DNSError.timeout) {
                try await dns.lookupA("silent.example")
            }
            let elapsed = ContinuousClock.now - started
            #expect(elapsed >= .milliseconds(550))
            #expect(elapsed < .seconds(10))
            #expect(server.queries("silent.example", "A").count == 2)
        }
    }

    @Test func slowAnswerWithinTheTimeoutIsTaken() async throws {
        try await withDNSTestServer { server in
            await #expect(throws: DNSError.timeout) {
                try await server.resolver(timeout: .milliseconds(150)).lookupA("slow.example")
            }
            let answer = try await server.resolver(timeout: .seconds(2)).lookupA("slow.example")
            #expect(answer.records == [IPv4Address("192.0.2.53")!])
        }
    }

    @Test func deadServerFailsFastAndTheNextServerAnswers() async throws {
        try await withDNSTestServer { server in
            let dead = DNSServerAddress(.v4(IPv4Address("127.0.0.1")!), port: try unusedUDPPort())
            let started = ContinuousClock.now
            let alone = LDNSResolver(
                configuration: DNSResolverConfiguration(nameservers: [dead], timeout: .milliseconds(500), attempts: 2))
            do {
                _ = try await alone.lookupA("host.example")
                Issue.record("a dead server answered")
            } catch let error as DNSError {
                #expect(error.isTemporary)
            }
            #expect(ContinuousClock.now - started < .seconds(30))   // 1 s configured; only a hang fails this (2 loaded cores)

            let both = LDNSResolver(
                configuration: DNSResolverConfiguration(nameservers: [dead, server.address], timeout: .milliseconds(500)))
            let answer = try await both.lookupA("host.example")
            #expect(answer.records == [IPv4Address("192.0.2.10")!])
        }
    }

    @Test func cancellationEndsTheWait() async throws {
        try await withDNSTestServer { server in
            let dns = server.resolver(timeout: .seconds(30))
            let task = Task { () async throws(DNSError) -> DNSAnswer<IPv4Address> in try await dns.lookupA("silent.example") }
            try await Task.sleep(for: .milliseconds(200))
            let started = ContinuousClock.now
            task.cancel()
            let result = await task.result
            #expect(throws: DNSError.cancelled) { try result.get() }
            #expect(ContinuousClock.now - started < .seconds(25))   // far below the 30 s timeout it cancelled
        }
    }

    // MARK: - Transport

    @Test func truncatedAnswerWithoutEDNSIsAskedAgainOverTCP() async throws {
        try await withDNSTestServer { server in
            let txt = try await server.resolver(edns: nil).lookupTXT("medium.example")
            #expect(txt.records.count == 3)
            #expect(txt.records.allSatisfy { $0.text.count > 200 })
            let seen = server.queries("medium.example", "TXT")
            #expect(seen.map { $0.split(separator: " ")[0] } == ["udp", "tcp"])
            #expect(seen.allSatisfy { $0.split(separator: " ")[3] == "-" })
        }
    }

    @Test func answerLargerThanTheEDNSSizeComesOverTCP() async throws {
        try await withDNSTestServer { server in
            let dns = server.resolver()
            // 700 bytes fit the 1232-byte EDNS0 size: UDP only.
            #expect(try await dns.lookupTXT("medium.example").records.count == 3)
            #expect(server.queries("medium.example", "TXT").map { $0.split(separator: " ")[0] } == ["udp"])
            // About 2100 bytes do not.
            let big = try await dns.lookupTXT("big.example")
            #expect(big.records.count == 16)
            #expect(Set(big.records.map { String($0.text.prefix(9)) }).count == 16)
            #expect(server.queries("big.example", "TXT").map { $0.split(separator: " ")[0] } == ["udp", "tcp"])
        }
    }

    @Test func forcedTruncationFallsBackToTCP() async throws {
        try await withDNSTestServer { server in
            let txt = try await server.resolver().lookupTXT("truncated.example")
            #expect(txt.records == [TXTRecord("only complete over TCP")])
            #expect(server.queries("truncated.example", "TXT").map { $0.split(separator: " ")[0] } == ["udp", "tcp"])
        }
    }

    @Test func queriesCarryEDNS0AndOptionallyDO() async throws {
        try await withDNSTestServer { server in
            _ = try await server.resolver().lookupA("host.example")
            _ = try await server.resolver(edns: .init(udpPayloadSize: 1400, dnssecOK: true)).lookupAAAA("host.example")
            #expect(server.queries("host.example", "A") == ["udp host.example A 1232 -"])
            #expect(server.queries("host.example", "AAAA") == ["udp host.example AAAA 1400 do"])
        }
    }

    @Test func serverWithoutEDNSIsAskedAgainWithoutIt() async throws {
        try await withDNSTestServer { server in
            let answer = try await server.resolver().lookupA("oldserver.example")
            #expect(answer.records == [IPv4Address("192.0.2.52")!])
            #expect(server.queries("oldserver.example", "A").map { $0.split(separator: " ")[3] } == ["1232", "-"])
        }
    }

    @Test func forgedRepliesAreIgnored() async throws {
        try await withDNSTestServer { server in
            // The server first sends a reply with a wrong ID and one for another question.
            let answer = try await server.resolver().lookupA("spoofed.example")
            #expect(answer.records == [IPv4Address("192.0.2.50")!])
        }
    }

    @Test func adBitIsTrustedOnlyAsConfigured() async throws {
        try await withDNSTestServer { server in
            let trusted = try await server.resolver().lookupA("authentic.example")
            #expect(trusted.authenticated)
            let distrusted = try await server.resolver(adTrust: .never).lookupA("authentic.example")
            #expect(!distrusted.authenticated)
            let unsigned = try await server.resolver().lookupA("host.example")
            #expect(!unsigned.authenticated)
        }
    }

    // MARK: - Names

    @Test func internationalizedNameIsAskedAsALabels() async throws {
        try await withDNSTestServer { server in
            let answer = try await server.resolver().lookupA("bücher.example")
            #expect(answer.name == "xn--bcher-kva.example")
            #expect(answer.records == [IPv4Address("192.0.2.20")!])
            #expect(server.queries("xn--bcher-kva.example", "A").count == 1)
        }
    }

    @Test func namesAreCaseInsensitiveAndMayEndInADot() async throws {
        try await withDNSTestServer { server in
            let answer = try await server.resolver().lookupA("HOST.Example.")
            #expect(answer.records == [IPv4Address("192.0.2.10")!])
            #expect(answer.name == "host.example")
        }
    }

    // MARK: - Cache over the real resolver

    @Test func cacheAnswersRepeatedQuestionsWithoutAsking() async throws {
        try await withDNSTestServer { server in
            let dns = DNSCachingResolver(wrapping: server.resolver())
            let first = try await dns.lookupMX("mail.example")
            let second = try await dns.lookupMX("mail.example")
            #expect(first.records == second.records)
            #expect(server.queries("mail.example", "MX").count == 1)
            let statistics = await dns.statistics()
            #expect(statistics.hits == 1 && statistics.misses == 1)
        }
    }

    @Test func cachedAnswerExpiresWithItsTTL() async throws {
        try await withDNSTestServer { server in
            let dns = DNSCachingResolver(wrapping: server.resolver())
            #expect(try await dns.lookupA("short.example").ttl == 1)
            try await Task.sleep(for: .milliseconds(1100))
            _ = try await dns.lookupA("short.example")
            #expect(server.queries("short.example", "A").count == 2)
        }
    }

    @Test func negativeAnswersAreCached() async throws {
        try await withDNSTestServer { server in
            let dns = DNSCachingResolver(wrapping: server.resolver())
            for _ in 0..<3 {
                await #expect(throws: DNSError.self) { try await dns.lookupA("nope.example") }
                await #expect(throws: DNSError.self) { try await dns.lookupTXT("host.example") }
            }
            #expect(server.queries("nope.example", "A").count == 1)
            #expect(server.queries("host.example", "TXT").count == 1)
            // Failures are not cached.
            for _ in 0..<2 {
                await #expect(throws: DNSError.serverFailure) { try await dns.lookupA("servfail.example") }
            }
            #expect(server.queries("servfail.example", "A").count == 2)
        }
    }
}

/// A UDP port on 127.0.0.1 that nothing listens on (bound, read, closed).
func unusedUDPPort() throws -> UInt16 {
    let descriptor = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
    guard descriptor >= 0 else { throw DNSTestServerUnavailable(description: "socket() failed") }
    defer { close(descriptor) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
            bind(descriptor, pointer, length) == 0 && getsockname(descriptor, pointer, &length) == 0
        }
    }
    guard bound else { throw DNSTestServerUnavailable(description: "bind() failed") }
    return UInt16(bigEndian: address.sin_port)
}
