import Foundation
import NIOCore
import NIOPosix
import SMTPCore
import Testing

@testable import Defenses

/// `mailnode --role antivirus --config FILE` as a process with a real clamd (ClamdTestSupport)
/// and a next hop in this process (an SMTPServer over a MemoryMessageReceiver): EICAR attached
/// → 554 5.7.0 and nothing forwarded; clean mail forwarded with the original bytes intact under
/// the trace headers; a client outside `accept_from` refused at connect; `action = "quarantine"`
/// → 250, held, not forwarded, and `mailnode quarantine list|show|release` as processes, the
/// released message arriving at the next hop.
@Suite("antivirus role as a process", .serialized, .timeLimit(.minutes(4)))
struct AntivirusRoleProcessTests {
    /// The next hop: an in-process SMTP server storing in memory.
    static func nextHop() async throws -> (SMTPServer, MemoryMessageReceiver, Int) {
        let receiver = MemoryMessageReceiver()
        let listener = SMTPListenerConfiguration(name: "next", port: 0, session: SMTPSessionConfiguration(hostname: "next.test"))
        let server = SMTPServer(listeners: [listener], services: SMTPServerServices(receiver: receiver),
                                group: MultiThreadedEventLoopGroup.singleton)
        let port = try #require(try await server.start().first?.port)
        return (server, receiver, port)
    }

    static func config(directory: URL, clamd: ClamdProcess, nextPort: Int, extra: String = "") -> String {
        """
        [node]
        hostname = "av.process.test"
        spool = "\(directory.path)/spool"
        [antivirus]
        listen = "127.0.0.1:0"
        clamd = ["\(clamd.tcp)", "\(clamd.unix)"]
        scan_timeout = 30
        \(extra)
        [hops.next]
        address = "127.0.0.1:\(nextPort)"
        tls = "none"
        [routes]
        "*" = "next"
        # A node running the antivirus role ignores the mx table.
        [mx]
        domains = ["ignored.test"]
        listen = ["127.0.0.1:1"]

        """
    }

    /// Waits until `condition` holds (polling; no upper bound but the suite's time limit).
    static func eventually(_ condition: () -> Bool) async throws {
        while !condition() { try await Task.sleep(for: .milliseconds(50)) }
    }

