import Foundation
import Testing
@testable import SMTPCore

/// `mailnode queue list|show` as processes against the spool of a running `mailnode up`.
@Suite struct QueueCommandProcessTests {
    @Test func listAndShowWhileTheNodeRuns() async throws {
        let scratch = try TemporaryDirectory("queue-cli")
        defer { scratch.remove() }
        let node = try await MailnodeProcessInteropTests.Node(spool: scratch.path + "/spool", scratch: scratch)
        defer { node.process.signal(SIGKILL) }
        let sent = try await MailnodeProcessInteropTests.deliver(to: node, rcpt: "bob@example.test,carol@example.test")
        #expect(sent.status == 0, "\(sent)")
        let id = try #require(node.queueEntries.first.map { URL(fileURLWithPath: $0).lastPathComponent })

        let mailnode = try InteropTools.mailnodeBinary()
        let list = try await ExternalProcess.run(mailnode, ["queue", "list", "--spool", node.spool])
        #expect(list.status == 0, "\(list)")
        #expect(list.stdout.contains("\(id)  "), "\(list)")
        #expect(list.stdout.contains("<alice@src.test>  0 attempts, due now"), "\(list)")
        #expect(list.stdout.contains("    <bob@example.test>  pending\n    <carol@example.test>  pending\n"), "\(list)")
        #expect(list.stdout.hasSuffix("-- 1 message, 2 recipients pending\n"), "\(list)")

        let json = try await ExternalProcess.run(mailnode, ["queue", "list", "--spool", node.spool, "--format", "json"])
        let decoded = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        #expect((decoded?["messages"] as? [[String: Any]])?.first?["id"] as? String == id, "\(json)")

        let show = try await ExternalProcess.run(mailnode, ["queue", "show", id, "--spool", node.spool])
        #expect(show.status == 0, "\(show)")
        #expect(show.stdout.contains("Subject: to the spool"), "\(show)")
        #expect(show.stdout.contains("Mailnode-Id: <\(id)@mx.example.test>"), "\(show)")

        let missing = try await ExternalProcess.run(mailnode, ["queue", "show", "NOSUCHID", "--spool", node.spool])
        #expect(missing.status == 1, "\(missing)")
        let notSpool = try await ExternalProcess.run(mailnode, ["queue", "list", "--spool", scratch.path + "/nothing"])
        #expect(notSpool.status == 2 && notSpool.stderr.contains("not a spool directory"), "\(notSpool)")
        #expect(node.queueEntries.count == 1)   // read-only
    }
}
