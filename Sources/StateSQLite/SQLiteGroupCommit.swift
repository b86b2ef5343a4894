import Defenses
import Dispatch
import GRDB
import Synchronization

/// Group commit for ``SQLiteStateStore``: the operations that arrive while one write
/// transaction runs are queued and then all run together in the next one.
///
/// Every message touches several counters and records (DM11's connection, message and recipient
/// counters, DM34's, the greet pause and block-list records); one `BEGIN IMMEDIATE` … `COMMIT`
/// each made the store the mx's largest cost (bench/README.md, `mx.sh`). Here a busy store runs
/// one transaction per batch instead, with the same guarantees per operation:
///
/// - Operations run one after another, in arrival order, inside the batch's write transaction,
///   so an increment and the read of its total still cannot interleave with another increment
///   (in this process or, through SQLite's write lock, in another).
/// - Each operation runs in its own savepoint: one that fails is rolled back alone and throws
///   to its caller; the others commit. (An operation alone in its batch runs without one: the
///   transaction's rollback does the same.)
/// - A caller is answered only after the batch's `COMMIT` returned; when the commit fails,
///   every operation of the batch throws (nothing of it was stored).
///
/// The batch runs on a serial dispatch queue of its own, never on a NIO event loop or Swift's
/// cooperative pool (DESIGN.md §3.3): GRDB's synchronous `write` blocks that queue only.
final class SQLiteGroupCommit: Sendable {
    /// What an operation returns to its caller.
    enum Outcome: Sendable {
        case total(Int)
        case record(StateRecord?)
        case done
    }

    typealias Operation = @Sendable (Database) throws -> Outcome

    private struct Pending {
        let operation: Operation
        let continuation: CheckedContinuation<Outcome, any Error>
    }

    private struct Queue {
        var pending: [Pending] = []
        var draining = false
        var transactions = 0
        var operations = 0
    }

    /// Most operations one transaction takes (the rest wait for the next).
    let maxBatch: Int
    private let pool: DatabasePool
    private let queue: Mutex<Queue> = Mutex(Queue())
    private let worker = DispatchQueue(label: "mailnode.state.group-commit")

    init(pool: DatabasePool, maxBatch: Int = 256) {
        precondition(maxBatch >= 1)
        self.pool = pool
        self.maxBatch = maxBatch
    }

    /// Write transactions run and operations performed so far (for tests and diagnostics).
    var counts: (transactions: Int, operations: Int) {
        queue.withLock { ($0.transactions, $0.operations) }
    }

    /// Runs `operation` in the next batch and returns its outcome once that batch committed.
    func perform(_ operation: @escaping Operation) async throws -> Outcome {
        try await withCheckedThrowingContinuation { continuation in
            let start = queue.withLock { queue -> Bool in
                queue.pending.append(Pending(operation: operation, continuation: continuation))
                if queue.draining { return false }
                queue.draining = true
                return true
            }
            if start { worker.async { self.drain() } }
        }
    }

    /// Runs batches until the queue is empty.
    private func drain() {
        while true {
            let batch = queue.withLock { queue -> [Pending] in
                if queue.pending.isEmpty {
                    queue.draining = false
                    return []
                }
                let count = min(queue.pending.count, maxBatch)
                let batch = Array(queue.pending.prefix(count))
                queue.pending.removeFirst(count)
                queue.transactions += 1
                queue.operations += count
                return batch
            }
            if batch.isEmpty { return }
            for (pending, outcome) in zip(batch, run(batch)) { pending.continuation.resume(with: outcome) }
        }
    }

    /// One write transaction over `batch`: an outcome per operation, in order.
    private func run(_ batch: [Pending]) -> [Result<Outcome, any Error>] {
        if batch.count == 1 {
            // Alone in its transaction, an operation needs no savepoint (two statements fewer):
            // when it throws, GRDB rolls the transaction back, which is the savepoint's work.
            return [Result { try pool.write { db in try batch[0].operation(db) } }]
        }
        var outcomes: [Result<Outcome, any Error>] = []
        outcomes.reserveCapacity(batch.count)
        do {
            try pool.write { db in
                for pending in batch {
                    // SQLite rolls a whole transaction back on some errors (disk full, I/O):
                    // then nothing of the batch stands, and every operation must throw.
                    guard db.isInsideTransaction else { throw StateStoreError("state store transaction aborted") }
                    var outcome = Outcome.done
                    do {
                        try db.inSavepoint {
                            outcome = try pending.operation(db)
                            return .commit
                        }
                        outcomes.append(.success(outcome))
                    } catch {
                        // The savepoint is rolled back, the others stand.
                        outcomes.append(.failure(error))
                    }
                }
            }
        } catch {
            return batch.map { _ in .failure(error) }
        }
        return outcomes
    }
}
