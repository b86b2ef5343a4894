import Foundation
import Testing

@testable import Defenses

/// DMARC and ARC over real DNS: SPF, DKIM keys and DMARC records served by the dnslib test server,
/// read by ``LDNSResolver``; and `mailnode check dmarc` / `mailnode check arc` as processes.
@Suite("DMARC and ARC over the loopback DNS server and the CLI")
struct DMARCLiveTests {
    static func zone() throws -> String {
        var lines = [
            "$ORIGIN dmarc.test.", "$TTL 300", "@ 3600 IN SOA ns.dmarc.test. hostmaster.dmarc.test. 1 3600 600 86400 60", "@ NS ns.dmarc.test.",
            "@ TXT \"v=spf1 ip4:192.0.2.0/24 -all\"",
            "_dmarc TXT \"v=DMARC1; p=reject; sp=quarantine; rua=mailto:agg@dmarc.test\"",
            "news A 192.0.2.5",
            "relaxed TXT \"v=spf1 ip4:203.0.113.0/24 -all\"",
        ]
        for (selector, file) in [("ed", "ed25519test.key"), ("arc", "2048_testkey.key")] {
            let record = Array(try DKIMSigningKey(pem: try DKIMFixtures.text(file)).keyRecord.utf8)
            let strings = stride(from: 0, to: record.count, by: 255).map { "\"" + String(decoding: record[$0..<min($0 + 255, record.count)], as: UTF8.self) + "\"" }
            lines.append("\(selector)._domainkey TXT \(strings.joined(separator: " "))")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func withServer(_ body: (DNSTestServer) async throws -> Void) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mailnode-dmarczone-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try zone().write(to: directory.appendingPathComponent("dmarc.zone"), atomically: true, encoding: .utf8)
        try await withDNSTestServer(zones: directory, body)
    }

    static func message(from: String, extra: String = "") -> [UInt8] {
        Array("\(extra)From: Alice <\(from)>\r\nTo: b@example.org\r\nSubject: live\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\n\r\nover real DNS\r\n".utf8)
    }

    static func signed(_ message: [UInt8]) throws -> [UInt8] {
        let signer = DKIMSigner(domain: "dmarc.test", selector: "ed", key: try DKIMSigningKey(pem: try DKIMFixtures.text("ed25519test.key")))
        return try signer.sign(message: message).wireBytes + message
    }

    @Test func libraryOverRealDNS() async throws {
        try await Self.withServer { server in
            let resolver = server.resolver()
            let dkim = try await DKIMVerifier(resolver: resolver).verify(message: try Self.signed(Self.message(from: "a@x.y.dmarc.test")))
            let spf = await SPFChecker(resolver: resolver).verify(clientIP: IPAddress("198.51.100.1")!, mailFrom: "b@dmarc.test", helo: "h.example")
            // _dmarc.x.y.dmarc.test does not exist: the organisational domain's record applies (sp=quarantine).
            let verifier = DMARCVerifier(resolver: resolver)
            let pass = await verifier.evaluate(header: DMARCInputs.header(from: "a@x.y.dmarc.test"), spf: spf.mailFrom, dkim: dkim)
            #expect(pass.result == .pass && pass.policyDomain == "dmarc.test" && pass.policySource == .subdomain, "\(pass.trail)")
            let fail = await verifier.evaluate(header: DMARCInputs.header(from: "a@x.y.dmarc.test"), spf: spf.mailFrom, dkim: [])
            #expect(fail.result == .fail && fail.disposition == .quarantine && fail.record?.aggregateReportURIs == ["mailto:agg@dmarc.test"])
            let store = InMemoryDMARCReportStore()
            if let record = DMARCAggregateRecord(fail, sourceIP: IPAddress("198.51.100.1")!, spf: spf.mailFrom) { await store.append(record) }
            #expect(await store.all.map(\.headerFrom) == ["x.y.dmarc.test"])
        }
    }

    static func run(_ arguments: [String], input: [UInt8]) async throws -> (Int32, String, String) {
        let directory = try DKIMInterop.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("in.eml")
        try Data(input).write(to: url)
        return try await DKIMLiveTests.run(arguments, input: url, in: directory)
    }

    @Test func checkDMARCCommand() async throws {
        try CheckCommand.requireBinary()
        try await Self.withServer { server in
            let dns = "127.0.0.1:\(server.port)"
            // DKIM aligned pass, SPF fail: pass.
            let (status, pass, errors) = try await Self.run(
                ["check", "dmarc", "--dns", dns, "--ip", "198.51.100.1", "--mail-from", "bounce@dmarc.test", "--receiver", "mx.test"],
                input: try Self.signed(Self.message(from: "a@dmarc.test")))
            #expect(status == 0, "\(errors)")
            #expect(pass.contains("SPF: fail for dmarc.test (MAIL FROM)"), "\(pass)")
            #expect(pass.contains("DKIM signature 1: dkim=pass header.d=dmarc.test header.s=ed"), "\(pass)")
            #expect(pass.contains("alignment: SPF dmarc.test fail, aligned (relaxed); DKIM dmarc.test pass, aligned (relaxed)"), "\(pass)")
            #expect(pass.contains("DMARC: result pass, disposition none (p=reject)"), "\(pass)")
            #expect(pass.contains("\tdmarc=pass (p=reject sp=quarantine dis=none) header.from=dmarc.test"), "\(pass)")
            #expect(pass.contains("trail (DMARC):\n  From domain dmarc.test"), "\(pass)")

            // Unsigned, SPF fail: reject.
            let (_, reject, _) = try await Self.run(
                ["check", "dmarc", "--dns", dns, "--ip", "198.51.100.1", "--mail-from", "bounce@dmarc.test", "--receiver", "mx.test"],
                input: Self.message(from: "a@dmarc.test"))
            #expect(reject.contains("DMARC: result fail, disposition reject (p=reject)"), "\(reject)")
            #expect(reject.contains("dmarc=fail (p=reject sp=quarantine dis=reject) header.from=dmarc.test policy.dmarc=reject"), "\(reject)")
            #expect(reject.contains("report record: source 198.51.100.1 header_from dmarc.test disposition reject dkim fail spf fail envelope_from dmarc.test scope mfrom → rua mailto:agg@dmarc.test"), "\(reject)")

            // A subdomain with SPF pass for an unrelated domain, and a forged A-R claiming us: sp=quarantine.
            let (_, sub, _) = try await Self.run(
                ["check", "dmarc", "--dns", dns, "--ip", "203.0.113.9", "--mail-from", "x@relaxed.dmarc.test", "--helo", "mail.example", "--receiver", "mx.test"],
                input: Self.message(from: "a@news.dmarc.test", extra: "Authentication-Results: mx.test; dmarc=pass header.from=news.dmarc.test\r\n"))
            #expect(sub.contains("SPF: pass for relaxed.dmarc.test"), "\(sub)")
            #expect(sub.contains("DMARC: result pass, disposition none (sp=quarantine)"), "\(sub)")
            #expect(sub.contains("removed 1 Authentication-Results field(s) claiming mx.test"), "\(sub)")
            let (_, unaligned, _) = try await Self.run(
                ["check", "dmarc", "--dns", dns, "--ip", "192.0.2.9", "--mail-from", "x@example.invalid", "--helo", "mail.example"],
                input: Self.message(from: "a@news.dmarc.test"))
            #expect(unaligned.contains("DMARC: result fail, disposition quarantine (sp=quarantine)"), "\(unaligned)")

            // The null sender: SPF of the HELO name, recorded with an empty envelope_from.
            let (_, null, _) = try await Self.run(
                ["check", "dmarc", "--dns", dns, "--ip", "192.0.2.9", "--mail-from", "<>", "--helo", "dmarc.test"],
                input: Self.message(from: "a@dmarc.test"))
            #expect(null.contains("SPF: pass for dmarc.test (HELO, null sender)"), "\(null)")
            #expect(null.contains("DMARC: result pass"), "\(null)")
            #expect(null.contains("envelope_from <> scope helo"), "\(null)")
            let (nullStatus, _, _) = try await Self.run(["check", "dmarc", "--dns", dns, "--ip", "192.0.2.9", "--mail-from", "<>"], input: [])
            #expect(nullStatus == 64)

            // Two From domains: permerror.
            let (_, two, _) = try await Self.run(
                ["check", "dmarc", "--dns", dns, "--ip", "192.0.2.9", "--mail-from", "x@dmarc.test"],
                input: Self.message(from: "a@dmarc.test>, <b@evil.example"))
            #expect(two.contains("DMARC: result permerror"), "\(two)")

            let (badStatus, _, _) = try await Self.run(["check", "dmarc", "--ip", "nope", "--mail-from", "x@dmarc.test"], input: [])
            #expect(badStatus == 64)
        }
    }

    @Test func checkARCCommand() async throws {
        try CheckCommand.requireBinary()
        try await Self.withServer { server in
            let dns = "127.0.0.1:\(server.port)"
            let key = try DKIMSigningKey(pem: try DKIMFixtures.text("2048_testkey.key"))
            var message = Self.message(from: "a@dmarc.test")
            let (noneStatus, none, _) = try await Self.run(["check", "arc", "--dns", dns], input: message)
            #expect(noneStatus == 0 && none.contains("ARC: cv=none"), "\(none)")
            for hop in 1...2 {
                let incoming = try await ARCVerifier(resolver: server.resolver()).verify(message: message)
                #expect(incoming.result == (hop == 1 ? .none : .pass), "\(incoming.trail)")
                let sealer = ARCSealer(domain: "dmarc.test", selector: "arc", key: key, authservID: "hop\(hop).test")
                message = try sealer.seal(message: message, chainValidation: incoming.result, authenticationResults: [.arc(incoming)]).flatMap(\.wireBytes) + message
            }
            let (status, pass, errors) = try await Self.run(["check", "arc", "--dns", dns, "--receiver", "mx.test", "--ip", "192.0.2.1"], input: message)
            #expect(status == 0, "\(errors)")
            #expect(pass.contains("ARC: cv=pass, 2 set(s), oldest-pass 0"), "\(pass)")
            #expect(pass.contains("set i=2 d=dmarc.test cv=pass AMS pass AS pass"), "\(pass)")
            #expect(pass.contains("newest ARC-Authentication-Results: hop2.test; arc=pass"), "\(pass)")
            #expect(pass.contains("Authentication-Results: mx.test; arc=pass header.oldest-pass=0 smtp.remote-ip=192.0.2.1"), "\(pass)")
            let (_, fail, _) = try await Self.run(["check", "arc", "--dns", dns], input: message + Array("changed\r\n".utf8))
            #expect(fail.contains("ARC: cv=fail, 2 set(s) — ARC-Message-Signature i=2 did not verify"), "\(fail)")
        }
    }
}
