import Foundation
import Logging
import NIOCore
import NIOPosix
import Testing
@testable import SMTPCore

/// The spool against real next hops on loopback.
@Suite struct SpoolRunnerTests {
    static func temporaryDirectory() -> String {
        let path = NSTemporaryDirectory() + "mailnode-spool-" + UUID().uuidString
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static func mailbox(_ text: String) -> Mailbox {
        let parts = text.split(separator: "@")
        return Mailbox(localPart: String(parts[0]), host: .domain(String(parts[1])))
    }

    static func envelope(from: String?, to: [String]) -> Envelope {
        Envelope(reversePath: from.map { .mailbox(mailbox($0)) } ?? .null,
                 recipients: to.map { EnvelopeRecipient(path: .mailbox(mailbox($0))) })
    }

    static func configuration(port: Int, retry: RetryPolicy = RetryPolicy(initialDelay: 0.2, jitter: 0)) -> SpoolRunnerConfiguration {
        var client = SMTPClientConfiguration()
        client.tls = .none
        client.timeouts = .uniform(.seconds(5))
        return SpoolRunnerConfiguration(
            routing: RoutingTable(defaultHop: NextHop(name: "next", host: "127.0.0.1", port: port, tls: .none)),
            retry: retry, client: client, hostname: "relay.test")
    }

    /// Polls until `condition` holds (the runner works in the background). Generous: while the whole
    /// suite starts on two cores the runner can take many seconds to get to an entry.
    static func eventually(timeout: Duration = .seconds(30), _ condition: @Sendable () async -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while !(await condition()) {
            if ContinuousClock.now >= deadline { throw TestTimeout() }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    static func freePort() async throws -> Int {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
        let port = channel.localAddress!.port!
        try await channel.close()
        return port
    }

    @Test func forwardsAndEmptiesTheSpool() async throws {
        let next = try await LiveServer()
        let store = try SpoolStore(directory: Self.temporaryDirectory())
        for index in 0..<5 {
            try await store.inject(envelope: Self.envelope(from: "a@src.test", to: ["b\(index)@dst.test"]),
                                   message: ByteBuffer(string: "Subject: \(index)\r\n\r\n.dot line\r\n"))
        }
        let runner = SpoolRunner(store: store, configuration: Self.configuration(port: next.port), logger: Logger(label: "test"))
        try await runner.start()
        try await Self.eventually { next.receiver.messages.count == 5 }
        try await Self.eventually { await runner.queued == 0 }
        #expect(try store.committedIDs().isEmpty)
        #expect(Set(next.receiver.messages.map { String(buffer: $0.data) }).count == 5)
        #expect(next.receiver.messages.allSatisfy { String(buffer: $0.data).hasSuffix("\r\n.dot line\r\n") })
        await runner.stop()
        await next.stop()
    }

    @Test func connectionsAreReusedAndStaleOnesReplaced() async throws {
        // The hop drops connections idle for 5 s: long enough that a loaded two-core machine does not
        // stall that long between two queued messages (1 s did, once, in CI), short enough to wait out.
        var session = SMTPSessionConfiguration(hostname: "next.test")
        session.limits.commandTimeout = 5
        let next = try await LiveServer(session: session)
        let store = try SpoolStore(directory: Self.temporaryDirectory())
        for index in 0..<5 {
            try await store.inject(envelope: Self.envelope(from: "a@src.test", to: ["b@dst.test"]),
                                   message: ByteBuffer(string: "Subject: \(index)\r\n\r\nx\r\n"))
        }
        var configuration = Self.configuration(port: next.port)
        configuration.maxConcurrentDeliveries = 1
        let runner = SpoolRunner(store: store, configuration: configuration, logger: Logger(label: "test"))
        try await runner.start()
        try await Self.eventually { next.receiver.messages.count == 5 }
        // One after another over one kept connection.
        #expect(Set(next.receiver.messages.map(\.session.sessionID)).count == 1)
        // The hop times the idle connection out; the next message gets a new one.
        try await Self.eventually { next.server.connectionCount == 0 }
        try await store.inject(envelope: Self.envelope(from: "a@src.test", to: ["b@dst.test"]), message: ByteBuffer(string: "late\r\n"))
        try await Self.eventually { next.receiver.messages.count == 6 }
        #expect(Set(next.receiver.messages.map(\.session.sessionID)).count == 2)
        try await Self.eventually { await runner.queued == 0 }
        await runner.stop()
        await next.stop()
    }

    @Test func nextHopDownThenUpLosesNothing() async throws {
        let port = try await Self.freePort()
        let store = try SpoolStore(directory: Self.temporaryDirectory())
        let runner = SpoolRunner(store: store, configuration: Self.configuration(port: port), logger: Logger(label: "test"))
        try await runner.start()
        for index in 0..<3 {
            try await store.inject(envelope: Self.envelope(from: "a@src.test", to: ["b@dst.test"]),
                                   message: ByteBuffer(string: "Subject: \(index)\r\n\r\nx\r\n"))
        }
        // Nothing listens: attempts fail temporarily and state is saved.
        try await Self.eventually {
            let states = (try? FileManager.default.contentsOfDirectory(atPath: store.stateDirectory)) ?? []
            return states.filter { !$0.hasPrefix(".") }.count == 3
        }
        #expect(await runner.queued == 3)
        let next = try await LiveServer(port: port)
        await runner.flush()
        try await Self.eventually { next.receiver.messages.count == 3 }
        try await Self.eventually { await runner.queued == 0 }
        await runner.stop()
        await next.stop()
    }

    struct RejectUnknown: SessionHooks {
        func rcptTo(_ recipient: EnvelopeRecipient, envelope: Envelope, session: SessionContext) async -> HookDecision {
            recipient.path.mailbox?.localPart == "unknown"
                ? .reply(Reply(.mailboxUnavailable, .badDestinationMailbox, "No such user")) : .continue
        }
    }

    @Test func permanentFailureBouncesOnceToTheSender() async throws {
        let next = try await LiveServer(hooks: RejectUnknown())
        let store = try SpoolStore(directory: Self.temporaryDirectory())
        let runner = SpoolRunner(store: store, configuration: Self.configuration(port: next.port), logger: Logger(label: "test"))
        try await runner.start()
        try await store.inject(envelope: Self.envelope(from: "sender@src.test", to: ["known@dst.test", "unknown@dst.test"]),
                               message: ByteBuffer(string: "Subject: hello\r\nMessage-ID: <m1@src.test>\r\n\r\nbody\r\n"))
        // The original reaches the known recipient; the bounce reaches the sender.
        try await Self.eventually { next.receiver.messages.count == 2 }
        try await Self.eventually { await runner.queued == 0 }
        let messages = next.receiver.messages
        let original = try #require(messages.first { $0.envelope.reversePath != .null })
        #expect(original.envelope.recipients.map(\.path.description) == ["<known@dst.test>"])
        let bounce = try #require(messages.first { $0.envelope.reversePath == .null })
        #expect(bounce.envelope.recipients.map(\.path.description) == ["<sender@src.test>"])
        let text = String(buffer: bounce.data)
        #expect(text.contains("Content-Type: multipart/report; report-type=delivery-status"))
        #expect(text.contains("Final-Recipient: rfc822; unknown@dst.test"))
        #expect(text.contains("Status: 5.1.1"))
        #expect(text.contains("Diagnostic-Code: smtp; 550 5.1.1 No such user"))
        #expect(text.contains("Message-ID: <m1@src.test>"))
        // No RET given and a small 7-bit message: returned whole, as Postfix does.
        #expect(text.contains("Content-Type: message/rfc822\r\n\r\nSubject: hello\r\nMessage-ID: <m1@src.test>\r\n\r\nbody\r\n"))
        // Only the failed recipient is reported, and only once.
        #expect(text.contains("<unknown@dst.test>: 550 No such user"))
        #expect(!text.contains("<known@dst.test>"))
        try await Task.sleep(for: .milliseconds(300))
        #expect(next.receiver.messages.filter { $0.envelope.reversePath == .null }.count == 1)
        await runner.stop()
        await next.stop()
    }

    @Test func bouncesAreNeverSentToTheNullSender() async throws {
        let next = try await LiveServer(hooks: RejectUnknown())
        let store = try SpoolStore(directory: Self.temporaryDirectory())
        let runner = SpoolRunner(store: store, configuration: Self.configuration(port: next.port), logger: Logger(label: "test"))
        try await runner.start()
        try await store.inject(envelope: Self.envelope(from: nil, to: ["unknown@dst.test"]), message: ByteBuffer(string: "x\r\n"))
        // The entry must be tried and removed (the runner learns of it asynchronously).
        try await Self.eventually { ((try? store.committedIDs()) ?? ["?"]).isEmpty }
        try await Task.sleep(for: .milliseconds(300))
        #expect(next.receiver.messages.isEmpty)
        #expect(try store.committedIDs().isEmpty)
        await runner.stop()
        await next.stop()
    }

    struct DeferDestination: SessionHooks {
        func rcptTo(_ recipient: EnvelopeRecipient, envelope: Envelope, session: SessionContext) async -> HookDecision {
            recipient.path.mailbox?.host == .domain("dst.test")
                ? .reply(Reply(.mailboxBusy, EnhancedStatusCode(4, 2, 0), "Try later")) : .continue
        }
    }

    @Test func expiredMessagesFailAndBounce() async throws {
        let next = try await LiveServer(hooks: DeferDestination())
        let store = try SpoolStore(directory: Self.temporaryDirectory())
        // Lifetime zero: the first deferral is also the last.
        let retry = RetryPolicy(initialDelay: 0.1, jitter: 0, maxLifetime: 0)
        let runner = SpoolRunner(store: store, configuration: Self.configuration(port: next.port, retry: retry), logger: Logger(label: "test"))
        try await store.inject(envelope: Self.envelope(from: "s@src.test", to: ["b@dst.test"]), message: ByteBuffer(string: "x\r\n"))
        try await runner.start()
        try await Self.eventually { next.receiver.messages.count == 1 }
        try await Self.eventually { await runner.queued == 0 }
        let bounce = try #require(next.receiver.messages.first)
        #expect(bounce.envelope.reversePath == .null)
        let text = String(buffer: bounce.data)
        #expect(text.contains("Status: 5.4.7"))
        #expect(text.contains("Delivery time expired: 450 4.2.0 Try later"))
        await runner.stop()
        await next.stop()
    }

    @Test func recoveryQuarantinesGarbageAndDropsPartials() async throws {
        let directory = Self.temporaryDirectory()
        let store = try SpoolStore(directory: directory)
        let good = try await store.inject(envelope: Self.envelope(from: "a@src.test", to: ["b@dst.test"]), message: ByteBuffer(string: "x\r\n"))
        _ = FileManager.default.createFile(atPath: directory + "/queue/GARBAGE", contents: Data("not a spool entry".utf8))
        _ = FileManager.default.createFile(atPath: directory + "/tmp/PARTIAL", contents: Data("MAILNODE-SPOOL 1 99\n{".utf8))
        let recovery = try await SpoolStore(directory: directory).recover(logger: Logger(label: "test"))
        #expect(recovery.entries.map(\.entry.id) == [good.id])
        #expect(recovery.quarantined == ["GARBAGE"])
        #expect(recovery.discardedPartials == 1)
        #expect(FileManager.default.fileExists(atPath: directory + "/quarantine/GARBAGE"))
        #expect(FileManager.default.fileExists(atPath: directory + "/quarantine/GARBAGE.reason"))
        #expect(!FileManager.default.fileExists(atPath: directory + "/tmp/PARTIAL"))
    }

    @Test func stateSurvivesARestart() async throws {
        let directory = Self.temporaryDirectory()
        let port = try await Self.freePort()
        let store = try SpoolStore(directory: directory)
        let runner = SpoolRunner(store: store, configuration: Self.configuration(port: port, retry: RetryPolicy(initialDelay: 3600, maxDelay: 7200, jitter: 0)),
                                 logger: Logger(label: "test"))
        try await runner.start()
        let entry = try await store.inject(envelope: Self.envelope(from: "a@src.test", to: ["b@dst.test"]), message: ByteBuffer(string: "x\r\n"))
        try await Self.eventually { FileManager.default.fileExists(atPath: directory + "/state/" + entry.id) }
        await runner.stop()
        let recovered = try await SpoolStore(directory: directory).recover(logger: Logger(label: "test"))
        let state = try #require(recovered.entries.first?.state)
        #expect(state.attempts == 1)
        #expect(state.recipients[0].status == .pending)
        #expect(state.nextAttempt > Date().addingTimeInterval(3000))
    }

    @Test func routingByDomain() {
        let store = NextHop(name: "store", host: "127.0.0.1", port: 24, sessionProtocol: .lmtp)
        let outbound = NextHop(name: "outbound", host: "127.0.0.1", port: 2526)
        let sub = NextHop(name: "sub", host: "127.0.0.1", port: 2527)
        let table = RoutingTable(routes: ["Example.ORG": store, ".corp.example.org": sub], defaultHop: outbound)
        #expect(table.hop(for: .mailbox(Self.mailbox("a@example.org"))) == store)
        #expect(table.hop(for: .mailbox(Self.mailbox("a@EXAMPLE.org."))) == store)
        #expect(table.hop(for: .mailbox(Self.mailbox("a@x.corp.example.org"))) == sub)
        #expect(table.hop(for: .mailbox(Self.mailbox("a@elsewhere.net"))) == outbound)
        #expect(RoutingTable().hop(for: .postmaster) == nil)
    }

    @Test func retryDelaysGrowAndAreCapped() {
        let policy = RetryPolicy(initialDelay: 30, factor: 2, maxDelay: 600, jitter: 0)
        #expect(policy.delay(afterAttempts: 1) == 30)
        #expect(policy.delay(afterAttempts: 2) == 60)
        #expect(policy.delay(afterAttempts: 5) == 480)
        #expect(policy.delay(afterAttempts: 9) == 600)
        let jittered = RetryPolicy(initialDelay: 100, jitter: 0.2)
        for _ in 0..<100 {
            let delay = jittered.delay(afterAttempts: 1)
            #expect(delay >= 80 && delay <= 120)
        }
    }
}

@Suite struct ReceivedHeaderTests {
    @Test func rfc5322Dates() {
        #expect(ReceivedHeader.date(Date(timeIntervalSince1970: 0)) == "Thu, 01 Jan 1970 00:00:00 +0000")
        #expect(ReceivedHeader.date(Date(timeIntervalSince1970: 1_795_448_153.9)) == "Mon, 23 Nov 2026 15:35:53 +0000")
    }

    @Test func spoolCreatesMissingParents() throws {
        let root = NSTemporaryDirectory() + "mailnode-parents-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: root) }
        _ = try SpoolStore(directory: root + "/a/b/spool")
        #expect(FileManager.default.fileExists(atPath: root + "/a/b/spool/queue"))
    }

    /// A message larger than the write buffer is spread over several writes and still intact.
    @Test func largeMessageRoundTrip() async throws {
        let store = try SpoolStore(directory: SpoolRunnerTests.temporaryDirectory())
        var message = ByteBuffer()
        for index in 0..<40_000 { message.writeString("line \(index) of a long message\r\n") }
        let writer = try store.begin(SpoolRecord(id: SpoolStore.makeID(), envelope: SpoolRunnerTests.envelope(from: nil, to: ["a@b.test"]),
                                                 client: nil, helo: nil, tls: nil, authenticatedUser: nil, session: "t", arrival: Date()))
        var rest = message
        while rest.readableBytes > 0 {
            try await writer.write(rest.readSlice(length: min(3000, rest.readableBytes))!)
        }
        let entry = try await writer.commit()
        #expect(entry.messageSize == message.readableBytes)
        let loaded = try SpoolEntry.load(path: entry.path)
        #expect(loaded == entry)
        var read = ByteBuffer()
        for try await var chunk in store.message(of: loaded) { read.writeBuffer(&chunk) }
        #expect(read == message)
    }
}
