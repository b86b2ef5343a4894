import Foundation
import Testing
@testable import SMTPCore

/// `mailnode --role store` as a process, with Python's smtplib.LMTP as the stage in front and
/// poplib as the users' mail program (Tests/interop/store_client.py), over implicit TLS and STLS
/// with the test CA verified: per-recipient LMTP replies, byte-identical retrieval, a retried
/// hand-off stored once, quota 452 4.2.2, no credentials before TLS, bad commands answered
/// `-ERR` without losing the connection.
@Suite(.timeLimit(.minutes(3)))
struct StoreProcessTests {
    /// The ports of the start-up line `... listen=A:1,B:2,C:3 ... mailnode up`: LMTP, POP3 (STLS), POP3S.
    static func boundPorts(_ log: String) -> [Int]? {
        for line in log.split(separator: "\n") where line.hasSuffix("mailnode up") {
            guard let field = line.split(separator: " ").first(where: { $0.hasPrefix("listen=") }) else { continue }
            let ports = field.dropFirst("listen=".count).split(separator: ",").compactMap { address in
                address.lastIndex(of: ":").flatMap { Int(address[address.index(after: $0)...]) }
            }
            return ports.count == 3 ? ports : nil
        }
        return nil
    }

    struct Client {
        let python: String
        let script: String

        func run(_ arguments: [String]) async throws -> [String: Any] {
            let result = try await ExternalProcess.run(python, [script] + arguments, timeout: .seconds(60))
            #expect(result.status == 0, "\(result)")
            let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
            return try #require(object, "\(result)")
        }

        func lmtp(_ port: Int, to recipients: [String], message: String) async throws -> (rcpt: [Int], data: [String]) {
            let out = try await run(["lmtp", "127.0.0.1", String(port), "--to", recipients.joined(separator: ","), "--message", message])
            let rcpt = (out["rcpt"] as? [[Any]] ?? []).compactMap { $0.first as? Int }
            let data = (out["data"] as? [[Any]] ?? []).map { "\($0[0]) \($0[1])" }
            return (rcpt, data)
        }

        func fetch(_ port: Int, mode: String, user: String, password: String, delete: Bool = false) async throws -> (stat: [Int], messages: [[UInt8]], all: [String: Any]) {
            var arguments = ["fetch", "127.0.0.1", String(port), "--mode", mode, "--cafile", FixturePaths.caCertificate,
                             "--user", user, "--password", password]
            if delete { arguments.append("--delete") }
            let out = try await run(arguments)
            let messages = (out["messages"] as? [String] ?? []).map { [UInt8](Data(base64Encoded: $0) ?? Data()) }
            return (out["stat"] as? [Int] ?? [], messages, out)
        }
    }

    @Test func lmtpIntakeAndPOP3OverTLS() async throws {
        let scratch = try TemporaryDirectory("store")
        defer { scratch.remove() }
        let mailnode = try InteropTools.mailnodeBinary()
        let users = scratch.path + "/spool/defenses/users.sqlite"
        for (user, alias) in [("alice@example.test", "a@example.test"), ("bob@example.test", "robert@example.test")] {
            let added = try await ExternalProcess.run(mailnode, ["users", "add", user, "--alias", alias, "--directory", users],
                                                      stdin: Array("pop pw 1\n".utf8))
            #expect(added.status == 0, "\(added)")
        }
        let config = """
            [node]
            hostname = "store.example.test"
            spool = "\(scratch.path)/spool"
            [tls]
            certificate = "\(FixturePaths.serverCertificate)"
            key = "\(FixturePaths.serverKey)"
            [store]
            listen = "127.0.0.1:0"
            pop3_listen = "127.0.0.1:0"
            pop3s_listen = "127.0.0.1:0"
            trusted_upstreams = ["127.0.0.0/8"]
            quota_messages = 3
            """
        let file = try scratch.write("mailnode.toml", Array(config.utf8))
        let node = try RunningProcess(mailnode, ["--role", "store", "--config", file], in: scratch)
        defer { node.signal(SIGKILL) }
        let ports = try #require(await node.waitForOutput(timeout: .seconds(15), Self.boundPorts), "\(node.result())")
        let (lmtpPort, pop3Port, pop3sPort) = (ports[0], ports[1], ports[2])
        let client = Client(python: try InteropTools.python3(), script: InteropTools.scriptsDirectory.appendingPathComponent("store_client.py").path)

        // A message as the antispam stage hands it on: its Mailnode-Id, a line starting with a dot.
        let message = "Mailnode-Id: <00HANDOFF1@mx.example.test>\r\nFrom: sender@example.net\r\nTo: alice@example.test\r\n"
            + "Subject: store test\r\n\r\n.a line with a leading dot\r\n\r\n" + String(repeating: "body line 0123456789\r\n", count: 20)
        let messageFile = try scratch.write("message.eml", Array(message.utf8))
        let first = try await client.lmtp(lmtpPort, to: ["alice@example.test", "nobody@example.test", "a@example.test", "bob@example.test"],
                                          message: messageFile)
        #expect(first.rcpt == [250, 550, 250, 250], "\(first)")
        #expect(first.data.count == 3 && first.data.allSatisfy { $0.hasPrefix("250 2.0.0") }, "\(first)")
        // The same hand-off again (its 250 was lost, say): answered 250, not stored twice.
        let retry = try await client.lmtp(lmtpPort, to: ["alice@example.test", "bob@example.test"], message: messageFile)
        #expect(retry.data.count == 2 && retry.data.allSatisfy { $0.hasPrefix("250 2.0.0") }, "\(retry)")

        // alice over POP3S: one message (two of her addresses, one copy), byte-identical under our trace fields.
        let alice = try await client.fetch(pop3sPort, mode: "ssl", user: "alice@example.test", password: "pop pw 1")
        #expect(alice.stat.first == 1, "\(alice.all)")
        let stored = try #require(alice.messages.first)
        #expect(stored.count == alice.stat.last)
        let text = String(decoding: stored, as: UTF8.self)
        #expect(text.hasPrefix("Return-Path: <sender@example.net>\r\nReceived: from antispam.example.test (127.0.0.1)\r\n\tby store.example.test with LMTP"),
                "\(text)")
        #expect(stored.suffix(message.utf8.count).elementsEqual(message.utf8), "\(text)")
        #expect((alice.all["uidl"] as? [String])?.first?.hasPrefix("1 ") == true)
        #expect((alice.all["capa"] as? [String]).map { $0.contains("USER") && $0.contains("TOP") && !$0.contains("STLS") } == true)

