import Foundation
import Testing
@testable import SMTPCore

/// The real `mailnode up` executable as a process: delivery into the durable spool, relay
/// refusal, graceful stop on SIGTERM, and a `kill -9` that loses nothing already acknowledged.
@Suite struct MailnodeProcessInteropTests {
    /// A running `mailnode up` on a free loopback port.
    final class Node {
        let process: RunningProcess
        let port: Int
        let spool: String

        init(spool: String, scratch: TemporaryDirectory, tls: Bool = false) async throws {
            var arguments = ["up", "--listen", "127.0.0.1:0", "--hostname", "mx.example.test",
                             "--domain", "example.test", "--spool", spool]
            if tls { arguments += ["--tls-cert", FixturePaths.serverCertificate, "--tls-key", FixturePaths.serverKey] }
            process = try RunningProcess(try InteropTools.mailnodeBinary(), arguments, in: scratch)
            self.spool = spool
            let port = await process.waitForOutput(timeout: .seconds(15), Node.boundPort)
            guard let port else {
                await process.kill9()
                throw MissingTool(description: "mailnode up did not report a listening port:\n\(process.result())")
            }
            self.port = port
        }

        /// The port in the start-up log line `... listen=[IPv4]127.0.0.1/127.0.0.1:40123 ... mailnode up`.
        static func boundPort(_ log: String) -> Int? {
            for line in log.split(separator: "\n") where line.hasSuffix("mailnode up") {
                guard let field = line.split(separator: " ").first(where: { $0.hasPrefix("listen=") }),
                      let colon = field.lastIndex(of: ":") else { continue }
                return Int(field[field.index(after: colon)...])
            }
            return nil
        }

        var queueEntries: [String] {
            let queue = spool + "/queue"
            return ((try? FileManager.default.contentsOfDirectory(atPath: queue)) ?? []).sorted().map { queue + "/" + $0 }
        }
    }

    /// Given to swaks without a final line break (swaks adds CRLF "." CRLF); stored as ``stored``.
    static let message = Array("From: alice@src.test\r\nTo: bob@example.test\r\nSubject: to the spool\r\n\r\n.dot line\r\nbody".utf8)
    static let stored = message + Array("\r\n".utf8)

    static func deliver(to node: Node, rcpt: String = "bob@example.test", _ options: [String] = []) async throws -> ProcessResult {
        let swaks = try InteropTools.swaks()
        let scratch = try TemporaryDirectory("swaks")
        defer { scratch.remove() }
        let dataFile = try scratch.write("message.eml", message)
        return try await ExternalProcess.run(swaks, [
            "--server", "127.0.0.1", "--port", String(node.port), "--helo", "client.test",
            "--from", "alice@src.test", "--to", rcpt, "--timeout", "30", "--data", "@" + dataFile,
        ] + options, timeout: .seconds(20))
    }

    /// The spool entry holds the envelope (JSON) and then the message bytes exactly as received.
    static func expectEntry(_ path: String, _ context: @autoclosure () -> String) throws {
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text.hasPrefix("MAILNODE-SPOOL 1 "), "\(path) is not a spool entry:\n\(text)\n\(context())")
        #expect(bytes.count >= stored.count && Array(bytes.suffix(stored.count)) == stored,
                "\(path) does not end with the message:\n\(text)\n\(context())")
        #expect(text.contains("alice@src.test") && text.contains("bob@example.test"), "envelope missing:\n\(text)")
    }

    @Test func deliverToSpoolRefuseRelayAndStopOnSIGTERM() async throws {
        let scratch = try TemporaryDirectory("mailnode-up")
        defer { scratch.remove() }
        let node = try await Node(spool: scratch.path + "/spool", scratch: scratch, tls: true)
        defer { node.process.signal(SIGKILL) }

        let run = try await Self.deliver(to: node, ["--tls"])
        #expect(run.status == 0, "\(run)\n\(node.process.result())")
        #expect(run.stdout.contains("=== TLS started"), "\(run)")
        let entries = node.queueEntries
        #expect(entries.count == 1, "queue: \(entries)\n\(node.process.result())")
        if let entry = entries.first {
            try Self.expectEntry(entry, node.process.result().description)
            #expect(run.stdout.contains("Queued as \(URL(fileURLWithPath: entry).lastPathComponent)"), "\(run)")
        }

        let relay = try await Self.deliver(to: node, rcpt: "someone@elsewhere.test")
        #expect(relay.status == 24, "relaying must be refused at RCPT (swaks exit 24):\n\(relay)")
        #expect(relay.stdout.contains("<** 554 5.7.1"), "\(relay)")
        #expect(node.queueEntries.count == 1)

        // An idle session at SIGTERM is told 421 and the process exits 0.
        let idle = try await RawClient.connect(port: node.port)
        #expect(try await idle.reply()?.code == .serviceReady)
        #expect(try await idle.command("EHLO idle.test") == 250)
        node.process.signal(SIGTERM)
        let exited = await node.process.waitForExit(timeout: .seconds(5))
        #expect(exited, "mailnode did not stop within 5 s of SIGTERM:\n\(node.process.result())")
        #expect(node.process.result().status == 0, "\(node.process.result())")
        let goodbye = try await idle.reply(timeout: .seconds(2))
        #expect(goodbye?.code.rawValue == 421, "idle session got \(String(describing: goodbye))")
        #expect(goodbye?.enhancedCode?.description == "4.3.2", "idle session got \(String(describing: goodbye))")
        await idle.close()
        #expect(node.queueEntries.count == 1)
    }

    @Test func killNineDuringIdleSessionLosesNothing() async throws {
        let scratch = try TemporaryDirectory("mailnode-kill")
        defer { scratch.remove() }
        let spool = scratch.path + "/spool"
        let first = try await Node(spool: spool, scratch: scratch)
        defer { first.process.signal(SIGKILL) }
        let run = try await Self.deliver(to: first)
        #expect(run.status == 0, "\(run)")
        let committed = first.queueEntries
        try #require(committed.count == 1, "queue: \(committed)\n\(run)\n\(first.process.result())")

        // A second client is mid-session (after EHLO, in a transaction) when the node dies.
        let idle = try await RawClient.connect(port: first.port)
        _ = try await idle.reply()
        #expect(try await idle.command("EHLO idle.test") == 250)
        #expect(try await idle.command("MAIL FROM:<late@src.test>") == 250)
        first.process.signal(SIGKILL)
        #expect(await first.process.waitForExit(timeout: .seconds(5)), "kill -9 did not end the process")
        try await idle.waitForClose(timeout: .seconds(5))
        await idle.close()
        #expect(first.queueEntries == committed)
        try Self.expectEntry(committed[0], first.process.result().description)

        // Restarted on the same spool: the committed entry is still there, and the node works.
        let second = try await Node(spool: spool, scratch: scratch)
        defer { second.process.signal(SIGKILL) }
        #expect(second.queueEntries.contains(committed[0]), "entry lost across restart: \(second.queueEntries)")
        try Self.expectEntry(committed[0], second.process.result().description)
        let again = try await Self.deliver(to: second)
        #expect(again.status == 0, "\(again)\n\(second.process.result())")
        #expect(second.queueEntries.count == 2, "queue: \(second.queueEntries)")
        second.process.signal(SIGTERM)
        #expect(await second.process.waitForExit(timeout: .seconds(5)), "\(second.process.result())")
        #expect(second.process.result().status == 0, "\(second.process.result())")
    }
}
