import NIOCore
import Logging

/// Feeds one message's chunks to its ``MessageWriter`` one at a time, as tasks (on the
/// connection's ``EventLoopTaskExecutor`` when there is one), and commits or aborts it once the
/// queue is empty.
/// Lives on the channel's event loop.
final class MessageTransfer {
    enum Final {
        case none
        case commit(MessageDataSummary, (Result<CommitResult, any Error>) -> Void)
        case abort
    }

    let writer: any MessageWriter
    let eventLoop: any EventLoop
    /// Where the writer's calls run; nil: the global executor.
    let executor: EventLoopTaskExecutor?
    private var queue = CircularBuffer<ByteBuffer>()
    private(set) var queuedBytes = 0
    private var inFlight = false
    /// The first write error; the message is then aborted at commit time.
    private var failure: (any Error)?
    private var final: Final = .none
    private let logger: Logger
    /// Called on the event loop whenever queued bytes drop (to resume reading).
    var onDrain: () -> Void = {}

    init(writer: any MessageWriter, eventLoop: any EventLoop, executor: EventLoopTaskExecutor?, logger: Logger) {
        self.writer = writer
        self.eventLoop = eventLoop
        self.executor = executor
        self.logger = logger
    }

    func append(_ chunk: ByteBuffer) {
        guard failure == nil else { return }
        queue.append(chunk)
        queuedBytes += chunk.readableBytes
        pump()
    }

    /// Commits after all queued writes; `completion` gets the write or commit error on failure.
    func commit(summary: MessageDataSummary, completion: @escaping (Result<CommitResult, any Error>) -> Void) {
        final = .commit(summary, completion)
        pump()
    }

    func abort() {
        queue.removeAll()
        queuedBytes = 0
        final = .abort
        pump()
    }

    private func pump() {
        guard !inFlight else { return }
        let writer = self.writer
        if let chunk = queue.popFirst() {
            inFlight = true
            let promise = eventLoop.makePromise(of: Void.self)
            promise.completeWithTask(on: executor) { try await writer.write(chunk) }
            promise.futureResult.assumeIsolated().whenComplete { result in
                self.inFlight = false
                self.queuedBytes -= chunk.readableBytes
                if case .failure(let error) = result {
                    self.logger.error("message write failed", metadata: ["error": "\(error)"])
                    self.failure = error
                    self.queue.removeAll()
                    self.queuedBytes = 0
                }
                self.onDrain()
                self.pump()
            }
            return
        }
        switch final {
        case .none:
            return
        case .abort:
            final = .none
            inFlight = true
            let promise = eventLoop.makePromise(of: Void.self)
            promise.completeWithTask(on: executor) { await writer.abort() }
            promise.futureResult.assumeIsolated().whenComplete { _ in self.inFlight = false }
        case .commit(let summary, let completion):
            final = .none
            inFlight = true
            if let failure {
                let promise = eventLoop.makePromise(of: Void.self)
                promise.completeWithTask(on: executor) { await writer.abort() }
                promise.futureResult.assumeIsolated().whenComplete { _ in completion(.failure(failure)) }
                return
            }
            let promise = eventLoop.makePromise(of: CommitResult.self)
            promise.completeWithTask(on: executor) {
                do {
                    return try await writer.commit(summary: summary)
                } catch {
                    await writer.abort()
                    throw error
                }
            }
            promise.futureResult.assumeIsolated().whenComplete { result in
                if case .failure(let error) = result {
                    self.logger.error("message commit failed", metadata: ["error": "\(error)"])
                }
                completion(result)
            }
        }
    }
}

@available(*, unavailable)
extension MessageTransfer: Sendable {}
