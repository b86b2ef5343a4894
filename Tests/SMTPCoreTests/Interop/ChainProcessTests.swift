import Foundation
import Testing
@testable import SMTPCore

/// `mailnode --role all`: mx, submission and store in one process, chained over their own
/// listeners (each on port 0: the chain learns the ports as the later stages bind). swaks sends
/// from the Internet side and as an authenticated user; Python's poplib reads the mailbox.
/// Shown: unknown users refused at the mx's RCPT against the store's directory (no bounce
/// later), both paths end in the same INBOX byte-identically, mail for other domains leaves by
/// `[routes]`, every stage's spool is empty afterwards.
@Suite(.timeLimit(.minutes(3)))
struct ChainProcessTests {
    /// The ports of `... listen=A:1,B:2,... role=mx,submission,store ... mailnode up`.
    static func boundPorts(_ log: String) -> [Int]? {
        for line in log.split(separator: "\n") where line.hasSuffix("mailnode up") {
            guard let field = line.split(separator: " ").first(where: { $0.hasPrefix("listen=") }) else { continue }
            return field.dropFirst("listen=".count).split(separator: ",").compactMap { address in
                address.lastIndex(of: ":").flatMap { Int(address[address.index(after: $0)...]) }
            }
        }
        return nil
    }

    /// Fetches over POP3S until `done` holds for the mailbox (or 30 s pass); the last fetch.
    static func fetch(_ client: StoreProcessTests.Client, _ port: Int, user: String, password: String,
                      until done: ([[UInt8]]) -> Bool) async throws -> (stat: [Int], messages: [[UInt8]], all: [String: Any]) {
        var fetched = try await client.fetch(port, mode: "ssl", user: user, password: password)
        let deadline = ContinuousClock.now + .seconds(30)
        while !done(fetched.messages), ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(200))
            fetched = try await client.fetch(port, mode: "ssl", user: user, password: password)
        }
        return fetched
    }

    /// The entries left in a spool's queue directory once it has emptied (or 15 s passed).
    static func entriesLeft(_ queue: String) async throws -> [String] {
        var left = ["?"]
        let deadline = ContinuousClock.now + .seconds(15)
        while !left.isEmpty, ContinuousClock.now < deadline {
            left = (try? FileManager.default.contentsOfDirectory(atPath: queue)) ?? ["missing"]
            if !left.isEmpty { try await Task.sleep(for: .milliseconds(100)) }
        }
        return left
    }

    @Test func mxSubmissionAndStoreInOneProcess() async throws {
        let smarthost = try await LiveServer(session: SMTPSessionConfiguration(hostname: "smarthost.test"))
        let scratch = try TemporaryDirectory("chain")
        defer { scratch.remove() }
        let mailnode = try InteropTools.mailnodeBinary()
        let added = try await ExternalProcess.run(mailnode, ["users", "add", "you@example.test", "--alias", "info@example.test",
                                                             "--directory", scratch.path + "/spool/defenses/users.sqlite"],
                                                  stdin: Array("chain pw 7\n".utf8))
        #expect(added.status == 0, "\(added)")
        let config = """
            [node]
            hostname = "node.example.test"
            spool = "\(scratch.path)/spool"
            [tls]
            certificate = "\(FixturePaths.serverCertificate)"
            key = "\(FixturePaths.serverKey)"
            [mx]
            listen = "127.0.0.1:0"
            domains = ["example.test"]
            [submission]
            listen = "127.0.0.1:0"
            [store]
            listen = "127.0.0.1:0"
            pop3_listen = []
            pop3s_listen = "127.0.0.1:0"
            [hops.smarthost]
            address = "127.0.0.1:\(smarthost.port)"
            tls = "none"
            [routes]
            "*" = "smarthost"
            """
        let file = try scratch.write("mailnode.toml", Array(config.utf8))
        let node = try RunningProcess(mailnode, ["--role", "all", "--config", file], in: scratch)
        defer { node.signal(SIGKILL) }
        let ports = try #require(await node.waitForOutput(timeout: .seconds(20)) { log in Self.boundPorts(log).flatMap { $0.count == 4 ? $0 : nil } },
                                 "\(node.result())")
        let (mxPort, submissionPort, pop3sPort) = (ports[0], ports[1], ports[3])
        #expect(node.result().description.contains("role=mx,submission,store"))

        func swaks(_ port: Int, _ options: [String]) async throws -> ProcessResult {
            try await ExternalProcess.run(try InteropTools.swaks(), [
                "--server", "127.0.0.1", "--port", String(port), "--helo", "client.example", "--timeout", "30",
            ] + options, timeout: .seconds(40))
        }
        // From the Internet: an unknown user is refused at RCPT (DM19 against the store's users) …
        let unknown = try await swaks(mxPort, ["--from", "someone@example.net", "--to", "nobody@example.test"])
        #expect(unknown.status != 0 && unknown.stdout.contains("550 5.1.1"), "\(unknown)")
        // … a user's alias is accepted, and so is a user added while the node runs (no list to copy).
        let inbound = try await swaks(mxPort, ["--from", "someone@example.net", "--to", "info@example.test",
                                              "--header", "Subject: from outside", "--body", "inbound body"])
        #expect(inbound.status == 0, "\(inbound)")
        let later = try await ExternalProcess.run(mailnode, ["users", "add", "late@example.test",
                                                             "--directory", scratch.path + "/spool/defenses/users.sqlite"],
                                                  stdin: Array("late pw 8\n".utf8))
        #expect(later.status == 0, "\(later)")
        let toLate = try await swaks(mxPort, ["--from", "someone@example.net", "--to", "late@example.test"])
        #expect(toLate.status == 0, "\(toLate)")
        // The user, authenticated: to herself (stays inside) and to another domain (leaves by [routes]).
        let submitted = try await swaks(submissionPort, ["--tls", "--auth", "PLAIN", "--auth-user", "you@example.test",
                                                         "--auth-password", "chain pw 7", "--from", "you@example.test",
                                                         "--to", "you@example.test,friend@elsewhere.test",
                                                         "--header", "Subject: from inside"])
        #expect(submitted.status == 0, "\(submitted)")

        let client = StoreProcessTests.Client(python: try InteropTools.python3(),
                                              script: InteropTools.scriptsDirectory.appendingPathComponent("store_client.py").path)
        let fetched = try await Self.fetch(client, pop3sPort, user: "you@example.test", password: "chain pw 7") { $0.count >= 2 }
        #expect(fetched.messages.count == 2, "\(fetched.all)\n\(node.result())")
        let texts = fetched.messages.map { String(decoding: $0, as: UTF8.self) }
        let outside = try #require(texts.first { $0.contains("Subject: from outside") }, "\(texts)")
        let inside = try #require(texts.first { $0.contains("Subject: from inside") }, "\(texts)")
        // Each passed two stages: the store's Received on top of the entry stage's.
        #expect(outside.hasPrefix("Return-Path: <someone@example.net>\r\nReceived: from node.example.test"), "\(outside)")
        #expect(outside.contains("by node.example.test with ESMTP") && outside.contains("with LMTP"), "\(outside)")
        #expect(outside.contains("\r\n\r\ninbound body\r\n"), "\(outside)")
        #expect(inside.contains("with ESMTPSA"), "\(inside)")
        // Mail for another domain left by the file's route, once.
        let outDeadline = ContinuousClock.now + .seconds(20)
        while smarthost.receiver.messages.isEmpty, ContinuousClock.now < outDeadline { try await Task.sleep(for: .milliseconds(50)) }
        #expect(smarthost.receiver.messages.count == 1)
        #expect(smarthost.receiver.messages.first?.envelope.recipients.map { "\($0.path)" } == ["<friend@elsewhere.test>"])
        let late = try await client.fetch(pop3sPort, mode: "ssl", user: "late@example.test", password: "late pw 8")
        #expect(late.stat.first == 1, "\(late.all)")

        // Every stage handed its mail on: the stage spools hold no entries.
        for stage in ["mx", "submission"] {
            let left = try await Self.entriesLeft(scratch.path + "/spool/stages/\(stage)/queue")
            #expect(left.isEmpty, "\(stage): \(left)")
        }
        #expect(!node.result().description.contains("chain pw"))   // passwords are never logged
        node.signal(SIGTERM)
        #expect(await node.waitForExit(timeout: .seconds(15)))
    }

    /// The quota case through the chain: the store answers 452 4.2.2 for a full mailbox,
    /// so the message waits in the mx stage's spool (not bounced, not lost) and is delivered by a
    /// later retry once the user has made room.
    @Test func overQuotaWaitsInTheMxStageUntilThereIsRoom() async throws {
        let smarthost = try await LiveServer(session: SMTPSessionConfiguration(hostname: "smarthost.test"))
        let scratch = try TemporaryDirectory("chain-quota")
        defer { scratch.remove() }
        let mailnode = try InteropTools.mailnodeBinary()
        let added = try await ExternalProcess.run(mailnode, ["users", "add", "full@example.test",
                                                             "--directory", scratch.path + "/spool/defenses/users.sqlite"],
                                                  stdin: Array("quota pw 3\n".utf8))
        #expect(added.status == 0, "\(added)")
        let config = """
            [node]
            hostname = "node.example.test"
            spool = "\(scratch.path)/spool"
            [tls]
            certificate = "\(FixturePaths.serverCertificate)"
            key = "\(FixturePaths.serverKey)"
            [retry]
            initial_delay = 1
            max_delay = 2
            jitter_percent = 0
            [mx]
            listen = "127.0.0.1:0"
            domains = ["example.test"]
            [store]
            listen = "127.0.0.1:0"
            pop3_listen = []
            pop3s_listen = "127.0.0.1:0"
            quota_messages = 1
            [hops.smarthost]
            address = "127.0.0.1:\(smarthost.port)"
            tls = "none"
            [routes]
            "*" = "smarthost"
            """
        let file = try scratch.write("mailnode.toml", Array(config.utf8))
        let node = try RunningProcess(mailnode, ["--role", "all", "--config", file], in: scratch)
        defer { node.signal(SIGKILL) }
        let ports = try #require(await node.waitForOutput(timeout: .seconds(20)) { log in Self.boundPorts(log).flatMap { $0.count == 3 ? $0 : nil } },
                                 "\(node.result())")
        let (mxPort, pop3sPort) = (ports[0], ports[2])
        func send(_ subject: String) async throws -> ProcessResult {
            try await ExternalProcess.run(try InteropTools.swaks(), [
                "--server", "127.0.0.1", "--port", String(mxPort), "--helo", "client.example", "--timeout", "30",
                "--from", "someone@example.net", "--to", "full@example.test", "--header", "Subject: \(subject)",
            ], timeout: .seconds(40))
        }
        let client = StoreProcessTests.Client(python: try InteropTools.python3(),
                                              script: InteropTools.scriptsDirectory.appendingPathComponent("store_client.py").path)
        // The first fills the mailbox (quota: one message).
        #expect(try await send("first").status == 0)
        let fetched = try await Self.fetch(client, pop3sPort, user: "full@example.test", password: "quota pw 3") { !$0.isEmpty }
        #expect(fetched.messages.count == 1, "\(fetched.all)")

        // The second is accepted by the mx (its check knows the user, not the quota) and refused by the store.
        #expect(try await send("second").status == 0)
        let queue = scratch.path + "/spool/stages/mx/queue"
        let deferDeadline = ContinuousClock.now + .seconds(30)
        while !node.result().description.contains("452 4.2.2"), ContinuousClock.now < deferDeadline {
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(node.result().description.contains("452 4.2.2"), "\(node.result())")
        // Several retries later it is still waiting in the mx stage: deferred, not bounced.
        try await Task.sleep(for: .seconds(3))
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: queue)) ?? []).count == 1,
                "\(String(describing: try? FileManager.default.contentsOfDirectory(atPath: queue)))")
        #expect(smarthost.receiver.messages.isEmpty, "a bounce left the node: \(smarthost.receiver.messages)")
        let still = try await client.fetch(pop3sPort, mode: "ssl", user: "full@example.test", password: "quota pw 3", delete: true)
        #expect(still.messages.count == 1 && String(decoding: still.messages[0], as: UTF8.self).contains("Subject: first"))

        // Room made: a retry delivers the second message, and the mx stage's spool empties.
        let second = try await Self.fetch(client, pop3sPort, user: "full@example.test", password: "quota pw 3") { !$0.isEmpty }
        #expect(second.messages.count == 1 && second.messages.first.map { String(decoding: $0, as: UTF8.self).contains("Subject: second") } == true,
                "\(second.all)\n\(node.result())")
        // The entry goes once the store's 250 is back, a moment after the store shows the message.
        let left = try await Self.entriesLeft(queue)
        #expect(left.isEmpty, "\(left)")
        #expect(smarthost.receiver.messages.isEmpty)
        node.signal(SIGTERM)
        #expect(await node.waitForExit(timeout: .seconds(15)))
    }
}
