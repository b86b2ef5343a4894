import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import Testing
@testable import SMTPCore

/// A resolver whose answers the test sets and changes; it records every domain asked.
final class FakeDestinationResolver: DestinationResolver {
    private let answers: NIOLockedValueBox<[String: Destination]>
    private let asked = NIOLockedValueBox<[String]>([])

    init(_ answers: [String: Destination]) {
        self.answers = NIOLockedValueBox(answers)
    }

    func set(_ domain: String, _ destination: Destination) {
        answers.withLockedValue { $0[domain] = destination }
    }

    /// Every domain asked so far, in order.
    var questions: [String] { asked.withLockedValue { $0 } }

    func destination(for domain: String) async -> Destination {
        asked.withLockedValue { $0.append(domain) }
        return answers.withLockedValue { $0[domain] } ?? .noMailHost("not in the fake")
    }
}

/// The outbound stage's path through ``SpoolRunner``: recipients whose domain has no route go
/// to the hosts a ``DestinationResolver`` names, against real servers on loopback.
@Suite struct SpoolRunnerDestinationTests {
    static func configuration(routes: [String: NextHop] = [:], resolver: FakeDestinationResolver,
                              egress: EgressRule = .mailExchangers) -> SpoolRunnerConfiguration {
        var configuration = SpoolRunnerTests.configuration(port: 0, retry: RetryPolicy(initialDelay: 0.2, jitter: 0))
        configuration.routing = RoutingTable(routes: routes)
        configuration.destinations = resolver
        configuration.egress = egress
        return configuration
    }

    /// The egress rule: a stage that is not the outbound stage never connects to a host its
    /// routing table does not name, even when a resolver names one — the recipient stays queued
    /// with a 4.3.5 and nothing reaches the server.
    @Test func withoutTheMailExchangerEgressNoResolvedHostIsContacted() async throws {
        let server = try await LiveServer()
        let resolver = FakeDestinationResolver(["dst.test": .hosts([Self.host("mx.dst.test", port: server.port)])])
        let store = try SpoolStore(directory: SpoolRunnerTests.temporaryDirectory())
        let runner = SpoolRunner(store: store, configuration: Self.configuration(resolver: resolver, egress: .configuredHops),
                                 logger: Logger(label: "test"))
        try await runner.start()
        let entry = try await store.inject(envelope: SpoolRunnerTests.envelope(from: "a@src.test", to: ["b@dst.test"]),
                                           message: ByteBuffer(string: "Subject: egress\r\n\r\nbody\r\n"))
        try await SpoolRunnerTests.eventually(timeout: .seconds(60)) {
            let state = try? String(contentsOfFile: store.stateDirectory + "/" + entry.id, encoding: .utf8)
            return state?.contains("4.3.5") == true
        }
        #expect(server.receiver.messages.isEmpty)
        #expect(await runner.queued == 1)   // deferred, not bounced
        await runner.stop()
        await server.stop()
    }

    @Test func theEgressRuleAllowsOnlyRoutingHopsUnlessMailExchangers() {
        let hop = Self.host("next", port: 2525)
        let other = Self.host("other", port: 2526)
        let routing = RoutingTable(routes: ["a.test": hop])
        #expect(EgressRule.configuredHops.allows(hop, routing: routing, fromResolver: false))
        #expect(!EgressRule.configuredHops.allows(other, routing: routing, fromResolver: false))
        #expect(!EgressRule.configuredHops.allows(hop, routing: routing, fromResolver: true))
        #expect(EgressRule.mailExchangers.allows(other, routing: routing, fromResolver: true))
        #expect(EgressRule.configuredHops.allows(other, routing: RoutingTable(defaultHop: other), fromResolver: false))
    }

    static func host(_ name: String, port: Int) -> NextHop {
        NextHop(name: name, host: "127.0.0.1", port: port, tls: .none)
    }

    @Test func firstMailExchangerDownThenTheSecondIsUsed() async throws {
        let down = try await SpoolRunnerTests.freePort()   // nothing listens: connection refused
        let second = try await LiveServer()
        let resolver = FakeDestinationResolver([
            "dst.test": .hosts([Self.host("mx1.dst.test", port: down), Self.host("mx2.dst.test", port: second.port)]),
        ])
        let store = try SpoolStore(directory: SpoolRunnerTests.temporaryDirectory())
        let runner = SpoolRunner(store: store, configuration: Self.configuration(resolver: resolver), logger: Logger(label: "test"))
        try await runner.start()
        try await store.inject(envelope: SpoolRunnerTests.envelope(from: "a@src.test", to: ["b@dst.test", "c@DST.test"]),
                               message: ByteBuffer(string: "Subject: mx\r\n\r\nbody\r\n"))
        try await SpoolRunnerTests.eventually(timeout: .seconds(60)) { second.receiver.messages.count == 1 }
        try await SpoolRunnerTests.eventually(timeout: .seconds(60)) { await runner.queued == 0 }
        let message = try #require(second.receiver.messages.first)
        #expect(message.envelope.recipients.map(\.path.description) == ["<b@dst.test>", "<c@DST.test>"])
        // One question for the domain (both recipients share it), case folded.
        #expect(resolver.questions == ["dst.test"])
        await runner.stop()
        await second.stop()
    }

