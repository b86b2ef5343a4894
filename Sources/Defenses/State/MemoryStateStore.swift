import Foundation
import NIOConcurrencyHelpers

/// A ``StateStore`` in this process's memory: for unit tests, for embedders testing their own
/// policies, and for a single node that may forget its state on restart (`[state] backend =
/// "memory"`). One lock guards everything, so every operation is atomic.
public final class MemoryStateStore: StateStore {
    private struct CounterKey: Hashable {
        var key: String
        var bucket: Int64
    }

    private struct Storage {
        var counters: [CounterKey: (count: Int, expires: Int64)] = [:]
        var records: [String: StateRecord] = [:]
    }

    private let storage = NIOLockedValueBox(Storage())

    public init() {}

    public func increment(_ key: String, by amount: Int, window: StateWindow, at now: Date) async throws -> Int {
        storage.withLockedValue { storage in
            let bucket = window.bucket(at: now)
            let slot = CounterKey(key: key, bucket: bucket)
            let current = storage.counters[slot]?.count ?? 0
            storage.counters[slot] = (current + amount, window.bucketExpiry(bucket))
            return Self.total(storage, key: key, window: window, now: now)
        }
    }

    public func count(_ key: String, window: StateWindow, at now: Date) async throws -> Int {
        storage.withLockedValue { Self.total($0, key: key, window: window, now: now) }
    }

    private static func total(_ storage: Storage, key: String, window: StateWindow, now: Date) -> Int {
        let newest = window.bucket(at: now)
        var sum = 0
        var bucket = window.oldestBucket(at: now)
        while bucket <= newest {
            sum += storage.counters[CounterKey(key: key, bucket: bucket)]?.count ?? 0
            bucket += window.bucketMilliseconds
        }
        return sum
    }

    public func record(_ key: String, at now: Date) async throws -> StateRecord? {
        liveRecord(key, at: now)
    }

    public func insertRecord(_ key: String, value: String, expires: Date, at now: Date) async throws -> StateRecord {
        storage.withLockedValue { storage in
            if let existing = storage.records[key], existing.expires > now { return existing }
            let record = StateRecord(value: value, created: Self.rounded(now), expires: Self.rounded(expires))
            storage.records[key] = record
            return record
        }
    }

    public func putRecord(_ key: String, value: String, expires: Date, at now: Date) async throws {
        storage.withLockedValue { storage in
            var created = Self.rounded(now)
            if let existing = storage.records[key], existing.expires > now { created = existing.created }
            storage.records[key] = StateRecord(value: value, created: created, expires: Self.rounded(expires))
        }
    }

    public func removeRecord(_ key: String) async throws {
        _ = storage.withLockedValue { $0.records.removeValue(forKey: key) }
    }

    public func purgeExpired(at now: Date) async throws -> Int {
        let ms = StateTime.milliseconds(now)
        return storage.withLockedValue { storage in
            let before = storage.counters.count + storage.records.count
            storage.counters = storage.counters.filter { $0.value.expires > ms }
            storage.records = storage.records.filter { $0.value.expires > now }
            return before - storage.counters.count - storage.records.count
        }
    }

    // MARK: - For a store that mirrors its state here (StateSQLite's write-behind store)

    /// Puts a counter bucket back as a database holds it (loading a mirror).
    package func restoreCounter(_ key: String, bucket: Int64, count: Int, expires: Int64) {
        storage.withLockedValue { $0.counters[CounterKey(key: key, bucket: bucket)] = (count, expires) }
    }

    /// Puts a record back as a database holds it (loading a mirror).
    package func restoreRecord(_ key: String, _ record: StateRecord) {
        storage.withLockedValue { $0.records[key] = record }
    }

    /// The live record under `key` at `now`, without suspending (for writing a mirror back).
    package func liveRecord(_ key: String, at now: Date) -> StateRecord? {
        storage.withLockedValue { storage in
            guard let record = storage.records[key], record.expires > now else { return nil }
            return record
        }
    }

    /// Times at the same millisecond precision as the database backends, so that tests see
    /// the same records from every backend.
    private static func rounded(_ date: Date) -> Date {
        StateTime.date(StateTime.milliseconds(date))
    }
}
