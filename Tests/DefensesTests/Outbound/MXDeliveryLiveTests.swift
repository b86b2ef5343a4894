import Foundation
import Logging
import NIOCore
import NIOPosix
import SMTPCore
import Testing

@testable import Defenses

/// Delivery by MX over real sockets: ``SpoolRunner`` with ``MXDestinationResolver`` over
/// ``LDNSResolver``, asking Tests/interop/dns_server.py on loopback, delivering to two SMTP
/// servers on 127.0.0.1 and 127.0.0.2 (one port, as port 25 is one port on the Internet).
@Suite("MX delivery against a live DNS server and live SMTP servers")
struct MXDeliveryLiveTests {
    static let zone = """
        $ORIGIN mx.test.
        $TTL 300
        @          3600 IN SOA ns.mx.test. hostmaster.mx.test. 1 3600 600 86400 120
        alpha      MX 10 mx1.alpha
        alpha      MX 20 mx2.alpha
        mx1.alpha  A  127.0.0.3
        mx2.alpha  A  127.0.0.1
        beta       MX 10 mx.beta
        mx.beta    A  127.0.0.2
        nomail     MX 0 .
        src        MX 10 mx2.alpha
        """

    /// An SMTP server keeping what it receives in memory.
    struct Sink {
        let server: SMTPServer
        let receiver: MemoryMessageReceiver
        let port: Int

        static func start(host: String, port: Int) async throws -> Sink {
            let receiver = MemoryMessageReceiver()
            let listener = SMTPListenerConfiguration(name: "sink", host: host, port: port,
                                                     session: SMTPSessionConfiguration(hostname: "sink.\(host)"))
            let server = SMTPServer(listeners: [listener], services: SMTPServerServices(receiver: receiver),
                                    group: MultiThreadedEventLoopGroup.singleton)
            let addresses = try await server.start()
            return Sink(server: server, receiver: receiver, port: addresses[0].port!)
        }
    }

    static func mailbox(_ text: String) -> Mailbox {
        let parts = text.split(separator: "@")
        return Mailbox(localPart: String(parts[0]), host: .domain(String(parts[1])))
    }

    static func eventually(_ condition: @Sendable () async -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(60)
        while !(await condition()) {
            if ContinuousClock.now >= deadline { throw DNSTestServerUnavailable(description: "timed out waiting") }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    @Test func deliversToTwoDomainsByMXAndBouncesTheNullMX() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mailnode-mxzone-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try Self.zone.write(to: directory.appendingPathComponent("mx.zone"), atomically: true, encoding: .utf8)

        try await withDNSTestServer(zones: directory) { dns in
            let first = try await Sink.start(host: "127.0.0.1", port: 0)
            let second = try await Sink.start(host: "127.0.0.2", port: first.port)
            let spoolDirectory = NSTemporaryDirectory() + "mailnode-mxspool-" + UUID().uuidString
            let store = try SpoolStore(directory: spoolDirectory)
            defer { try? FileManager.default.removeItem(atPath: spoolDirectory) }

            var client = SMTPClientConfiguration()
            client.timeouts = .uniform(.seconds(60))
            var configuration = SpoolRunnerConfiguration(routing: RoutingTable(), client: client, hostname: "outbound.test")
            configuration.retry = RetryPolicy(initialDelay: 0.2, jitter: 0)
            configuration.destinations = MXDestinationResolver(dns: dns.resolver(timeout: .seconds(5), attempts: 2),
                                                               port: first.port, tls: .none)
            configuration.egress = .mailExchangers
            let runner = SpoolRunner(store: store, configuration: configuration, logger: Logger(label: "test"))
            try await runner.start()

            let envelope = Envelope(
                reversePath: .mailbox(Self.mailbox("sender@src.mx.test")),
                recipients: ["a@alpha.mx.test", "b@beta.mx.test", "n@nomail.mx.test"].map {
                    EnvelopeRecipient(path: .mailbox(Self.mailbox($0)))
                })
            try await store.inject(envelope: envelope, message: ByteBuffer(string: "Subject: out\r\n\r\nbody\r\n"))

            // alpha: mx1 (127.0.0.3) refuses, mx2 (127.0.0.1) takes it; beta: 127.0.0.2;
            // nomail: a bounce to src.mx.test, whose MX is 127.0.0.1 as well.
            try await Self.eventually { first.receiver.messages.count == 2 && second.receiver.messages.count == 1 }
            try await Self.eventually { await runner.queued == 0 }
            let toAlpha = try #require(first.receiver.messages.first { $0.envelope.reversePath != .null })
            #expect(toAlpha.envelope.recipients.map(\.path.description) == ["<a@alpha.mx.test>"])
            let toBeta = try #require(second.receiver.messages.first)
            #expect(toBeta.envelope.recipients.map(\.path.description) == ["<b@beta.mx.test>"])
            let bounce = try #require(first.receiver.messages.first { $0.envelope.reversePath == .null })
            #expect(bounce.envelope.recipients.map(\.path.description) == ["<sender@src.mx.test>"])
            let report = String(buffer: bounce.data)
            #expect(report.contains("Final-Recipient: rfc822; n@nomail.mx.test"))
            #expect(report.contains("Status: 5.1.10"))
            #expect(!report.contains("a@alpha.mx.test"))
            // The MX questions reached the real server.
            #expect(!dns.queries("alpha.mx.test", "MX").isEmpty)
            #expect(!dns.queries("mx1.alpha.mx.test", "A").isEmpty)

            await runner.stop()
            await first.server.shutdown(gracePeriod: .seconds(2))
            await second.server.shutdown(gracePeriod: .seconds(2))
        }
    }
}
