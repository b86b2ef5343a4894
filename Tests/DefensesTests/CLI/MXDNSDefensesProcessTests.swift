import Foundation
import Testing

/// `mailnode --role mx` with `[dns]`, `[mx.dnsbl]` and `[mx.sender_checks]` against the dnslib server
/// (Fixtures/dns): a client on the DNS list's test point 127.0.0.2 is refused at RCPT (Postmaster
/// still reachable), the same client from 127.0.0.1 is not; a null-MX sender domain is refused at MAIL.
@Suite(.timeLimit(.minutes(2)))
struct MXDNSDefensesProcessTests {
    /// A running node; its port comes from its `listening` log line.
    struct Node {
        let process: Process
        let output: URL
        let port: Int

        var log: String { (try? String(contentsOf: output, encoding: .utf8)) ?? "" }

        func stop() async {
            if process.isRunning { process.terminate() }
            let deadline = ContinuousClock.now + .seconds(10)
            while process.isRunning, ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(20)) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }
    }

    static func start(config: String, in directory: URL, role: String = "mx") async throws -> Node {
        let path = directory.appendingPathComponent("mailnode.toml")
        try config.write(to: path, atomically: true, encoding: .utf8)
        let output = directory.appendingPathComponent("node.log")
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: CheckCommand.binary)
        process.arguments = ["--role", role, "--config", path.path, "--log-level", "info"]
        let handle = try FileHandle(forWritingTo: output)
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline, process.isRunning {
            let text = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
            // address=[IPv4]127.0.0.1/127.0.0.1:39981 ... listening
            if let line = text.split(separator: "\n").first(where: { $0.contains("listening") && $0.contains("address=") }),
               let token = line.split(separator: " ").first(where: { $0.hasPrefix("address=") }),
               let port = Int(token.split(separator: ":").last ?? "") {
                return Node(process: process, output: output, port: port)
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        if process.isRunning { process.terminate() }
        throw DNSTestServerUnavailable(description: "mailnode did not report a listening port:\n"
                                       + ((try? String(contentsOf: output, encoding: .utf8)) ?? ""))
    }

    struct Probe: Decodable {
        var greeting: Int
        var ehlo: Int?
        var mail: [Code]?
        var rcpt: [[Code]]?

        enum Code: Decodable {
            case number(Int), text(String)
            init(from decoder: any Decoder) throws {
                let container = try decoder.singleValueContainer()
                if let number = try? container.decode(Int.self) { self = .number(number) } else { self = .text(try container.decode(String.self)) }
            }
            var number: Int? { if case .number(let value) = self { value } else { nil } }
            var text: String { if case .text(let value) = self { value } else { "" } }
        }

        var mailCode: Int? { mail?.first?.number }
        var rcptCodes: [Int?] { (rcpt ?? []).map { $0.first?.number } }
        var rcptTexts: [String] { (rcpt ?? []).map { $0.count > 1 ? $0[1].text : "" } }
    }

    /// One transaction through `Tests/interop/smtp_probe.py` (smtplib), from `source`.
    static func probe(port: Int, source: String, sender: String, recipients: [String]) async throws -> Probe {
        let script = DNSFixtures.root.appendingPathComponent("Tests/interop/smtp_probe.py").path
        let (status, output) = try await CheckCommand.run(executable: "/usr/bin/python3",
                                                          [script, String(port), source, "client.senders.test", sender] + recipients)
        try #require(status == 0, "smtp_probe failed: \(output)")
        return try JSONDecoder().decode(Probe.self, from: Data(output.utf8))
    }

    @Test func dnsListAndSenderChecksFromTheConfigurationFile() async throws {
        try CheckCommand.requireBinary()
        try await withDNSTestServer { server in
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mailnode-mxdns-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: directory) }
            let node = try await Self.start(config: """
                [node]
                hostname = "mx.d.test"
                spool = "\(directory.path)/spool"
                [dns]
                servers = ["127.0.0.1:\(server.port)"]
                timeout = 2
                [mx]
                domains = ["d.test"]
                listen = ["127.0.0.1:0"]
                max_connections_per_client = 0
                [mx.dnsbl]
                zones = ["bl.dnsbl.test"]
                [mx.sender_checks]
                iprev = false
                """, in: directory)
            do {
                // 127.0.0.2 is every healthy list's test entry (RFC 5782 §5): listed.
                let listed = try await Self.probe(port: node.port, source: "127.0.0.2", sender: "a@good.senders.test",
                                                  recipients: ["u@d.test", "Postmaster"])
                #expect(listed.greeting == 220 && listed.mailCode == 250, "\(node.log)")
                #expect(listed.rcptCodes == [550, 250], "\(listed.rcptTexts)\n\(node.log)")
                #expect(listed.rcptTexts.first?.contains("bl.dnsbl.test") == false)   // the zone stays in the log
                #expect(node.log.contains("defense=DM20"), "\(node.log)")
                // 127.0.0.1 is the test point that must not be listed.
                let clean = try await Self.probe(port: node.port, source: "127.0.0.1", sender: "a@good.senders.test", recipients: ["u@d.test"])
                #expect(clean.rcptCodes == [250], "\(clean.rcptTexts)\n\(node.log)")
                // A null-MX sender domain (RFC 7505) can take no bounce: refused at MAIL (DM19).
                let nullMX = try await Self.probe(port: node.port, source: "127.0.0.1", sender: "a@nullmx.senders.test", recipients: ["u@d.test"])
                #expect(nullMX.mailCode == 550, "\(node.log)")
                #expect(node.log.contains("defense=DM19"), "\(node.log)")
                #expect(server.queries("2.0.0.127.bl.dnsbl.test", "A").count >= 1)
            }
            await node.stop()
        }
    }

    @Test func spfResultsActedOnAtMailFrom() async throws {
        try CheckCommand.requireBinary()
        try await withDNSTestServer { server in
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mailnode-mxspf-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: directory) }
            let node = try await Self.start(config: """
                [node]
                hostname = "mx.d.test"
                spool = "\(directory.path)/spool"
                [dns]
                servers = ["127.0.0.1:\(server.port)"]
                [mx]
                domains = ["d.test"]
                listen = ["127.0.0.1:0"]
                [mx.spf]
                [mx.greylist]
                delay = 3600
                """, in: directory)
            // -all and 127.0.0.1 not listed: 550 5.7.23 with the domain's exp= text.
            let fail = try await Self.probe(port: node.port, source: "127.0.0.1", sender: "a@spf.test", recipients: ["u@d.test"])
            #expect(fail.mailCode == 550, "\(node.log)")
            #expect(fail.mail?.last?.text.contains("5.7.23 SPF validation failed: 127.0.0.1 is not one of spf.test's designated mail servers.") == true,
                    "\(String(describing: fail.mail))")
            // softfail (~all) passes at MAIL; greylisting then defers the new triplet.
            let soft = try await Self.probe(port: node.port, source: "127.0.0.1", sender: "a@partner.spf.test", recipients: ["u@d.test"])
            #expect(soft.mailCode == 250 && soft.rcptCodes == [451], "\(node.log)")
            // pass: accepted, and exempt from greylisting through the kept result.
            let pass = try await Self.probe(port: node.port, source: "127.0.0.1", sender: "a@local.spf.test", recipients: ["u@d.test"])
            #expect(pass.mailCode == 250 && pass.rcptCodes == [250], "\(node.log)")
            #expect(server.queries("local.spf.test", "TXT").count == 1)   // asked once: greylisting reused the result
            #expect(node.log.contains("defense=DM30"), "\(node.log)")
            await node.stop()
        }
    }
}
