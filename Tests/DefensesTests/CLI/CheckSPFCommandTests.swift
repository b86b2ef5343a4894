import Foundation
import Testing

/// `mailnode check spf` as a process against the dnslib server with Fixtures/dns/spf.zone.
@Suite struct CheckSPFCommandTests {
    @Test func passAndSoftfailOverRealDNS() async throws {
        try CheckCommand.requireBinary()
        try await withDNSTestServer { server in
            let dns = "127.0.0.1:\(server.port)"
            let (status, text) = try await CheckCommand.run(["check", "spf", "--dns", dns, "--ip", "198.51.100.7",
                                                             "--mail-from", "a@partner.spf.test", "--helo", "h.example",
                                                             "--receiver", "mx.test"])
            #expect(status == 0, "\(text)")
            #expect(text.contains("Received-SPF: pass"), "\(text)")
            #expect(text.contains("Authentication-Results: mx.test; spf=pass smtp.mailfrom=partner.spf.test"), "\(text)")
            // the trail: the record found and the mechanism that matched
            #expect(text.contains("trail (MAIL FROM a@partner.spf.test):"), "\(text)")
            #expect(text.contains("v=spf1 ip4:198.51.100.0/24 ~all"), "\(text)")
            let (softStatus, outside) = try await CheckCommand.run(["check", "spf", "--dns", dns, "--ip", "192.0.2.99",
                                                                    "--mail-from", "a@partner.spf.test", "--helo", "h.example"])
            #expect(softStatus == 0)   // a verdict, whatever it is, is a successful run
            #expect(outside.contains("Received-SPF: softfail"), "\(outside)")
        }
    }

    @Test func nullSenderIsPostmasterAtHELO() async throws {
        try CheckCommand.requireBinary()
        try await withDNSTestServer { server in
            let (status, text) = try await CheckCommand.run(["check", "spf", "--dns", "127.0.0.1:\(server.port)", "--ip", "192.0.2.25",
                                                             "--mail-from", "<>", "--helo", "mail.spf.test"])
            #expect(status == 0, "\(text)")
            #expect(text.contains("HELO mail.spf.test: pass"), "\(text)")
            #expect(text.contains("envelope-from=\"postmaster@mail.spf.test\"") || text.contains("postmaster@mail.spf.test"), "\(text)")
            #expect(text.contains("trail (MAIL FROM postmaster@mail.spf.test): as for HELO"), "\(text)")
        }
    }

    @Test func badArgumentsAreRefused() async throws {
        try CheckCommand.requireBinary()
        let (status, text) = try await CheckCommand.run(["check", "spf", "--ip", "not-an-ip", "--mail-from", "a@b", "--helo", "h"])
        #expect(status == 64)   // EX_USAGE, as every check subcommand
        #expect(text.contains("--ip must be an IPv4 or IPv6 address"))
        let (dnsStatus, dnsText) = try await CheckCommand.run(["check", "spf", "--ip", "192.0.2.1", "--mail-from", "a@b", "--helo", "h",
                                                               "--dns", "resolver.example"])
        #expect(dnsStatus == 64)
        #expect(dnsText.contains("--dns must be host:port"), "\(dnsText)")
    }
}