        // A large message (many 64 KiB chunks) to bob, then bob over STLS, deleting at QUIT.
        var large = "From: sender@example.net\r\nSubject: large\r\n\r\n"
        for index in 0..<6000 { large += (index % 7 == 0 ? "." : "") + "line \(index) " + String(repeating: "x", count: 40) + "\r\n" }
        let largeFile = try scratch.write("large.eml", Array(large.utf8))
        let bigDelivery = try await client.lmtp(lmtpPort, to: ["robert@example.test"], message: largeFile)
        #expect(bigDelivery.data.first?.hasPrefix("250 2.0.0") == true, "\(bigDelivery)")
        let bob = try await client.fetch(pop3Port, mode: "stls", user: "bob@example.test", password: "pop pw 1", delete: true)
        #expect(bob.stat.first == 2 && bob.messages.count == 2, "\(bob.all)")
        #expect(bob.messages.first.map { $0.suffix(message.utf8.count).elementsEqual(message.utf8) } == true)
        #expect(bob.messages.last.map { $0.suffix(large.utf8.count).elementsEqual(large.utf8) } == true)
        #expect(bob.all["quit"] as? String == "+OK Bye")
        let bobAgain = try await client.fetch(pop3sPort, mode: "ssl", user: "bob@example.test", password: "pop pw 1")
        #expect(bobAgain.stat == [0, 0], "\(bobAgain.all)")

        // Quota (3 messages): alice has 1; two more fit, the fourth gets 452 4.2.2 at RCPT.
        let small = try scratch.write("small.eml", Array("Subject: small\r\n\r\nhello\r\n".utf8))
        for _ in 0..<2 {
            let fits = try await client.lmtp(lmtpPort, to: ["alice@example.test"], message: small)
            #expect(fits.rcpt == [250] && fits.data.first?.hasPrefix("250") == true, "\(fits)")
        }
        let full = try await client.lmtp(lmtpPort, to: ["alice@example.test", "bob@example.test"], message: small)
        #expect(full.rcpt == [452, 250], "\(full)")
        #expect(full.data.count == 1 && full.data[0].hasPrefix("250"), "\(full)")

        // The plain listener: nothing before STLS; bad commands -ERR, the session goes on.
        let probe = try await client.run(["probe", "127.0.0.1", String(pop3Port), "--cafile", FixturePaths.caCertificate,
                                          "--user", "alice@example.test", "--password", "pop pw 1", "--ssl-port", String(pop3sPort)])
        let plainCapa = probe["capa_plain"] as? [String] ?? []
        #expect(plainCapa.contains("STLS") && !plainCapa.contains("USER") && !plainCapa.contains("SASL"), "\(probe)")
        for key in ["user_plain", "pass_plain", "auth_plain"] {
            #expect((probe[key] as? String)?.hasPrefix("-ERR") == true, "\(key): \(probe)")
        }
        #expect((probe["capa_tls"] as? [String])?.contains("USER") == true, "\(probe)")
        let bad = probe["bad"] as? [String] ?? []
        #expect(bad.count == 5 && bad.allSatisfy { $0.hasPrefix("-ERR") }, "\(probe)")
        #expect(bad.contains("-ERR Line too long"), "\(probe)")
        #expect(probe["user_after_bad"] as? String == "+OK Send PASS", "\(probe)")
        #expect((probe["wrong_pass"] as? String)?.hasPrefix("-ERR [AUTH]") == true, "\(probe)")
        #expect((probe["pass"] as? String)?.hasPrefix("+OK 3 messages") == true, "\(probe)")
        #expect((probe["bad_in_transaction"] as? [String])?.allSatisfy { $0.hasPrefix("-ERR") } == true, "\(probe)")
        #expect((probe["pipelined"] as? [Any]).map { "\($0)" } == "[200, 1, 1]", "\(probe)")
        #expect((probe["second_login"] as? String)?.hasPrefix("-ERR [IN-USE]") == true, "\(probe)")
        #expect((probe["auth_plain_tls"] as? String)?.hasPrefix("+OK") == true, "\(probe)")
        #expect((probe["auth_stat"] as? String)?.hasPrefix("+OK 3 ") == true, "\(probe)")

        let log = node.result().description
        #expect(log.contains("mailbox quota warning") && log.contains("defense=DM35"), "\(log)")
        #expect(log.contains("duplicate hand-off not stored again"), "\(log)")
        #expect(!log.contains("pop pw 1"))   // passwords are never logged
        node.signal(SIGTERM)
        #expect(await node.waitForExit(timeout: .seconds(10)), "\(node.result())")
    }
}
