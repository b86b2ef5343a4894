import Defenses
import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import PostgresNIO

/// A ``StateStore`` in PostgreSQL, for several nodes sharing their state
/// (`[state] backend = "postgres"`, docs/state.md).
///
/// Each operation is one SQL statement (the schema is created once, under an advisory lock).
/// An increment is `INSERT … ON CONFLICT (key, bucket) DO UPDATE SET count = count + n RETURNING
/// count`: the conflicting row is locked and the update applied to its newest committed
/// version (PostgreSQL §13.2.1, READ COMMITTED), so concurrent increments from any number of
/// connections and nodes serialise on that row and none is lost. The other buckets of the
/// window are summed in the same statement.
///
/// The store runs a postgres-nio connection pool: ``init(configuration:logger:)`` starts it and
/// ``shutdown()`` stops it. All I/O is asynchronous on NIO; nothing blocks an event loop.
public final class PostgresStateStore: StateStore {
    public let configuration: PostgresStateConfiguration
    private let client: PostgresClient
    private let runner: Task<Void, Never>
    private let logger: Logger

    /// Starts the connection pool. Call ``prepare()`` before the first use, ``shutdown()`` at the end.
    public init(configuration: PostgresStateConfiguration, logger: Logger = Logger(label: "mailnode.state.postgres")) {
        self.configuration = configuration
        self.logger = logger
        let tls: PostgresClient.Configuration.TLS
        switch configuration.tls {
        case .disable: tls = .disable
        case .prefer: tls = .prefer(.makeClientConfiguration())
        case .require: tls = .require(.makeClientConfiguration())
        }
        var clientConfiguration = PostgresClient.Configuration(
            host: configuration.host, port: configuration.port, username: configuration.username,
            password: configuration.password, database: configuration.database, tls: tls)
        clientConfiguration.options.maximumConnections = configuration.maxConnections
        let client = PostgresClient(configuration: clientConfiguration, eventLoopGroup: MultiThreadedEventLoopGroup.singleton,
                                    backgroundLogger: logger)
        self.client = client
        runner = Task { await client.run() }
    }

    /// Creates the tables when they are missing (several nodes may call this at once).
    public func prepare() async throws {
        try await client.withTransaction(logger: logger) { connection in
            // One node at a time creates the schema; `IF NOT EXISTS` alone races in the catalogs.
            try await connection.query("SELECT pg_advisory_xact_lock(7263547601)", logger: logger)
            try await connection.query("""
                CREATE TABLE IF NOT EXISTS mailnode_counters (
                    key     TEXT   NOT NULL,
                    bucket  BIGINT NOT NULL,
                    count   BIGINT NOT NULL,
                    expires BIGINT NOT NULL,
                    PRIMARY KEY (key, bucket))
                """, logger: logger)
            try await connection.query(
                "CREATE INDEX IF NOT EXISTS mailnode_counters_expires ON mailnode_counters (expires)", logger: logger)
            try await connection.query("""
                CREATE TABLE IF NOT EXISTS mailnode_records (
                    key     TEXT   NOT NULL PRIMARY KEY,
                    value   TEXT   NOT NULL,
                    created BIGINT NOT NULL,
                    expires BIGINT NOT NULL)
                """, logger: logger)
            try await connection.query(
                "CREATE INDEX IF NOT EXISTS mailnode_records_expires ON mailnode_records (expires)", logger: logger)
            try await PostgresUserDirectory.createTables(connection, logger: logger)
        }
    }

    /// The users kept in this store (its pool, its database; tables made by ``prepare()``).
    public var users: PostgresUserDirectory { PostgresUserDirectory(client: client, logger: logger) }

    /// Closes the pool's connections.
    public func shutdown() async {
        runner.cancel()
        await runner.value
    }

