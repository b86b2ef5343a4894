import Defenses
import Foundation
import GRDB

/// A ``StateStore`` written through to one SQLite file (WAL mode) through GRDB: every operation
/// has committed when it returns (`[state] backend = "sqlite"` with `write_behind = 0`,
/// docs/state.md), so several processes may share the file. A node's default is the faster
/// ``SQLiteWriteBehindStore``, which uses this store to write.
///
/// Every write runs inside an SQLite write transaction (`BEGIN IMMEDIATE`), and SQLite allows
/// one writer per database at a time — in this process and across processes sharing the file —
/// so an increment and the read of its total cannot interleave with another increment. Writes
/// that arrive together share one transaction (``SQLiteGroupCommit``: group commit, one
/// savepoint per operation); reads run on GRDB's reader connections. Nothing runs on a NIO
/// event loop (DESIGN.md §3.3).
public final class SQLiteStateStore: StateStore {
    /// The database file (`:memory:` is not accepted: a store is meant to outlive the session).
    public let path: String
    /// How far a commit has reached the disk when it returns (default ``SQLiteStateSync/normal``).
    public let sync: SQLiteStateSync
    private let pool: DatabasePool
    let writes: SQLiteGroupCommit
    private let fileLock: StateFileLock?

    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    /// `busyTimeout` is how long a write waits for another process's write transaction.
    ///
    /// The store holds `<path>-lock` shared (``StateFileLock``): stores like this one in other
    /// processes may use the file too, a ``SQLiteWriteBehindStore`` may not (and vice versa).
    public convenience init(path: String, sync: SQLiteStateSync = .normal, busyTimeout: Duration = .seconds(5)) throws {
        try self.init(path: path, sync: sync, busyTimeout: busyTimeout, lock: .shared)
    }

