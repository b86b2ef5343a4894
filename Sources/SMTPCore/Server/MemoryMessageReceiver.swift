import NIOConcurrencyHelpers
import NIOCore

/// A message received by a ``MemoryMessageReceiver``.
public struct ReceivedMessage: Sendable, Hashable {
    public var envelope: Envelope
    public var session: SessionContext
    public var data: ByteBuffer
    public var summary: MessageDataSummary
    public var queueID: String
}

/// Keeps received messages in memory. **Not durable**: for unit tests and for users testing
/// their own hooks; a node that answers 250 must use a durable receiver (the spool).
public final class MemoryMessageReceiver: MessageReceiver {
    private let box = NIOLockedValueBox<[ReceivedMessage]>([])
    private let counter = NIOLockedValueBox(0)
    /// Decides the reply per message; default accepts with `250 2.0.0`.
    private let decide: @Sendable (Envelope, ByteBuffer) -> CommitResult?

    public init(decide: @escaping @Sendable (Envelope, ByteBuffer) -> CommitResult? = { _, _ in nil }) {
        self.decide = decide
    }

    /// The messages committed so far, in order.
    public var messages: [ReceivedMessage] { box.withLockedValue { $0 } }

    public func open(envelope: Envelope, session: SessionContext) async throws -> any MessageWriter {
        let id = counter.withLockedValue { value -> Int in
            value += 1
            return value
        }
        return Writer(receiver: self, envelope: envelope, session: session, queueID: "M\(id)")
    }

    final class Writer: MessageWriter {
        let receiver: MemoryMessageReceiver
        let envelope: Envelope
        let session: SessionContext
        let queueID: String
        private let data = NIOLockedValueBox(ByteBuffer())

        init(receiver: MemoryMessageReceiver, envelope: Envelope, session: SessionContext, queueID: String) {
            self.receiver = receiver
            self.envelope = envelope
            self.session = session
            self.queueID = queueID
        }

        func write(_ chunk: ByteBuffer) async throws {
            var chunk = chunk
            data.withLockedValue { _ = $0.writeBuffer(&chunk) }
        }

        func commit(summary: MessageDataSummary) async throws -> CommitResult {
            let bytes = data.withLockedValue { $0 }
            if let custom = receiver.decide(envelope, bytes) {
                if custom.reply.code.isPositiveCompletion { store(bytes, summary) }
                return custom
            }
            store(bytes, summary)
            return CommitResult(reply: Reply(.ok, .ok, "Queued as \(queueID)"), queueID: queueID)
        }

        private func store(_ bytes: ByteBuffer, _ summary: MessageDataSummary) {
            let message = ReceivedMessage(envelope: envelope, session: session, data: bytes, summary: summary, queueID: queueID)
            receiver.box.withLockedValue { $0.append(message) }
        }

        func abort() async {}
    }
}
