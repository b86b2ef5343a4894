import Foundation

/// What defenses remember across sessions and across nodes: counters over windows (rate
/// limits, DM11) and keyed records that expire (greylist triplets, DM22; dynamic block-list
/// entries, DM27/DM32).
///
/// Every method takes the caller's `now`, so a mechanism's clock decides (and tests inject one);
/// nodes sharing one store should keep their clocks in sync (NTP) — a skew of a few seconds
/// shifts windows by that much, nothing worse.
///
/// Keys are free text; each mechanism prefixes its own (`greylist:`, `rate:`, `greet:`), so two
/// mechanisms never share a key. Implementations: ``MemoryStateStore`` (one process, for unit
/// tests and embedders), `SQLiteStateStore` (module `StateSQLite`, the embedded default) and
/// `PostgresStateStore` (module `StatePostgres`, several nodes). docs/state.md has the schema
/// and the argument why no increment is lost.
public protocol StateStore: Sendable {
    /// Adds `amount` to the counter `key` and returns its total over `window` ending at `now`,
    /// this increment included — in one atomic step: concurrent increments (in this process or,
    /// for a shared backend, on other nodes) are never lost, and each caller's total includes
    /// every increment that completed before its own.
    func increment(_ key: String, by amount: Int, window: StateWindow, at now: Date) async throws -> Int

    /// The counter's total over `window` ending at `now`, without changing it.
    func count(_ key: String, window: StateWindow, at now: Date) async throws -> Int

    /// The record under `key`, or `nil` when there is none or it expired at or before `now`.
    func record(_ key: String, at now: Date) async throws -> StateRecord?

    /// Stores `value` under `key` unless a live record is there already; returns the record
    /// that is stored afterwards (the existing one, or the new one created `now`). Atomic: of
    /// two concurrent callers, one creates and both see the same record.
    func insertRecord(_ key: String, value: String, expires: Date, at now: Date) async throws -> StateRecord

    /// Stores `value` under `key` with a new expiry, keeping the creation time of a live record
    /// (a new record is created `now`).
    func putRecord(_ key: String, value: String, expires: Date, at now: Date) async throws

    /// Removes the record under `key` (nothing when there is none).
    func removeRecord(_ key: String) async throws

    /// Deletes expired records and counter buckets that no window can reach any more; returns
    /// how many rows went. Reads never return expired data, so purging only frees space.
    @discardableResult
    func purgeExpired(at now: Date) async throws -> Int
}

extension StateStore {
    /// Adds one to the counter (see ``increment(_:by:window:at:)``).
    public func increment(_ key: String, window: StateWindow, at now: Date) async throws -> Int {
        try await increment(key, by: 1, window: window, at: now)
    }
}

/// A record in a ``StateStore``: a short value with its creation time and expiry.
public struct StateRecord: Sendable, Hashable {
    /// What the mechanism keeps (e.g. `pending` / `passed` for a greylist triplet).
    public var value: String
    /// When the record was first created (kept by ``StateStore/putRecord(_:value:expires:at:)``).
    public var created: Date
    /// After this instant the record is gone for every reader.
    public var expires: Date

    public init(value: String, created: Date, expires: Date) {
        self.value = value
        self.created = created
        self.expires = expires
    }
}

/// The window a counter is read over: the last `duration`, counted in `buckets` fixed buckets.
///
/// A counter keeps one row per bucket (`duration / buckets` long, at least 1 ms, aligned to the
/// epoch). Its total is the sum of the current bucket and the `buckets - 1` before it, so the
/// window slides by whole buckets: it covers at least `duration - duration/buckets` and at most
/// `duration` of the past. With the default 10 buckets, a "100 per hour" limit counts the last
/// 54 to 60 minutes. One key must always be used with the same window.
public struct StateWindow: Sendable, Hashable {
    /// How far back the counter reaches.
    public var duration: Duration
    /// How many buckets the window is split into (1 makes a fixed window).
    public var buckets: Int

    public init(_ duration: Duration, buckets: Int = 10) {
        precondition(duration > .zero && buckets >= 1, "a window needs a positive duration and at least one bucket")
        self.duration = duration
        self.buckets = buckets
    }

    /// The window's length in milliseconds.
    public var durationMilliseconds: Int64 {
        let (seconds, attoseconds) = duration.components
        return max(1, seconds * 1000 + attoseconds / 1_000_000_000_000_000)
    }

    /// One bucket's length in milliseconds (at least 1).
    public var bucketMilliseconds: Int64 {
        max(1, durationMilliseconds / Int64(buckets))
    }

    /// The start (ms since 1970) of the bucket that `now` falls in.
    public func bucket(at now: Date) -> Int64 {
        let ms = StateTime.milliseconds(now)
        let width = bucketMilliseconds
        return ms >= 0 ? ms / width * width : (ms - width + 1) / width * width
    }

    /// The first bucket start that still counts at `now`.
    public func oldestBucket(at now: Date) -> Int64 {
        bucket(at: now) - Int64(buckets - 1) * bucketMilliseconds
    }

    /// When the bucket starting at `bucket` stops counting for every reader (ms since 1970).
    public func bucketExpiry(_ bucket: Int64) -> Int64 {
        bucket + Int64(buckets) * bucketMilliseconds
    }
}

/// Times in the stores: milliseconds since 1970 as 64-bit integers (exact in SQLite and PostgreSQL).
public enum StateTime {
    public static func milliseconds(_ date: Date) -> Int64 {
        Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
    }

    public static func date(_ milliseconds: Int64) -> Date {
        Date(timeIntervalSince1970: Double(milliseconds) / 1000)
    }
}

/// A store failed (database unreachable, disk full). Mechanisms treat it as "no state" and let
/// the session go on — a broken store must not stop mail (docs/state.md).
public struct StateStoreError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
