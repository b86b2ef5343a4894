import Foundation
import Logging
import NIOCore
import NIOPosix
import Roles
import SMTPCore
import Testing

/// A node built from a configuration file runs the stateful mx defenses it enables, with its
/// SQLite state file where `[state]` says.
@Suite(.timeLimit(.minutes(2)))
struct StatefulDefensesNodeTests {
    static func deliver(port: Int, to recipient: String, message: String = "Subject: t\r\n\r\nbody\r\n") async -> Reply? {
        var client = SMTPClientConfiguration()
        client.tls = .none
        let envelope = OutboundEnvelope(sender: .mailbox(Mailbox(localPart: "s", host: .domain("src.test"))),
                                        recipients: [OutboundRecipient(.mailbox(Mailbox(localPart: recipient, host: .domain("d.test"))))])
        let result = await SMTPClient.deliver(envelope: envelope, message: ByteBuffer(string: message),
                                              host: "127.0.0.1", port: port, configuration: client)
        return result.recipients.first?.reply
    }

    @Test func greylistingFromTheConfigurationFile() async throws {
        let spool = NSTemporaryDirectory() + "mailnode-stateful-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: spool) }
        let text = """
            [node]
            hostname = "mx.test"
            spool = "\(spool)"
            [mx]
            domains = ["d.test"]
            listen = ["127.0.0.1:0"]
            [mx.greylist]
            delay = 1
            spf_exempt = false
            """
        let configuration = try NodeConfiguration(toml: text, file: "node.toml")
        let node = try MailNode(configuration: configuration, group: MultiThreadedEventLoopGroup.singleton,
                                logger: Logger(label: "test"))
        let port = try await node.start()[0].port!
        let first = await Self.deliver(port: port, to: "u")
        #expect(first?.code.rawValue == 451)
        #expect(first?.enhancedCode == EnhancedStatusCode(4, 7, 1))
        try await Task.sleep(for: .milliseconds(1100))
        #expect(await Self.deliver(port: port, to: "u")?.code.rawValue == 250)
        await node.shutdown()
        #expect(FileManager.default.fileExists(atPath: spool + "/defenses/state.sqlite"))

        // Not checked here: a second node started in this process on the same file (it once
        // found the state file's lock still taken right after the first node's shutdown, in a
        // loaded full suite, not understood yet — docs/roadmap.md). SQLiteWriteBehindStoreTests
        // shows a closed store's state read back by the next one.
    }
}

/// The list defenses of a node built from its file: a spam-trap hit blocks the client's next
/// connection; an allow-listed client skips greylisting.
@Suite(.timeLimit(.minutes(2)))
struct ListDefensesNodeTests {
    static func node(_ tables: String) throws -> (MailNode, String) {
        let spool = NSTemporaryDirectory() + "mailnode-lists-" + UUID().uuidString
        let text = """
            [node]
            hostname = "mx.test"
            spool = "\(spool)"
            [mx]
            domains = ["d.test"]
            listen = ["127.0.0.1:0"]
            \(tables)
            """
        let configuration = try NodeConfiguration(toml: text, file: "node.toml")
        return (try MailNode(configuration: configuration, group: MultiThreadedEventLoopGroup.singleton, logger: Logger(label: "test")), spool)
    }

    @Test func spamTrapBlocksTheNextConnection() async throws {
        let (node, spool) = try Self.node("[mx.spam_traps]\naddresses = [\"trap@d.test\"]\n[mx.blocklist]\n")
        defer { try? FileManager.default.removeItem(atPath: spool) }
        let port = try await node.start()[0].port!
        #expect(await StatefulDefensesNodeTests.deliver(port: port, to: "u")?.code.rawValue == 250)
        let trapped = await StatefulDefensesNodeTests.deliver(port: port, to: "trap")
        #expect(trapped?.code.rawValue == 550)
        let next = await StatefulDefensesNodeTests.deliver(port: port, to: "u")
        #expect(next?.code.rawValue == 554)
        await node.shutdown()
    }

    @Test func allowListedClientSkipsGreylisting() async throws {
        let (node, spool) = try Self.node("[mx.greylist]\ndelay = 3600\nspf_exempt = false\n[mx.allowlist]\nclients = [\"127.0.0.1\"]\n")
        defer { try? FileManager.default.removeItem(atPath: spool) }
        let port = try await node.start()[0].port!
        #expect(await StatefulDefensesNodeTests.deliver(port: port, to: "u")?.code.rawValue == 250)
        await node.shutdown()
        let (greylisted, spool2) = try Self.node("[mx.greylist]\ndelay = 3600\nspf_exempt = false\n[mx.allowlist]\nclients = [\"192.0.2.1\"]\n")
        defer { try? FileManager.default.removeItem(atPath: spool2) }
        let port2 = try await greylisted.start()[0].port!
        #expect(await StatefulDefensesNodeTests.deliver(port: port2, to: "u")?.code.rawValue == 451)
        await greylisted.shutdown()
    }
}

/// DM19's recipient directory on a node: unknown recipients refused, trap addresses still trap.
@Suite(.timeLimit(.minutes(2)))
struct RecipientDirectoryNodeTests {
    @Test func unknownRefusedKnownAcceptedTrapStillTraps() async throws {
        let (node, spool) = try ListDefensesNodeTests.node("""
            [mx.recipients]
            addresses = ["u@d.test"]
            [mx.spam_traps]
            addresses = ["trap@d.test"]
            """)
        defer { try? FileManager.default.removeItem(atPath: spool) }
        let port = try await node.start()[0].port!
        #expect(await StatefulDefensesNodeTests.deliver(port: port, to: "u")?.code.rawValue == 250)
        let unknown = await StatefulDefensesNodeTests.deliver(port: port, to: "nobody")
        #expect(unknown?.code.rawValue == 550 && unknown?.enhancedCode == EnhancedStatusCode(5, 1, 1))
        #expect(await StatefulDefensesNodeTests.deliver(port: port, to: "trap")?.code.rawValue == 550)
        #expect(node.metrics.count("DM19", .rejected) == 1)
        #expect(node.metrics.count("DM27", .rejected) == 1)
        await node.shutdown()
    }
}
