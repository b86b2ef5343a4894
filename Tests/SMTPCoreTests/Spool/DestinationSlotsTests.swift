import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Testing

@testable import SMTPCore

/// Per-destination concurrency: never more than `maxDeliveriesPerHost` deliveries at once to one
/// mail exchanger address, however many recipient domains point at it.
@Suite struct DestinationSlotsTests {
    /// Takes its time over each message and remembers how many were open at once.
    final class SlowReceiver: MessageReceiver {
        let open = NIOLockedValueBox(0)
        let peak = NIOLockedValueBox(0)
        let done = NIOLockedValueBox(0)

        func open(envelope: Envelope, session: SessionContext) async throws -> any MessageWriter {
            let now = open.withLockedValue { value -> Int in
                value += 1
                return value
            }
            peak.withLockedValue { $0 = max($0, now) }
            return Writer(owner: self)
        }

        final class Writer: MessageWriter {
            let owner: SlowReceiver
            init(owner: SlowReceiver) { self.owner = owner }
            func write(_ chunk: ByteBuffer) async throws {}
            func commit(summary: MessageDataSummary) async throws -> CommitResult {
                try await Task.sleep(for: .milliseconds(150))
                owner.open.withLockedValue { $0 -= 1 }
                owner.done.withLockedValue { $0 += 1 }
                return CommitResult(reply: Reply(.ok, .ok, "ok"), queueID: "Q")
            }
            func abort() async { owner.open.withLockedValue { $0 -= 1 } }
        }
    }

    @Test func slotsAreHandedOverInOrderAndNeverExceedTheLimit() async throws {
        let slots = DestinationSlots(limit: 2)
        let active = NIOLockedValueBox(0)
        let worst = NIOLockedValueBox(0)
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<12 {
                group.addTask {
                    await slots.acquire("a")
                    let now = active.withLockedValue { value -> Int in value += 1; return value }
                    worst.withLockedValue { $0 = max($0, now) }
                    try? await Task.sleep(for: .milliseconds(5))
                    active.withLockedValue { $0 -= 1 }
                    await slots.release("a")
                }
            }
        }
        #expect(worst.withLockedValue { $0 } == 2)
        #expect(await slots.peak["a"] == 2)
        // Other keys are independent, and a released key is free again.
        await slots.acquire("b")
        await slots.acquire("b")
        await slots.release("b")
        await slots.release("b")
    }

    @Test func twentyDomainsOnOneHostGetAtMostTheLimitAtOnce() async throws {
        let receiver = SlowReceiver()
        let listener = SMTPListenerConfiguration(name: "mx", host: "127.0.0.1", port: 0, session: SMTPSessionConfiguration(hostname: "mx.test"))
        let server = SMTPServer(listeners: [listener], services: SMTPServerServices(receiver: receiver), group: MultiThreadedEventLoopGroup.singleton)
        let port = try await server.start()[0].port!
        let domains = (0..<20).map { "d\($0).test" }
        var answers: [String: Destination] = [:]
        for domain in domains { answers[domain] = .hosts([SpoolRunnerDestinationTests.host("mx.shared.test", port: port)]) }
        let resolver = FakeDestinationResolver(answers)
        let store = try SpoolStore(directory: SpoolRunnerTests.temporaryDirectory())
        for (index, domain) in domains.enumerated() {
            try await store.inject(envelope: SpoolRunnerTests.envelope(from: "a@src.test", to: ["r\(index)@\(domain)"]),
                                   message: ByteBuffer(string: "Subject: \(index)\r\n\r\nbody\r\n"))
        }
        var configuration = SpoolRunnerDestinationTests.configuration(resolver: resolver)
        configuration.maxDeliveriesPerHost = 3
        let runner = SpoolRunner(store: store, configuration: configuration, logger: Logger(label: "test"))
        try await runner.start()
        // At least 20: under a loaded suite a client may time out waiting for the reply to the
        // final dot of a message the server then commits anyway, and the retry delivers it again
        // (at-least-once, RFC 5321 §6.1) — seen once as 21 commits, which `== 20` never matched.
        try await SpoolRunnerTests.eventually(timeout: .seconds(60)) { receiver.done.withLockedValue { $0 } >= 20 }
        #expect(receiver.peak.withLockedValue { $0 } <= 3)
        #expect(await runner.slots.peak["127.0.0.1:\(port)"] == 3)   // the limit was reached, and held
        await runner.stop()
        await server.shutdown(gracePeriod: .seconds(2))
    }
}