    @Test func nullMXBouncesOnceWithStatus5110() async throws {
        let senderSide = try await LiveServer()
        let resolver = FakeDestinationResolver([
            "nomail.test": .nullMX,
            "src.test": .hosts([Self.host("mx.src.test", port: senderSide.port)]),
        ])
        let store = try SpoolStore(directory: SpoolRunnerTests.temporaryDirectory())
        let runner = SpoolRunner(store: store, configuration: Self.configuration(resolver: resolver), logger: Logger(label: "test"))
        try await runner.start()
        try await store.inject(envelope: SpoolRunnerTests.envelope(from: "sender@src.test", to: ["x@nomail.test"]),
                               message: ByteBuffer(string: "Subject: to nowhere\r\nMessage-ID: <n1@src.test>\r\n\r\nbody\r\n"))
        try await SpoolRunnerTests.eventually(timeout: .seconds(60)) { senderSide.receiver.messages.count == 1 }
        try await SpoolRunnerTests.eventually(timeout: .seconds(60)) { await runner.queued == 0 }
        let bounce = try #require(senderSide.receiver.messages.first)
        #expect(bounce.envelope.reversePath == .null)
        #expect(bounce.envelope.recipients.map(\.path.description) == ["<sender@src.test>"])
        let text = String(buffer: bounce.data)
        #expect(text.contains("Final-Recipient: rfc822; x@nomail.test"))
        #expect(text.contains("Status: 5.1.10"))
        #expect(text.contains("556 5.1.10"))
        try await Task.sleep(for: .milliseconds(300))
        #expect(senderSide.receiver.messages.count == 1)
        // Asked once for the null MX domain: the failure is immediate, not retried.
        #expect(resolver.questions.filter { $0 == "nomail.test" }.count == 1)
        await runner.stop()
        await senderSide.stop()
    }

    @Test func dnsTemporaryFailureDefersThenDeliversWhenTheResolverRecovers() async throws {
        let exchanger = try await LiveServer()
        let resolver = FakeDestinationResolver(["dst.test": .temporaryFailure("SERVFAIL")])
        let store = try SpoolStore(directory: SpoolRunnerTests.temporaryDirectory())
        let runner = SpoolRunner(store: store, configuration: Self.configuration(resolver: resolver), logger: Logger(label: "test"))
        try await runner.start()
        try await store.inject(envelope: SpoolRunnerTests.envelope(from: "a@src.test", to: ["b@dst.test"]),
                               message: ByteBuffer(string: "Subject: later\r\n\r\nbody\r\n"))
        // Deferred: the state is saved with the DNS reason, the entry stays, nothing bounces.
        try await SpoolRunnerTests.eventually(timeout: .seconds(60)) {
            let states = (try? FileManager.default.contentsOfDirectory(atPath: store.stateDirectory)) ?? []
            return states.filter { !$0.hasPrefix(".") }.count == 1
        }
        #expect(await runner.queued == 1)
        #expect(exchanger.receiver.messages.isEmpty)
        resolver.set("dst.test", .hosts([Self.host("mx.dst.test", port: exchanger.port)]))
        await runner.flush()
        try await SpoolRunnerTests.eventually(timeout: .seconds(60)) { exchanger.receiver.messages.count == 1 }
        try await SpoolRunnerTests.eventually(timeout: .seconds(60)) { await runner.queued == 0 }
        #expect(exchanger.receiver.messages.allSatisfy { $0.envelope.reversePath != .null })
        #expect(resolver.questions.count >= 2)
        await runner.stop()
        await exchanger.stop()
    }

