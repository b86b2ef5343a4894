import Foundation
import Logging
import NIOCore
import NIOPosix
import Roles
import SMTPCore
import Testing

/// Two real nodes on loopback, stage A forwarding to stage B through a proxy that can lose
/// B's reply: a retried hand-off is stored once at B, and an outsider's `Mailnode-Id` never
/// reaches B (DESIGN.md §3.1, docs/spool.md "Deduplication").
@Suite(.timeLimit(.minutes(2)))
struct HandOffDedupTests {
    static let logger = Logger(label: "test")

    static func directory(_ name: String) -> String {
        NSTemporaryDirectory() + "mailnode-handoff-\(name)-" + UUID().uuidString
    }

    /// Stage B: takes mail for dst.test from anyone, trusts loopback as its upstream, keeps
    /// everything in its spool (no next hop), so its queue shows what it stored.
    static func stageB(spool: String) async throws -> (MailNode, Int) {
        let mx = MXRoleConfiguration(listen: [ListenAddress(host: "127.0.0.1", port: 0)], localDomains: ["dst.test"],
                                     trustedUpstreams: [IPNetwork("127.0.0.1/32")!])
        let node = try MailNode(configuration: NodeConfiguration(hostname: "b.test", spoolDirectory: spool, mx: mx),
                                group: MultiThreadedEventLoopGroup.singleton, logger: logger)
        let port = try await node.start()[0].port!
        return (node, port)
    }

    /// Stage A: the first stage (trusts no client's Mailnode-Id), forwarding everything to
    /// `nextHopPort`, retrying after 0.2 s.
    static func stageA(spool: String, nextHopPort: Int) async throws -> (MailNode, Int) {
        let mx = MXRoleConfiguration(listen: [ListenAddress(host: "127.0.0.1", port: 0)], localDomains: ["dst.test"])
        let hop = NextHop(name: "b", host: "127.0.0.1", port: nextHopPort, tls: .none)
        let configuration = NodeConfiguration(hostname: "a.test", spoolDirectory: spool, mx: mx,
                                              routing: RoutingTable(defaultHop: hop),
                                              retry: RetryPolicy(initialDelay: 0.2, jitter: 0))
        let node = try MailNode(configuration: configuration, group: MultiThreadedEventLoopGroup.singleton, logger: logger)
        let port = try await node.start()[0].port!
        return (node, port)
    }

    /// Sends one message to stage A as an outside client; returns A's reply.
    static func submit(_ message: String, to port: Int) async throws -> Reply {
        var client = SMTPClientConfiguration()
        client.tls = .none
        let envelope = OutboundEnvelope(sender: .mailbox(Mailbox(localPart: "s", host: .domain("src.test"))),
                                        recipients: [OutboundRecipient(.mailbox(Mailbox(localPart: "u", host: .domain("dst.test"))))])
        let result = await SMTPClient.deliver(envelope: envelope, message: ByteBuffer(string: message), host: "127.0.0.1",
                                              port: port, configuration: client)
        let outcome = try #require(result.recipients.first)
        #expect(outcome.isAccepted)
        return outcome.reply
    }

    /// Stored messages of a spool's queue (text after the record).
    static func queued(_ spool: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: spool + "/queue").sorted().map { name in
            let data = try Data(contentsOf: URL(fileURLWithPath: spool + "/queue/" + name))
            let text = String(decoding: data, as: UTF8.self)
            // MAILNODE-SPOOL 1 <n>\n<json>\n<message>
            let header = text.prefix { $0 != "\n" }
            let length = Int(header.split(separator: " ").last ?? "") ?? 0
            return String(decoding: data.dropFirst(header.utf8.count + 1 + length + 1), as: UTF8.self)
        }
    }

    static func eventually(timeout: Duration = .seconds(30), _ condition: () throws -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while try !condition() {
            if ContinuousClock.now >= deadline { throw TimedOut() }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    struct TimedOut: Error {}

    @Test func aHandOffRetriedAfterTheNextStageCommittedIsStoredOnce() async throws {
        let spoolA = Self.directory("a"), spoolB = Self.directory("b")
        let (nodeB, portB) = try await Self.stageB(spool: spoolB)
        // The first 250 that B sends for a message is lost on its way to A, with the connection.
        let proxy = try await ReplyDroppingProxy.start(target: portB, dropping: 1)
        let (nodeA, portA) = try await Self.stageA(spool: spoolA, nextHopPort: proxy.port)

        let accepted = try await Self.submit("Subject: once\r\nMessage-ID: <once@src.test>\r\n\r\nbody\r\n", to: portA)
        let idAtA = try #require(accepted.text.split(separator: " ").last.map(String.init))

        // A retries after the lost reply, B answers 250 again, A's queue empties.
        try await Self.eventually { try nodeA.spool.committedIDs().isEmpty }
        #expect(proxy.dropped == 1)
        #expect(proxy.queuedReplies == 2)   // the lost one and the answer to the retry
        let stored = try Self.queued(spoolB)
        #expect(stored.count == 1)
        #expect(stored.first?.contains("Mailnode-Id: <\(idAtA)@a.test>\r\n") == true)
        #expect(stored.first?.contains("Message-ID: <once@src.test>") == true)
        let log = try String(contentsOfFile: spoolB + "/delivered/log", encoding: .utf8)
        #expect(log.split(separator: "\n").count == 1)
        #expect(log.contains("<\(idAtA)@a.test>/1 <u@dst.test>"))   // id/hops: A added the one Received

        await nodeA.shutdown()
        await nodeB.shutdown()
        await proxy.stop()
    }

    @Test func anOutsidersMailnodeIDDoesNotSuppressDelivery() async throws {
        let spoolA = Self.directory("a"), spoolB = Self.directory("b")
        // B already stored the victim's message for u@dst.test (in an earlier run).
        try FileManager.default.createDirectory(atPath: spoolB + "/delivered", withIntermediateDirectories: true)
        let now = Int(Date().timeIntervalSince1970)
        try Data("\(now) EARLIER <VICTIM@a.test> <u@dst.test>\n".utf8).write(to: URL(fileURLWithPath: spoolB + "/delivered/log"))
        let (nodeB, portB) = try await Self.stageB(spool: spoolB)
        let (nodeA, portA) = try await Self.stageA(spool: spoolA, nextHopPort: portB)

        // An outsider guesses the id and sends a new message with it.
        let accepted = try await Self.submit("Mailnode-Id: <VICTIM@a.test>\r\nSubject: new\r\n\r\nbody\r\n", to: portA)
        let idAtA = try #require(accepted.text.split(separator: " ").last.map(String.init))
        try await Self.eventually { try nodeA.spool.committedIDs().isEmpty }
        let stored = try Self.queued(spoolB)
        #expect(stored.count == 1)   // stored, not taken for a duplicate
        #expect(stored.first?.contains("VICTIM") == false)
        #expect(stored.first?.contains("Mailnode-Id: <\(idAtA)@a.test>\r\nSubject: new\r\n") == true)

        await nodeA.shutdown()
        await nodeB.shutdown()
    }
}
