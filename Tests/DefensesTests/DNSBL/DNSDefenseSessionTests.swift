import Foundation
import NIOCore
import NIOPosix
import SMTPCore
import Testing

@testable import Defenses

/// A line-level SMTP client for these tests. `@unchecked Sendable`: `lock` guards `buffer`,
/// `parser` and `closed`.
final class DefenseTestClient: @unchecked Sendable {
    private let lock = NSLock()
    private var buffer = ByteBuffer()
    private var parser = ReplyParser()
    private var closed = false
    private var channel: (any Channel)?

    final class Collector: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let client: DefenseTestClient
        init(_ client: DefenseTestClient) { self.client = client }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var chunk = unwrapInboundIn(data)
            client.lock.withLock { _ = client.buffer.writeBuffer(&chunk) }
        }
        func channelInactive(context: ChannelHandlerContext) {
            client.lock.withLock { client.closed = true }
        }
    }

    static func connect(port: Int) async throws -> DefenseTestClient {
        let client = DefenseTestClient()
        client.channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(Collector(client)) }
            }
            .connect(host: "127.0.0.1", port: port).get()
        return client
    }

    func send(_ text: String) async throws {
        try await channel!.writeAndFlush(ByteBuffer(string: text)).get()
    }

    /// A reply already received, if any (does not wait).
    func pendingReply() throws -> Reply? {
        try lock.withLock { try parser.next(from: &buffer) }
    }

    func reply(timeout: Duration = .seconds(30)) async throws -> Reply? {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let reply = try pendingReply() { return reply }
            if lock.withLock({ closed }) || ContinuousClock.now >= deadline { return nil }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    func command(_ line: String) async throws -> Reply? {
        try await send(line + "\r\n")
        return try await reply()
    }

    func close() async {
        try? await channel?.close()
    }
}

/// DNS defenses in a real SMTP session (PROXY protocol gives each client its address) against the
/// dnslib server with the shared fixtures: a list that does not answer for one client costs that
/// session a 4xx after the resolver timeout while other sessions are served; a listed client is
/// looked up once, at connect, and refused at RCPT TO except to postmaster, or instead of the greeting.
@Suite("DNS defenses in live SMTP sessions")
struct DNSDefenseSessionTests {
    static func server(_ hooks: any SessionHooks, receiver: MemoryMessageReceiver) -> SMTPServer {
        let listener = SMTPListenerConfiguration(
            name: "mx", host: "127.0.0.1", port: 0, session: SMTPSessionConfiguration(hostname: "mx.test"),
            proxyProtocolTrusted: [IPNetwork("127.0.0.1/32")!, IPNetwork("::1/128")!])
        return SMTPServer(listeners: [listener], services: SMTPServerServices(receiver: receiver, hooks: hooks),
                          group: MultiThreadedEventLoopGroup.singleton)
    }

    /// Connects, sends the PROXY line; returns the client and the greeting.
    static func connect(_ port: Int, _ proxy: String) async throws -> (DefenseTestClient, Reply?) {
        let client = try await DefenseTestClient.connect(port: port)
        try await client.send(proxy + "\r\n")
        return (client, try await client.reply())
    }

    @Test func deadListDefersOneSessionWhileOthersProceed() async throws {
        // The list answers everything except the query for 192.0.2.93, which it ignores
        // (Fixtures/dns/behaviours.conf).
        try await withDNSTestServer { dns in
            // 15 s: B, C and D must finish inside A's wait even while the whole suite starts on
            // two cores (5 s was once not enough).
            let resolver = dns.resolver(timeout: .seconds(15), attempts: 1)
            let lists = DNSListDefense(
                checker: DNSListChecker(resolver: resolver, configuration: DNSListConfiguration(zones: [DNSListZone("bl.dnsbl.test")], timeLimit: .seconds(300))),
                policy: DNSListPolicy(stage: .mailFrom, onUnknown: .tempfail))
            let senders = SenderCheckDefense(checker: SenderChecker(resolver: resolver))
            let receiver = MemoryMessageReceiver()
            let server = Self.server(HookChain([lists, senders]), receiver: receiver)
            let port = try await server.start()[0].port!

            func open(_ proxy: String) async throws -> DefenseTestClient {
                let (client, greeting) = try await Self.connect(port, proxy)
                #expect(greeting?.code == .serviceReady)
                #expect(try await client.command("EHLO client.senders.test")?.code == .ok)
                return client
            }

            // A: its list query is never answered.
            let a = try await open("PROXY TCP4 192.0.2.93 127.0.0.1 40001 25")
            try await a.send("MAIL FROM:<a@good.senders.test>\r\n")

            // B, meanwhile: a whole transaction.
            let b = try await open("PROXY TCP4 192.0.2.10 127.0.0.1 40002 25")
            #expect(try await b.command("MAIL FROM:<b@good.senders.test>")?.code == .ok)
            #expect(try await b.command("RCPT TO:<bob@mx.test>")?.code == .ok)
            #expect(try await b.command("DATA")?.code == .startMailInput)
            #expect(try await b.command("Subject: hello\r\n\r\nhi\r\n.")?.code == .ok)
            let aStillWaiting = try a.pendingReply() == nil
            _ = try await b.command("QUIT")

            // C: a null-MX sender, refused by the next hook of the chain (RFC 7505 §4.2).
            let c = try await open("PROXY TCP4 192.0.2.10 127.0.0.1 40003 25")
            let null = try await c.command("MAIL FROM:<c@nullmx.senders.test>")
            #expect(null?.description == "550 5.7.27 Sender address has null MX")
            // D: a listed IPv6 client.
            let d = try await open("PROXY TCP6 2001:db8::99 ::1 40004 25")
            let listed = try await d.command("MAIL FROM:<d@good.senders.test>")
            #expect(listed?.description == "550 5.7.1 Service unavailable; client host [2001:db8::99] blocked by a DNS block list")

            // B and C and D were answered while A still waited for DNS (its timeout is 15 s) ...
            #expect(aStillWaiting)
            #expect(receiver.messages.count == 1)
            #expect(receiver.messages.first?.envelope.reversePath == DNSListFixture.reversePath("b@good.senders.test"))
            // ... then A gets a 4xx naming no list, never a 5xx, and may try again.
            let deferred = try await a.reply(timeout: .seconds(60))
            #expect(deferred?.description == "451 4.4.3 Temporary DNS failure, try again later")
            #expect(try await a.command("QUIT")?.code == .closing)
            #expect(dns.queries("93.2.0.192.bl.dnsbl.test", "A").count == 1)

            for client in [a, b, c, d] { await client.close() }
            await server.shutdown(gracePeriod: .seconds(2))
        }
    }

