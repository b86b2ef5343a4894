import Foundation
import Testing

/// `mailnode check domain` as a process against the dnslib server with Fixtures/dns/senders.zone.
@Suite struct CheckDomainCommandTests {
    func check(_ server: DNSTestServer, _ arguments: [String]) async throws -> (Int32, [String]) {
        let (status, text) = try await CheckCommand.run(["check", "domain", "--dns", "127.0.0.1:\(server.port)"] + arguments)
        return (status, text.split(separator: "\n").map(String.init))
    }

    @Test func mailDomains() async throws {
        try CheckCommand.requireBinary()
        try await withDNSTestServer { server in
            let (status, good) = try await check(server, ["good.senders.test"])
            #expect(status == 0)
            #expect(good.first == "sender domain: pass (mail hosts: mx.good.senders.test)", "\(good)")
            #expect(good.contains("  good.senders.test MX 10 mx.good.senders.test"), "\(good)")
            // only an MX: no address of its own, so as a HELO name it does not resolve
            #expect(good.contains("HELO name: unresolvable"), "\(good)")

            let (_, implicit) = try await check(server, ["implicit.senders.test"])
            #expect(implicit.first == "sender domain: pass (mail hosts: implicit.senders.test)", "\(implicit)")
            #expect(implicit.contains("  implicit.senders.test MX: none, trying A/AAAA (implicit MX, RFC 5321 §5.1)"), "\(implicit)")
            #expect(implicit.contains("  implicit.senders.test A 192.0.2.31"), "\(implicit)")

            let (_, null) = try await check(server, ["nullmx.senders.test"])
            #expect(null.first == "sender domain: nullMX", "\(null)")
            #expect(null.contains("  null MX (RFC 7505): the domain accepts no mail"), "\(null)")

            let (_, missing) = try await check(server, ["nx.senders.test"])
            #expect(missing.first == "sender domain: nonexistent", "\(missing)")
            #expect(missing.contains("  nx.senders.test MX: NXDOMAIN"), "\(missing)")
            #expect(missing.contains("HELO name: unresolvable"), "\(missing)")

            let (_, nomail) = try await check(server, ["nomail.senders.test"])
            #expect(nomail.first == "sender domain: noMailHost", "\(nomail)")

            let (_, broken) = try await check(server, ["servfail.example"])
            #expect(broken.first == "sender domain: temperror", "\(broken)")
            #expect(broken.contains("HELO name: temperror"), "\(broken)")
        }
    }

    @Test func heloNameAgainstAClient() async throws {
        try CheckCommand.requireBinary()
        try await withDNSTestServer { server in
            let (_, match) = try await check(server, ["client.senders.test", "--ip", "192.0.2.10"])
            #expect(match.contains("HELO name: pass (its addresses include the client)"), "\(match)")
            #expect(match.contains("  client.senders.test A 192.0.2.10"), "\(match)")
            let (_, other) = try await check(server, ["elsewhere.senders.test", "--ip", "192.0.2.10"])
            #expect(other.contains("HELO name: pass (its addresses do not include the client)"), "\(other)")
            let (_, single) = try await check(server, ["localhost"])
            #expect(single.contains("HELO name: not-fqdn"), "\(single)")
        }
    }

    @Test func badArgumentsAreRefused() async throws {
        try CheckCommand.requireBinary()
        let (status, text) = try await CheckCommand.run(["check", "domain", "a@example.org"])
        #expect(status == 64)
        #expect(text.contains("NAME must be a domain name"), "\(text)")
        let (ipStatus, _) = try await CheckCommand.run(["check", "domain", "example.org", "--ip", "nope"])
        #expect(ipStatus == 64)
    }
}
