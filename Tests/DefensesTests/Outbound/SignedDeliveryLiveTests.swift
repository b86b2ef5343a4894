import Foundation
import Logging
import NIOCore
import SMTPCore
import Testing

@testable import Defenses

/// Issue 9's "every message delivered carries a DKIM signature that dkimpy verifies against the
/// loopback DNS": messages signed by the outbound stage's inspector (RSA and Ed25519 side by
/// side), spooled, delivered by MX over the dnslib server to a live SMTP server, and what that
/// server received is checked by dkimpy, which fetches the keys from the same DNS server.
@Suite("Signed delivery by MX, verified by dkimpy over the loopback DNS")
struct SignedDeliveryLiveTests {
    static func zone() throws -> String {
        var lines = [
            "$ORIGIN out.test.", "$TTL 300", "@ 3600 IN SOA ns.out.test. hostmaster.out.test. 1 3600 600 86400 60",
            "remote MX 10 mx.remote", "mx.remote A 127.0.0.1", "src MX 10 mx.remote",
        ]
        for (selector, file) in [("rsa", "2048_testkey.key"), ("ed", "ed25519test.key")] {
            let record = try DKIMSigningKey(pem: try DKIMFixtures.text(file)).keyRecord
            lines.append("\(selector)._domainkey.src TXT \(DKIMFixtures.zoneTXT(record))")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Varied messages: folding, trailing white space, empty and header-only bodies, 8-bit text,
    /// long lines, a subdomain author (signed with the parent's keys).
    static func messages() -> [String] {
        var out: [String] = []
        for index in 0..<20 {
            let author = index % 5 == 4 ? "news.src.out.test" : "src.out.test"
            var header = "From: Sender \(index) <s\(index)@\(author)>\r\nTo: r@remote.out.test\r\n"
            header += index % 2 == 0 ? "Subject: message \(index)\r\n" : "Subject: folded\r\n  subject   \(index)  \r\n"
            header += "Date: Fri, 04 Dec 2026 06:00:\(String(format: "%02d", index)) +0000\r\nMessage-ID: <m\(index)@src.out.test>\r\n"
            let body: String
            switch index % 4 {
            case 0: body = "line\r\n\r\n  trailing  \t\r\n\r\n\r\n"
            case 1: body = ""
            case 2: body = "Grüße aus Zürich, \(index)\r\n" + String(repeating: "x", count: 900) + "\r\n"
            default: body = (0..<50).map { "line \($0) of \(index)\r\n" }.joined()
            }
            out.append(index == 7 ? header : header + "\r\n" + body)   // one without a body at all
        }
        return out
    }

    @Test func everyDeliveredMessageVerifiesWithDkimpy() async throws {
        let python = try await offThePool { try DKIMPython.interpreter.get() }
        let directory = try DKIMInterop.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        try Self.zone().write(to: directory.appendingPathComponent("out.zone"), atomically: true, encoding: .utf8)
        let table = DKIMSigningTable(signers: ["src.out.test": [
            DKIMSigner(domain: "src.out.test", selector: "rsa", key: try DKIMSigningKey(pem: try DKIMFixtures.text("2048_testkey.key"))),
            DKIMSigner(domain: "src.out.test", selector: "ed", key: try DKIMSigningKey(pem: try DKIMFixtures.text("ed25519test.key"))),
        ]])
        let messages = Self.messages()

        try await withDNSTestServer(zones: directory) { dns in
            let sink = try await MXDeliveryLiveTests.Sink.start(host: "127.0.0.1", port: 0)
            let spoolDirectory = NSTemporaryDirectory() + "mailnode-signedspool-" + UUID().uuidString
            defer { try? FileManager.default.removeItem(atPath: spoolDirectory) }
            let store = try SpoolStore(directory: spoolDirectory)
            var client = SMTPClientConfiguration()
            client.timeouts = .uniform(.seconds(60))
            var configuration = SpoolRunnerConfiguration(routing: RoutingTable(), client: client, hostname: "outbound.out.test")
            configuration.retry = RetryPolicy(initialDelay: 0.2, jitter: 0)
            configuration.destinations = MXDestinationResolver(dns: dns.resolver(timeout: .seconds(5), attempts: 2), port: sink.port, tls: .none)
            configuration.egress = .mailExchangers
            let runner = SpoolRunner(store: store, configuration: configuration, logger: Logger(label: "test"))
            try await runner.start()

            for (index, message) in messages.enumerated() {
                let verdict = try #require(await OutboundDKIMSigningTests.sign(message, table: table, chunkSize: 7 + index * 13))
                #expect(verdict.prepend.components(separatedBy: "DKIM-Signature:").count == 3, "message \(index)")
                let envelope = Envelope(reversePath: .mailbox(Mailbox(localPart: "s\(index)", host: .domain("src.out.test"))),
                                        recipients: [EnvelopeRecipient(path: .mailbox(Mailbox(localPart: "r", host: .domain("remote.out.test"))))])
                try await store.inject(envelope: envelope, message: ByteBuffer(string: verdict.prepend + message))
            }
            try await MXDeliveryLiveTests.eventually { sink.receiver.messages.count == messages.count }
            try await MXDeliveryLiveTests.eventually { await runner.queued == 0 }
            await runner.stop()
            await sink.server.shutdown(gracePeriod: .seconds(2))

            var items: [[String: Any]] = []
            for (index, received) in sink.receiver.messages.enumerated() {
                let url = directory.appendingPathComponent("received-\(index).eml")
                try Data(received.data.readableBytesView).write(to: url)
                items.append(["id": "m\(index)", "in": url.path])
            }
            let output = try await DKIMInterop.run(python, ["verify"], manifest: ["dns": "127.0.0.1:\(dns.port)", "items": items], in: directory)
            let results = try #require(try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: [Bool]])
            #expect(results.count == messages.count)
            let verified = results.values.filter { $0 == [true, true] }.count
            #expect(verified == messages.count, "dkimpy verified \(verified) of \(messages.count): \(results)")
            // The keys really came from the DNS server.
            #expect(!dns.queries("rsa._domainkey.src.out.test", "TXT").isEmpty)
            #expect(!dns.queries("ed._domainkey.src.out.test", "TXT").isEmpty)
        }
    }
}