    @Test func listedClientIsLookedUpAtConnectAndRefusedAtRCPTButNotForPostmaster() async throws {
        try await withDNSTestServer { dns in
            let lists = DNSListDefense(checker: DNSListChecker(
                resolver: dns.resolver(timeout: .seconds(2), attempts: 1),
                configuration: DNSListConfiguration(zones: [DNSListZone("bl.dnsbl.test"), DNSListZone("bl2.dnsbl.test")], timeLimit: .seconds(300))))
            let receiver = MemoryMessageReceiver()
            let server = Self.server(lists, receiver: receiver)
            let port = try await server.start()[0].port!

            let (client, greeting) = try await Self.connect(port, "PROXY TCP4 192.0.2.99 127.0.0.1 40010 25")
            #expect(greeting?.code == .serviceReady)
            // The look-up started at connect: it reaches the server before the client says anything more.
            let deadline = ContinuousClock.now + .seconds(20)
            while dns.queries("99.2.0.192.bl2.dnsbl.test", "A").isEmpty || dns.queries("99.2.0.192.bl.dnsbl.test", "A").isEmpty,
                  ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(dns.queries("99.2.0.192.bl.dnsbl.test", "A").count == 1)
            #expect(try await client.command("EHLO client.senders.test")?.code == .ok)
            #expect(try await client.command("MAIL FROM:<x@good.senders.test>")?.code == .ok)
            let refused = "550 5.7.1 Service unavailable; client host [192.0.2.99] blocked by a DNS block list"
            #expect(try await client.command("RCPT TO:<bob@mx.test>")?.description == refused)
            #expect(try await client.command("RCPT TO:<Postmaster>")?.code == .ok)   // RFC 5321 §4.5.1
            #expect(try await client.command("RCPT TO:<carol@mx.test>")?.description == refused)
            #expect(try await client.command("DATA")?.code == .startMailInput)
            #expect(try await client.command("Subject: please delist\r\n\r\nhi\r\n.")?.code == .ok)
            #expect(try await client.command("QUIT")?.code == .closing)
            #expect(receiver.messages.count == 1)
            #expect(receiver.messages.first?.envelope.recipients.map(\.path) == [.postmaster])
            // asked once for the whole session, however many RCPTs
            #expect(dns.queries("99.2.0.192.bl.dnsbl.test", "A").count == 1)
            #expect(dns.queries("99.2.0.192.bl2.dnsbl.test", "A").count == 1)
            await client.close()
            await server.shutdown(gracePeriod: .seconds(2))
        }
    }

    @Test func connectStageRefusesInsteadOfTheGreeting() async throws {
        try await withDNSTestServer { dns in
            let lists = DNSListDefense(
                checker: DNSListChecker(resolver: dns.resolver(timeout: .seconds(2), attempts: 1),
                                        configuration: DNSListConfiguration(zones: [DNSListZone("bl.dnsbl.test")], timeLimit: .seconds(300))),
                policy: DNSListPolicy(stage: .connect))
            let receiver = MemoryMessageReceiver()
            let server = Self.server(lists, receiver: receiver)
            let port = try await server.start()[0].port!

            let (listed, refusal) = try await Self.connect(port, "PROXY TCP4 192.0.2.99 127.0.0.1 40020 25")
            #expect(refusal?.description == "554 5.7.1 Service unavailable; client host [192.0.2.99] blocked by a DNS block list")
            #expect(try await listed.command("EHLO client.senders.test")?.code == .badSequence)   // RFC 5321 §3.1: only QUIT
            #expect(try await listed.command("QUIT")?.code == .closing)

            let (clean, greeting) = try await Self.connect(port, "PROXY TCP4 192.0.2.10 127.0.0.1 40021 25")
            #expect(greeting?.code == .serviceReady)
            #expect(try await clean.command("EHLO client.senders.test")?.code == .ok)
            #expect(try await clean.command("QUIT")?.code == .closing)
            for client in [listed, clean] { await client.close() }
            await server.shutdown(gracePeriod: .seconds(2))
        }
    }
}