    public func increment(_ key: String, by amount: Int, window: StateWindow, at now: Date) async throws -> Int {
        let bucket = window.bucket(at: now), oldest = window.oldestBucket(at: now)
        let expires = window.bucketExpiry(bucket), added = Int64(amount)
        // The CTE's INSERT is invisible to the outer SELECT's snapshot: the bumped bucket comes
        // from RETURNING, the older buckets from the table.
        let rows = try await client.query("""
            WITH bumped AS (
                INSERT INTO mailnode_counters (key, bucket, count, expires) VALUES (\(key), \(bucket), \(added), \(expires))
                ON CONFLICT (key, bucket) DO UPDATE SET count = mailnode_counters.count + EXCLUDED.count
                RETURNING count)
            SELECT ((SELECT count FROM bumped) + COALESCE((SELECT SUM(count) FROM mailnode_counters
                WHERE key = \(key) AND bucket >= \(oldest) AND bucket < \(bucket)), 0))::BIGINT
            """, logger: logger)
        return try await Self.single(rows)
    }

    public func count(_ key: String, window: StateWindow, at now: Date) async throws -> Int {
        let rows = try await client.query("""
            SELECT COALESCE(SUM(count), 0)::BIGINT FROM mailnode_counters
            WHERE key = \(key) AND bucket >= \(window.oldestBucket(at: now)) AND bucket <= \(window.bucket(at: now))
            """, logger: logger)
        return try await Self.single(rows)
    }

    private static func single(_ rows: PostgresRowSequence) async throws -> Int {
        for try await value in rows.decode(Int64.self) { return Int(value) }
        throw StateStoreError("PostgreSQL returned no row")
    }

    public func record(_ key: String, at now: Date) async throws -> StateRecord? {
        let rows = try await client.query("""
            SELECT value, created, expires FROM mailnode_records WHERE key = \(key) AND expires > \(StateTime.milliseconds(now))
            """, logger: logger)
        return try await Self.firstRecord(rows)
    }

    private static func firstRecord(_ rows: PostgresRowSequence) async throws -> StateRecord? {
        for try await (value, created, expires) in rows.decode((String, Int64, Int64).self) {
            return StateRecord(value: value, created: StateTime.date(created), expires: StateTime.date(expires))
        }
        return nil
    }

    public func insertRecord(_ key: String, value: String, expires: Date, at now: Date) async throws -> StateRecord {
        let created = StateTime.milliseconds(now), until = StateTime.milliseconds(expires)
        // Replaces only an expired row; a live one is locked, left alone and returned.
        let rows = try await client.query("""
            INSERT INTO mailnode_records AS r (key, value, created, expires) VALUES (\(key), \(value), \(created), \(until))
            ON CONFLICT (key) DO UPDATE SET value = CASE WHEN r.expires > \(created) THEN r.value ELSE EXCLUDED.value END,
                created = CASE WHEN r.expires > \(created) THEN r.created ELSE EXCLUDED.created END,
                expires = CASE WHEN r.expires > \(created) THEN r.expires ELSE EXCLUDED.expires END
            RETURNING value, created, expires
            """, logger: logger)
        guard let record = try await Self.firstRecord(rows) else { throw StateStoreError("PostgreSQL returned no row") }
        return record
    }

    public func putRecord(_ key: String, value: String, expires: Date, at now: Date) async throws {
        let created = StateTime.milliseconds(now), until = StateTime.milliseconds(expires)
        try await client.query("""
            INSERT INTO mailnode_records AS r (key, value, created, expires) VALUES (\(key), \(value), \(created), \(until))
            ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, expires = EXCLUDED.expires,
                created = CASE WHEN r.expires > \(created) THEN r.created ELSE EXCLUDED.created END
            """, logger: logger)
    }

    public func removeRecord(_ key: String) async throws {
        try await client.query("DELETE FROM mailnode_records WHERE key = \(key)", logger: logger)
    }

    public func purgeExpired(at now: Date) async throws -> Int {
        let ms = StateTime.milliseconds(now)
        let rows = try await client.query("""
            WITH c AS (DELETE FROM mailnode_counters WHERE expires <= \(ms) RETURNING 1),
                 r AS (DELETE FROM mailnode_records WHERE expires <= \(ms) RETURNING 1)
            SELECT ((SELECT COUNT(*) FROM c) + (SELECT COUNT(*) FROM r))::BIGINT
            """, logger: logger)
        return try await Self.single(rows)
    }
}