    static func scratch() throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mailnode-avrole-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory
    }

    @Test func rejectsVirusesForwardsCleanMailAndRefusesOutsiders() async throws {
        try CheckCommand.requireBinary()
        let eicar = try AntivirusFixtures.eicar()
        try await withClamd { clamd in
            let directory = try Self.scratch()
            defer { try? FileManager.default.removeItem(at: directory) }
            let (hop, received, hopPort) = try await Self.nextHop()
            let node = try await MXDNSDefensesProcessTests.start(
                config: Self.config(directory: directory, clamd: clamd, nextPort: hopPort, extra: "accept_from = [\"127.0.0.1/32\"]"),
                in: directory, role: "antivirus")
            do {
                // EICAR attached: 554 5.7.0 at the end of DATA, nothing forwarded.
                let infected = try await AntivirusSessionTests.send(node.port, AntivirusMessages.withAttachment(eicar, name: "notes.txt"))
                #expect(infected?.description == "554 5.7.0 Message content rejected", "\(node.log)")
                #expect(node.log.contains("defense=DM28"), "\(node.log)")

                // Clean: 250, forwarded to the next hop; the original bytes follow our trace headers unchanged.
                let clean = try await AntivirusSessionTests.send(node.port, AntivirusMessages.clean)
                #expect(clean?.code == .ok, "\(node.log)")
                try await Self.eventually { received.messages.count >= 1 }
                let forwarded = String(buffer: try #require(received.messages.first).data)
                #expect(forwarded.hasSuffix("X-Virus-Scanned: clean (ClamAV) by av.process.test; attachments=checked\r\n"
                                            + AntivirusMessages.clean), "\(forwarded)")
                #expect(forwarded.hasPrefix("Received: from upstream.test"), "\(forwarded)")
                #expect(received.messages.count == 1)
                #expect(received.messages.first?.envelope.recipients.map(\.path.description) == ["<user@example.net>"])

                // A client outside accept_from (127.0.0.2) gets a 554 greeting.
                let script = DNSFixtures.root.appendingPathComponent("Tests/interop/smtp_probe.py").path
                let (status, output) = try await CheckCommand.run(executable: "/usr/bin/python3",
                                                                  [script, String(node.port), "127.0.0.2", "outsider.test", "a@b.test", "c@d.test"])
                #expect(status == 0 && output.contains("\"greeting\": 554"), "\(output)")
                #expect(received.messages.count == 1)
            }
            await node.stop()
            await hop.shutdown(gracePeriod: .seconds(1))
        }
    }

    @Test func quarantinesAndReleasesThroughTheCommandLine() async throws {
        try CheckCommand.requireBinary()
        let eicar = try AntivirusFixtures.eicar()
        try await withClamd { clamd in
            let directory = try Self.scratch()
            defer { try? FileManager.default.removeItem(at: directory) }
            let (hop, received, hopPort) = try await Self.nextHop()
            let node = try await MXDNSDefensesProcessTests.start(
                config: Self.config(directory: directory, clamd: clamd, nextPort: hopPort, extra: "action = \"quarantine\""),
                in: directory, role: "antivirus")
            let configPath = directory.appendingPathComponent("mailnode.toml").path
            do {
                let message = AntivirusMessages.withAttachment(eicar, name: "notes.txt")
                let reply = try await AntivirusSessionTests.send(node.port, message)
                #expect(reply?.code == .ok, "\(node.log)")
                #expect(node.log.contains("message quarantined"), "\(node.log)")

                // Held, not forwarded.
                let (listStatus, listed) = try await CheckCommand.run(["quarantine", "list", "--spool", directory.path + "/spool", "--format", "json"])
                #expect(listStatus == 0, "\(listed)")
                struct Listing: Decodable {
                    struct Message: Decodable { var id: String; var defense: String; var signature: String?; var size: Int }
                    var messages: [Message]
                }
                let listing = try JSONDecoder().decode(Listing.self, from: Data(listed.utf8))
                let held = try #require(listing.messages.first, "\(listed)")
                #expect(listing.messages.count == 1 && held.defense == "DM28")
                #expect(held.signature?.contains("Eicar") == true, "\(listed)")
                #expect(received.messages.isEmpty)

                let (showStatus, shown) = try await CheckCommand.run(["quarantine", "show", held.id, "--config", configPath])
                #expect(showStatus == 0 && shown.contains("Subject: see attachment") && shown.contains("DM28"), "\(shown)")
                let (missingStatus, missing) = try await CheckCommand.run(["quarantine", "show", "NOPE", "--config", configPath])
                #expect(missingStatus == 1 && missing.contains("no such quarantined message"), "\(missing)")

                // Released: into the spool queue, the running node forwards it without scanning again.
                let (releaseStatus, released) = try await CheckCommand.run(["quarantine", "release", held.id, "--config", configPath])
                #expect(releaseStatus == 0 && released.contains("released as"), "\(released)")
                try await Self.eventually { received.messages.count >= 1 }
                let forwarded = String(buffer: try #require(received.messages.first).data)
                #expect(forwarded == message, "\(forwarded)")   // exactly the bytes the previous stage sent
                let (_, after) = try await CheckCommand.run(["quarantine", "list", "--spool", directory.path + "/spool"])
                #expect(after.contains("-- 0 messages held"), "\(after)")
                let log = (try? String(contentsOfFile: directory.path + "/spool/quarantine/released.log", encoding: .utf8)) ?? ""
                #expect(log.contains("released \(held.id) as"), "\(log)")
            }
            await node.stop()
            await hop.shutdown(gracePeriod: .seconds(1))
        }
    }
}
