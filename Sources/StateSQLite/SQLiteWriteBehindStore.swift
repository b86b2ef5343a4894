import Defenses
import Foundation
import Logging
import Synchronization

/// The embedded default ``StateStore`` of a node (`[state] backend = "sqlite"`, `write_behind`
/// > 0, docs/state.md): the state lives in this process's memory, where every operation is one
/// critical section, and is written behind to the SQLite file — what changed, every
/// `interval` (default 100 ms), in one write transaction.
///
/// Why: an operation that waits for SQLite costs two thread hand-offs (to the database queue
/// and back), and an mx message makes seven of them (DM11 ×3, DM34 ×2, DM18 and DM32 at
/// connect) — about 1 ms of CPU per message, a third of the mx's total (bench/README.md,
/// `mx.sh`). In memory they cost microseconds, and the file still carries the state across
/// restarts. Postfix's anvil keeps its rate counters in memory only.
///
/// What it gives up, against the write-through ``SQLiteStateStore`` (`write_behind = 0`):
/// - **Sharing the file.** The store holds `<path>-lock` exclusively (``StateFileLock``): a
///   second store on the same file — in this process or another — is refused at start with a
///   message saying so. Nodes that share state use PostgreSQL; write-through stores may share
///   one file among themselves.
/// - **The last `interval` on kill -9.** Changes not yet written when the process dies are
///   lost: up to 100 ms of counts (a rate limit counts a little low), a greylist triplet (the
///   sender is greylisted once more), a spent hashcash stamp (it could be spent once more). A
///   clean stop (SIGTERM, ``flush()``) writes everything. No mail is ever in this store.
///
/// A write that fails (disk full) keeps its changes for the next attempt (logged); the state in
/// memory is unaffected, so defenses go on working. Memory: every live counter bucket and record
/// (roughly 150 bytes each; a greylist of a million triplets is about 150 MB — PostgreSQL is
/// the store for state that large).
public final class SQLiteWriteBehindStore: StateStore {
    struct CounterSlot: Hashable, Sendable {
        var key: String
        var bucket: Int64
    }

    struct CounterDelta: Sendable {
        var amount: Int
        var expires: Int64
    }

    /// Changes since the last write.
    private struct Changes: Sendable {
        var counters: [CounterSlot: CounterDelta] = [:]
        /// Keys whose record changed: the mirror's record (or its absence) is written.
        var records: Set<String> = []
        /// The latest `now` a caller gave: records that expired by then are deleted, not written.
        var latest: Date = .distantPast

        var isEmpty: Bool { counters.isEmpty && records.isEmpty }

        mutating func merge(_ older: Changes) {
            for (slot, delta) in older.counters {
                counters[slot, default: CounterDelta(amount: 0, expires: delta.expires)].amount += delta.amount
            }
            records.formUnion(older.records)
            latest = max(latest, older.latest)
        }
    }

    private struct Pending: Sendable {
        var changes = Changes()
        /// A flushing task is sleeping or writing.
        var scheduled = false
        var writes = 0
        var failures = 0
        /// ``close()`` ran: changes stay in memory and are no longer written.
        var closed = false
    }

    /// What an operation took out of ``Pending`` (for putting it back when the commit fails).
    private final class Taken: Sendable {
        let changes = Mutex<Changes?>(nil)
    }

    /// The database file.
    public let path: String
    /// How long a change waits before it is written (it is in memory at once).
    public let interval: Duration
    let file: SQLiteStateStore
    private let mirror = MemoryStateStore()
    private let pending = Mutex(Pending())
    private let lock: Mutex<StateFileLock?>
    private let logger: Logger

    /// Opens (creating if needed) the file at `path`, takes its lock and reads its state into
    /// memory. Throws when another store uses the file.
    public init(path: String, sync: SQLiteStateSync = .normal, interval: Duration = .milliseconds(100),
                busyTimeout: Duration = .seconds(5), logger: Logger = Logger(label: "mailnode.state")) throws {
        precondition(interval > .zero, "a write-behind interval must be positive (write-through is SQLiteStateStore)")
        self.path = path
        self.interval = interval
        self.logger = logger
        lock = Mutex(try StateFileLock(database: path, mode: .exclusive))
        file = try SQLiteStateStore(path: path, sync: sync, busyTimeout: busyTimeout, lock: nil)
        let rows = try file.allRows()
        for row in rows.counters { mirror.restoreCounter(row.key, bucket: row.bucket, count: row.count, expires: row.expires) }
        for row in rows.records { mirror.restoreRecord(row.key, row.record) }
    }

