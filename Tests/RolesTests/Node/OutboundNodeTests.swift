import Defenses
import Foundation
import Logging
import NIOCore
import NIOPosix
import Roles
import Testing

@testable import SMTPCore

/// A real `outbound` node on loopback: it serves only its upstream stages (never an open relay),
/// spools what they hand over, and its runner looks the recipients' mail exchangers up — a DNS
/// that cannot answer defers, never bounces.
@Suite(.timeLimit(.minutes(2)))
struct OutboundNodeTests {
    static let logger = Logger(label: "test")

    static func node(acceptFrom: [IPNetwork]? = nil, dnsPort: Int, dkimKeys: String? = nil) throws -> MailNode {
        var outbound = OutboundRoleConfiguration()
        outbound.dkimKeys = dkimKeys
        outbound.listen = [ListenAddress(host: "127.0.0.1", port: 0)]
        if let acceptFrom { outbound.acceptFrom = acceptFrom }
        var configuration = NodeConfiguration(hostname: "out.test",
                                              spoolDirectory: NSTemporaryDirectory() + "mailnode-outbound-" + UUID().uuidString,
                                              retry: RetryPolicy(initialDelay: 60, jitter: 0))
        configuration.outbound = outbound
        configuration.dns = DNSResolverConfiguration(nameservers: [DNSServerAddress(.v4(IPv4Address("127.0.0.1")!), port: UInt16(dnsPort))],
                                                     timeout: .milliseconds(300), attempts: 1)
        return try MailNode(configuration: configuration, group: MultiThreadedEventLoopGroup.singleton, logger: logger)
    }

    static func send(to port: Int, recipient: String = "u@remote.test",
                     message: String = "Subject: out\r\n\r\nbody\r\n") async -> DeliveryResult {
        var client = SMTPClientConfiguration()
        client.tls = .none
        client.timeouts = .uniform(.seconds(60))
        let envelope = OutboundEnvelope(sender: .mailbox(Mailbox(localPart: "s", host: .domain("src.test"))),
                                        recipients: [OutboundRecipient(.mailbox(Mailbox(localPart: "u", host: .domain("remote.test"))))])
        return await SMTPClient.deliver(envelope: envelope, message: ByteBuffer(string: message),
                                        host: "127.0.0.1", port: port, configuration: client)
    }

    /// A UDP port where no DNS server listens (the resolver gets ICMP port unreachable or nothing).
    static func closedPort() async throws -> Int {
        let channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
        let port = channel.localAddress!.port!
        try await channel.close()
        return port
    }

    @Test func clientsOutsideAcceptFromAreRefusedAtTheGreeting() async throws {
        let node = try Self.node(acceptFrom: [IPNetwork("10.0.0.0/8")!], dnsPort: try await Self.closedPort())
        let port = try await node.start()[0].port!
        let result = await Self.send(to: port)
        guard case .permanentFailure(.rejected(let reply, stage: .greeting), _) = result else {
            Issue.record("expected a 554 greeting, got \(result)")
            await node.shutdown()
            return
        }
        #expect(reply.code == ReplyCode(554))
        #expect(try node.spool.committedIDs().isEmpty)
        await node.shutdown()
    }

    @Test func anUpstreamHandOffIsSpooledAndADeadDNSDefersIt() async throws {
        let node = try Self.node(dnsPort: try await Self.closedPort())
        let runner = try #require(node.runner)
        let destinations = await runner.configuration.destinations
        #expect(destinations is MXDestinationResolver)
        let port = try await node.start()[0].port!
        let result = await Self.send(to: port)
        #expect(result.isDelivered)
        // Tried once: the DNS did not answer, so the state is saved and the message stays queued.
        let deadline = ContinuousClock.now + .seconds(60)
        while ((try? FileManager.default.contentsOfDirectory(atPath: node.spool.stateDirectory)) ?? []).filter({ !$0.hasPrefix(".") }).isEmpty {
            if ContinuousClock.now >= deadline { Issue.record("no delivery state saved"); break }
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(try node.spool.committedIDs().count == 1)   // no bounce was queued beside it
        #expect(await runner.queued == 1)
        await node.shutdown()
    }

    @Test func theOutboundRoleRunsAlone() throws {
        var configuration = NodeConfiguration(hostname: "out.test", spoolDirectory: NSTemporaryDirectory() + "mailnode-outbound-" + UUID().uuidString)
        configuration.outbound = OutboundRoleConfiguration()
        configuration.antivirus = AntivirusRoleConfiguration()
        #expect(throws: OutboundSetupError.self) {
            _ = try MailNode(configuration: configuration, group: MultiThreadedEventLoopGroup.singleton, logger: Self.logger)
        }
    }

    /// DM31: what the stage stores (and so sends, every attempt) carries a signature of the
    /// From: domain that our verifier accepts against the published key.
    @Test func handOffsAreStoredDKIMSigned() async throws {
        let keys = NSTemporaryDirectory() + "mailnode-outkeys-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: keys + "/src.test", withIntermediateDirectories: true)
        let key = try DKIMSigningKey.generate(.ed25519)
        #expect(FileManager.default.createFile(atPath: keys + "/src.test/sel.pem", contents: Data(key.pemRepresentation.utf8),
                                               attributes: [.posixPermissions: 0o600]))
        let node = try Self.node(dnsPort: try await Self.closedPort(), dkimKeys: keys)
        let port = try await node.start()[0].port!
        let result = await Self.send(to: port, message: "From: s@src.test\r\nTo: u@remote.test\r\nSubject: signed\r\n\r\nbody\r\n")
        #expect(result.isDelivered)
        let id = try #require(try node.spool.committedIDs().first)
        var stored: [UInt8] = []
        for try await chunk in node.spool.message(of: try node.spool.committedEntry(id)) { stored += chunk.readableBytesView }
        #expect(String(decoding: stored, as: UTF8.self).hasPrefix("DKIM-Signature:"))
        var dns = MockResolver()
        dns.add(.txt(TXTRecord(strings: [Array(key.keyRecord.utf8)])), at: "sel._domainkey.src.test")
        let results = try await DKIMVerifier(resolver: dns).verify(message: stored)
        #expect(results.map(\.result) == [.pass])
        await node.shutdown()
    }

    @Test func anUnusableKeyDirectoryStopsTheStart() throws {
        #expect(throws: OutboundSetupError.self) {
            _ = try Self.node(dnsPort: 9, dkimKeys: "/nonexistent/mailnode-dkim")
        }
    }
}