    /// `lock: nil` for the write-behind store, which holds the lock exclusively itself.
    init(path: String, sync: SQLiteStateSync, busyTimeout: Duration, lock: StateFileLock.Mode?) throws {
        self.path = path
        self.sync = sync
        var configuration = Configuration()
        configuration.busyMode = .timeout(TimeInterval(busyTimeout.components.seconds))
        configuration.label = "mailnode.state"
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
        fileLock = try lock.map { try StateFileLock(database: path, mode: $0) }
        pool = try DatabasePool(path: path, configuration: configuration)
        try Self.migrator.migrate(pool)
        // GRDB sets NORMAL when it opens the writer in WAL mode; only the writer's setting matters.
        if sync == .full { try pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = FULL") } }
        writes = SQLiteGroupCommit(pool: pool)
    }

    /// The schema (docs/state.md). Times are milliseconds since 1970.
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE mailnode_counters (
                    key     TEXT    NOT NULL,
                    bucket  INTEGER NOT NULL,
                    count   INTEGER NOT NULL,
                    expires INTEGER NOT NULL,
                    PRIMARY KEY (key, bucket)
                ) WITHOUT ROWID;
                CREATE INDEX mailnode_counters_expires ON mailnode_counters (expires);
                CREATE TABLE mailnode_records (
                    key     TEXT    NOT NULL PRIMARY KEY,
                    value   TEXT    NOT NULL,
                    created INTEGER NOT NULL,
                    expires INTEGER NOT NULL
                ) WITHOUT ROWID;
                CREATE INDEX mailnode_records_expires ON mailnode_records (expires);
                """)
        }
        return migrator
    }

    public func increment(_ key: String, by amount: Int, window: StateWindow, at now: Date) async throws -> Int {
        let bucket = window.bucket(at: now)
        let outcome = try await writes.perform { db in
            // Prepared once per connection (GRDB's statement cache): every message runs these.
            try db.cachedStatement(sql: """
                INSERT INTO mailnode_counters (key, bucket, count, expires) VALUES (?, ?, ?, ?)
                ON CONFLICT (key, bucket) DO UPDATE SET count = count + excluded.count
                """).execute(arguments: [key, bucket, amount, window.bucketExpiry(bucket)])
            return .total(try Self.total(db, key: key, window: window, now: now))
        }
        guard case .total(let total) = outcome else { preconditionFailure("increment answers a total") }
        return total
    }

    public func count(_ key: String, window: StateWindow, at now: Date) async throws -> Int {
        try await pool.read { db in try Self.total(db, key: key, window: window, now: now) }
    }

    /// The connection's `PRAGMA synchronous` as SQLite reports it (1 NORMAL, 2 FULL), for tests.
    func synchronousPragma() async throws -> Int {
        try await pool.write { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1 }
    }

    private static func total(_ db: Database, key: String, window: StateWindow, now: Date) throws -> Int {
        try Int.fetchOne(db.cachedStatement(sql: """
            SELECT COALESCE(SUM(count), 0) FROM mailnode_counters WHERE key = ? AND bucket >= ? AND bucket <= ?
            """), arguments: [key, window.oldestBucket(at: now), window.bucket(at: now)]) ?? 0
    }

    public func record(_ key: String, at now: Date) async throws -> StateRecord? {
        try await pool.read { db in try Self.liveRecord(db, key: key, now: now) }
    }

    private static func liveRecord(_ db: Database, key: String, now: Date) throws -> StateRecord? {
        guard let row = try Row.fetchOne(db.cachedStatement(sql: """
            SELECT value, created, expires FROM mailnode_records WHERE key = ? AND expires > ?
            """), arguments: [key, StateTime.milliseconds(now)]) else { return nil }
        return StateRecord(value: row["value"], created: StateTime.date(row["created"]), expires: StateTime.date(row["expires"]))
    }

    public func insertRecord(_ key: String, value: String, expires: Date, at now: Date) async throws -> StateRecord {
        let outcome = try await writes.perform { db in
            if let existing = try Self.liveRecord(db, key: key, now: now) { return .record(existing) }
            let created = StateTime.milliseconds(now), until = StateTime.milliseconds(expires)
            try db.cachedStatement(sql: "INSERT OR REPLACE INTO mailnode_records (key, value, created, expires) VALUES (?, ?, ?, ?)")
                .execute(arguments: [key, value, created, until])
            return .record(StateRecord(value: value, created: StateTime.date(created), expires: StateTime.date(until)))
        }
        guard case .record(let record?) = outcome else { preconditionFailure("insertRecord answers a record") }
        return record
    }

    public func putRecord(_ key: String, value: String, expires: Date, at now: Date) async throws {
        let created = StateTime.milliseconds(now), until = StateTime.milliseconds(expires)
        _ = try await writes.perform { db in
            try db.cachedStatement(sql: """
                INSERT INTO mailnode_records (key, value, created, expires) VALUES (?, ?, ?, ?)
                ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires = excluded.expires,
                    created = CASE WHEN mailnode_records.expires > ? THEN mailnode_records.created ELSE excluded.created END
                """).execute(arguments: [key, value, created, until, created])
            return .done
        }
    }

    public func removeRecord(_ key: String) async throws {
        _ = try await writes.perform { db in
            try db.cachedStatement(sql: "DELETE FROM mailnode_records WHERE key = ?").execute(arguments: [key])
            return .done
        }
    }

    public func purgeExpired(at now: Date) async throws -> Int {
        let ms = StateTime.milliseconds(now)
        return try await pool.write { db in
            try db.execute(sql: "DELETE FROM mailnode_counters WHERE expires <= ?", arguments: [ms])
            var removed = db.changesCount
            try db.execute(sql: "DELETE FROM mailnode_records WHERE expires <= ?", arguments: [ms])
            removed += db.changesCount
            return removed
        }
    }

    // MARK: - For the write-behind store

    /// Every counter bucket and record in the file, read at once (loading a mirror). Expired
    /// rows too: the mirror hides them from readers as the file does, and purging removes them.
    func allRows() throws -> (counters: [(key: String, bucket: Int64, count: Int, expires: Int64)],
                              records: [(key: String, record: StateRecord)]) {
        try pool.read { db in
            let counters = try Row.fetchAll(db, sql: "SELECT key, bucket, count, expires FROM mailnode_counters").map { row in
                (key: row["key"] as String, bucket: row["bucket"] as Int64, count: row["count"] as Int, expires: row["expires"] as Int64)
            }
            let records = try Row.fetchAll(db, sql: "SELECT key, value, created, expires FROM mailnode_records").map { row in
                (key: row["key"] as String, record: StateRecord(value: row["value"], created: StateTime.date(row["created"]),
                                                                expires: StateTime.date(row["expires"])))
            }
            return (counters, records)
        }
    }

    /// Adds counter increments and sets records as they are (nil: removed), inside `db`'s write
    /// transaction (a ``SQLiteGroupCommit`` operation).
    static func apply(_ db: Database, counters: [SQLiteWriteBehindStore.CounterSlot: SQLiteWriteBehindStore.CounterDelta],
                      records: [(key: String, record: StateRecord?)]) throws {
        for (slot, delta) in counters {
            try db.cachedStatement(sql: """
                INSERT INTO mailnode_counters (key, bucket, count, expires) VALUES (?, ?, ?, ?)
                ON CONFLICT (key, bucket) DO UPDATE SET count = count + excluded.count
                """).execute(arguments: [slot.key, slot.bucket, delta.amount, delta.expires])
        }
        for (key, record) in records {
            if let record {
                try db.cachedStatement(sql: "INSERT OR REPLACE INTO mailnode_records (key, value, created, expires) VALUES (?, ?, ?, ?)")
                    .execute(arguments: [key, record.value, StateTime.milliseconds(record.created), StateTime.milliseconds(record.expires)])
            } else {
                try db.cachedStatement(sql: "DELETE FROM mailnode_records WHERE key = ?").execute(arguments: [key])
            }
        }
    }
}