    @Test func noMailHostBouncesWith512() async throws {
        let senderSide = try await LiveServer()
        let resolver = FakeDestinationResolver(["src.test": .hosts([Self.host("mx.src.test", port: senderSide.port)])])
        let store = try SpoolStore(directory: SpoolRunnerTests.temporaryDirectory())
        let runner = SpoolRunner(store: store, configuration: Self.configuration(resolver: resolver), logger: Logger(label: "test"))
        try await runner.start()
        try await store.inject(envelope: SpoolRunnerTests.envelope(from: "sender@src.test", to: ["x@gone.test"]),
                               message: ByteBuffer(string: "Subject: gone\r\n\r\nbody\r\n"))
        try await SpoolRunnerTests.eventually(timeout: .seconds(60)) { senderSide.receiver.messages.count == 1 }
        let text = String(buffer: try #require(senderSide.receiver.messages.first).data)
        #expect(text.contains("Status: 5.1.2"))
        #expect(text.contains("Final-Recipient: rfc822; x@gone.test"))
        await runner.stop()
        await senderSide.stop()
    }

    @Test func aLoopBackToOurselvesBouncesWith546() async throws {
        let senderSide = try await LiveServer()
        let resolver = FakeDestinationResolver([
            "src.test": .hosts([Self.host("mx.src.test", port: senderSide.port)]),
            "self.test": .loopsBack("mail for self.test loops back to myself: its best mail exchanger mx.self.test is this host"),
        ])
        let store = try SpoolStore(directory: SpoolRunnerTests.temporaryDirectory())
        let runner = SpoolRunner(store: store, configuration: Self.configuration(resolver: resolver), logger: Logger(label: "test"))
        try await runner.start()
        try await store.inject(envelope: SpoolRunnerTests.envelope(from: "sender@src.test", to: ["x@self.test"]),
                               message: ByteBuffer(string: "Subject: loop\r\n\r\nbody\r\n"))
        try await SpoolRunnerTests.eventually(timeout: .seconds(60)) { senderSide.receiver.messages.count == 1 }
        let text = String(buffer: try #require(senderSide.receiver.messages.first).data)
        #expect(text.contains("Status: 5.4.6"))
        #expect(text.contains("loops back to myself"))
        await runner.stop()
        await senderSide.stop()
    }

    @Test func aRoutedDomainNeverAsksTheResolver() async throws {
        let routed = try await LiveServer()
        let resolver = FakeDestinationResolver([:])
        let store = try SpoolStore(directory: SpoolRunnerTests.temporaryDirectory())
        let configuration = Self.configuration(routes: ["local.test": Self.host("store", port: routed.port)], resolver: resolver)
        let runner = SpoolRunner(store: store, configuration: configuration, logger: Logger(label: "test"))
        try await runner.start()
        try await store.inject(envelope: SpoolRunnerTests.envelope(from: "a@local.test", to: ["b@local.test"]),
                               message: ByteBuffer(string: "Subject: local\r\n\r\nbody\r\n"))
        try await SpoolRunnerTests.eventually(timeout: .seconds(60)) { routed.receiver.messages.count == 1 }
        try await SpoolRunnerTests.eventually(timeout: .seconds(60)) { await runner.queued == 0 }
        #expect(resolver.questions.isEmpty)
        await runner.stop()
        await routed.stop()
    }

    /// A server that answers every connection with a `554` greeting.
    struct RefusingGreeting: SessionHooks {
        var stages: HookStages { .connected }
        func connected(_ session: SessionContext) async -> HookDecision {
            .disconnect(Reply(.transactionFailed, EnhancedStatusCode(5, 7, 1), "go away"))
        }
    }

    @Test func aFirstExchangerRefusingTheSessionWith554IsSkipped() async throws {
        let refusing = try await LiveServer(hooks: RefusingGreeting())
        let second = try await LiveServer()
        let resolver = FakeDestinationResolver([
            "dst.test": .hosts([Self.host("mx1.dst.test", port: refusing.port), Self.host("mx2.dst.test", port: second.port)]),
        ])
        let store = try SpoolStore(directory: SpoolRunnerTests.temporaryDirectory())
        let runner = SpoolRunner(store: store, configuration: Self.configuration(resolver: resolver), logger: Logger(label: "test"))
        try await runner.start()
        try await store.inject(envelope: SpoolRunnerTests.envelope(from: "a@src.test", to: ["b@dst.test"]),
                               message: ByteBuffer(string: "Subject: 554 greeting\r\n\r\nbody\r\n"))
        try await SpoolRunnerTests.eventually(timeout: .seconds(60)) { second.receiver.messages.count == 1 }
        try await SpoolRunnerTests.eventually(timeout: .seconds(60)) { await runner.queued == 0 }
        #expect(refusing.receiver.messages.isEmpty)
        #expect(try store.committedIDs().isEmpty)   // delivered; no bounce was queued
        await runner.stop()
        await refusing.stop()
        await second.stop()
    }

    @Test func nextHostOnlyForFailuresBeforeATransaction() {
        let refusedGreeting = DeliveryResult.failed(.rejected(Reply(.transactionFailed, nil, "no"), stage: .greeting), recipients: [])
        #expect(SpoolRunner.triesNextHost(refusedGreeting))
        let refusedHello = DeliveryResult.failed(.rejected(Reply(.transactionFailed, nil, "no"), stage: .hello), recipients: [])
        #expect(SpoolRunner.triesNextHost(refusedHello))
        let refusedRecipient = DeliveryResult.failed(.rejected(Reply(.mailboxUnavailable, nil, "no such user"), stage: .rcpt), recipients: [])
        #expect(!SpoolRunner.triesNextHost(refusedRecipient))
        let refused = DeliveryResult.failed(.connectionFailed("refused"), recipients: [])
        #expect(SpoolRunner.triesNextHost(refused))
        let busyGreeting = DeliveryResult.failed(.rejected(Reply(.serviceNotAvailable, nil, "busy"), stage: .greeting), recipients: [])
        #expect(SpoolRunner.triesNextHost(busyGreeting))
        let deferredData = DeliveryResult.failed(.rejected(Reply(.mailboxBusy, nil, "later"), stage: .data), recipients: [])
        #expect(!SpoolRunner.triesNextHost(deferredData))
        let closedInData = DeliveryResult.failed(.connectionClosed(.data), recipients: [])
        #expect(!SpoolRunner.triesNextHost(closedInData))
    }
}
