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

/// `mailnode queue hold|release|flush|delete|bounce` as processes: through the control socket of
/// a running `mailnode up` whose next hop (in this process) defers, then on the files once the
/// node has stopped.
@Suite struct QueueAdminProcessTests {
    @Test func commandsReachTheRunningNodeAndWorkWithoutOne() async throws {
        let scratch = try TemporaryDirectory("queue-admin")
        defer { scratch.remove() }
        let hooks = SpoolAdministrationTests.CountingDefer()
        let next = try await LiveServer(hooks: hooks)
        let spool = scratch.path + "/spool"
        let mailnode = try InteropTools.mailnodeBinary()
        let node = try RunningProcess(mailnode, ["up", "--listen", "127.0.0.1:0", "--hostname", "mx.example.test", "--domain", "dst.test",
                                                 "--spool", spool, "--next-hop", "127.0.0.1:\(next.port)"], in: scratch)
        let port = try #require(await node.waitForOutput(timeout: .seconds(60), MailnodeProcessInteropTests.Node.boundPort), "\(node.result())")
        let swaks = try InteropTools.swaks()
        func send(_ rcpt: String) async throws -> String {
            let before = Set((try? FileManager.default.contentsOfDirectory(atPath: spool + "/queue")) ?? [])
            let sent = try await ExternalProcess.run(swaks, ["--server", "127.0.0.1", "--port", String(port), "--helo", "client.test",
                                                             "--from", "alice@src.test", "--to", rcpt, "--timeout", "30"], timeout: .seconds(60))
            #expect(sent.status == 0, "\(sent)")
            let after = Set((try? FileManager.default.contentsOfDirectory(atPath: spool + "/queue")) ?? [])
            return try #require(after.subtracting(before).first, "\(sent)\n\(node.result())")
        }
        func queue(_ arguments: String...) async throws -> ProcessResult {
            try await ExternalProcess.run(mailnode, ["queue"] + arguments + ["--spool", spool], timeout: .seconds(60))
        }
        let first = try await send("b@dst.test")
        let second = try await send("c@dst.test")
        // Both tried once and deferred (the hop answered 450).
        try await SpoolRunnerTests.eventually(timeout: .seconds(60)) { hooks.count >= 2 }
        try await SpoolRunnerTests.eventually(timeout: .seconds(60)) {
            SpoolListing(directory: spool).exists && ((try? SpoolListing(directory: spool).items().items.allSatisfy { $0.attempts >= 1 }) ?? false)
        }
        let list = try await queue("list")
        #expect(list.stdout.contains("last error: 450 4.2.0 Try later"), "\(list)")
        #expect(list.stdout.contains("next(smtp://127.0.0.1:\(next.port))  2 recipients in 2 messages"), "\(list)")

        let hold = try await queue("hold", first)
        #expect(hold.status == 0 && hold.stdout == "\(first): held\n", "\(hold)")
        #expect(try await queue("list").stdout.contains("held since"))
        let flushHeld = try await queue("flush", first)
        #expect(flushHeld.status == 1 && flushHeld.stderr == "mailnode: \(first): held; release it first\n", "\(flushHeld)")
        let release = try await queue("release", first)
        #expect(release.status == 0 && release.stdout == "\(first): released, due now\n", "\(release)")

        let delete = try await queue("delete", second)
        #expect(delete.status == 0 && delete.stdout == "\(second): deleted\n", "\(delete)")
        #expect(!FileManager.default.fileExists(atPath: spool + "/queue/" + second))
        #expect(!FileManager.default.fileExists(atPath: spool + "/state/" + second))
        let unknown = try await queue("delete", "NOSUCHID")
        #expect(unknown.status == 1 && unknown.stderr == "mailnode: NOSUCHID: no such message in the queue\n", "\(unknown)")
        let flush = try await queue("flush")
        #expect(flush.status == 0 && flush.stdout.hasSuffix("due now\n"), "\(flush)")

        // The node logged each command with the queue id.
        let log = node.stdout + node.stderr
        #expect(log.contains("action=hold msg=\(first)"), "\(log)")
        #expect(log.contains("action=delete msg=\(second)"), "\(log)")

        // Without a node: the same commands on the files, under the spool's lock.
        node.signal(SIGTERM)
        #expect(await node.waitForExit(timeout: .seconds(60)), "\(node.result())")
        #expect(!FileManager.default.fileExists(atPath: spool + "/control.sock"))
        let offlineHold = try await queue("hold", first)
        #expect(offlineHold.status == 0 && offlineHold.stdout == "\(first): held\n", "\(offlineHold)")
        #expect(try SpoolListing(directory: spool).item(first).held)
        let bounce = try await ExternalProcess.run(mailnode, ["queue", "bounce", first, "--spool", spool, "--hostname", "relay.test"],
                                                   timeout: .seconds(60))
        #expect(bounce.status == 0 && bounce.stdout.contains("returned to the sender"), "\(bounce)")
        let left = try SpoolListing(directory: spool).items().items
        #expect(left.map(\.sender) == ["<>"], "\(left)")
        #expect(left.first?.recipients.map(\.address) == ["<alice@src.test>"])
        #expect(try await queue("show", first).status == 1)
        await node.kill9()
        await next.stop()
    }
}