    /// Write transactions that stored changes, and those that failed (for tests and diagnostics).
    public var writeCounts: (written: Int, failed: Int) {
        pending.withLock { ($0.writes, $0.failures) }
    }

    // MARK: - StateStore

    public func increment(_ key: String, by amount: Int, window: StateWindow, at now: Date) async throws -> Int {
        let total = try await mirror.increment(key, by: amount, window: window, at: now)
        let bucket = window.bucket(at: now)
        note(now) { changes in
            changes.counters[CounterSlot(key: key, bucket: bucket), default: CounterDelta(amount: 0, expires: window.bucketExpiry(bucket))]
                .amount += amount
        }
        return total
    }

    public func count(_ key: String, window: StateWindow, at now: Date) async throws -> Int {
        try await mirror.count(key, window: window, at: now)
    }

    public func record(_ key: String, at now: Date) async throws -> StateRecord? {
        mirror.liveRecord(key, at: now)
    }

    public func insertRecord(_ key: String, value: String, expires: Date, at now: Date) async throws -> StateRecord {
        let record = try await mirror.insertRecord(key, value: value, expires: expires, at: now)
        note(now) { $0.records.insert(key) }
        return record
    }

    public func putRecord(_ key: String, value: String, expires: Date, at now: Date) async throws {
        try await mirror.putRecord(key, value: value, expires: expires, at: now)
        note(now) { $0.records.insert(key) }
    }

    public func removeRecord(_ key: String) async throws {
        try await mirror.removeRecord(key)
        note(nil) { $0.records.insert(key) }
    }

    /// Purges memory and the file; returns how many counter buckets and records left memory.
    public func purgeExpired(at now: Date) async throws -> Int {
        let removed = try await mirror.purgeExpired(at: now)
        _ = try await file.purgeExpired(at: now)
        return removed
    }

    // MARK: - Writing behind

    /// Writes every change made so far, now; false when the write failed (the changes stay
    /// for the next attempt). ``close()`` does it at a clean stop (the node calls that).
    @discardableResult
    public func flush() async -> Bool {
        let taken = Taken()
        do {
            _ = try await file.writes.perform { db in
                // Taken inside the write transaction: writes run one at a time, in order, so a
                // later flush can never overwrite a record with an older state.
                let changes = self.pending.withLock { pending -> Changes in
                    defer { pending.changes = Changes() }
                    return pending.changes
                }
                guard !changes.isEmpty else { return .done }
                taken.changes.withLock { $0 = changes }
                let records = changes.records.sorted().map { (key: $0, record: self.mirror.liveRecord($0, at: changes.latest)) }
                try SQLiteStateStore.apply(db, counters: changes.counters, records: records)
                return .done
            }
            if taken.changes.withLock({ $0 }) != nil { pending.withLock { $0.writes += 1 } }
            return true
        } catch {
            let changes = taken.changes.withLock { $0 }
            pending.withLock { pending in
                if let changes { pending.changes.merge(changes) }
                pending.failures += 1
            }
            logger.warning("state store: writing to the file failed; the state is kept in memory and written later", metadata: [
                "path": "\(path)", "error": "\(error)",
            ])
            return false
        }
    }

    /// Writes every change, then gives the file up (its lock goes, so a new store — a node
    /// started again in this process — may open it). Later changes stay in memory only.
    public func close() async {
        await flush()
        pending.withLock { $0.closed = true }
        lock.withLock { $0 = nil }
    }

    /// Records a change and makes sure a flush is coming.
    private func note(_ now: Date?, _ change: (inout Changes) -> Void) {
        let start = pending.withLock { pending -> Bool in
            if pending.closed { return false }
            change(&pending.changes)
            if let now { pending.changes.latest = max(pending.changes.latest, now) }
            if pending.scheduled { return false }
            pending.scheduled = true
            return true
        }
        if start { Task { await self.flushWhileChanging() } }
    }

    /// Flushes every `interval` until nothing is left (then the next change starts it again);
    /// after a failure it waits a second before the next attempt.
    private func flushWhileChanging() async {
        var delay = interval
        while true {
            try? await Task.sleep(for: delay)
            let written = await flush()
            let again = pending.withLock { pending -> Bool in
                if pending.changes.isEmpty { pending.scheduled = false }
                return pending.scheduled
            }
            guard again else { return }
            delay = written ? interval : max(interval, .seconds(1))
        }
    }
}
