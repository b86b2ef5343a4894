import Defenses
import Foundation
import Logging
import PostgresNIO

/// The node's users (``UserDirectory``) in the PostgreSQL state store, for several submission,
/// mx and store nodes that share one set of users (`[state] backend = "postgres"`, `state.users`;
/// docs/state.md). It uses the store's connection pool; ``PostgresStateStore/prepare()`` creates
/// its tables.
///
/// Names and aliases share one address space, as in the SQLite directory: every change runs in
/// a transaction that first takes one advisory lock (`pg_advisory_xact_lock`), so two nodes
/// adding the same address at once are serialised and the second is refused
/// (``UserDirectoryError/addressTaken(_:by:)``). Reads take no lock.
public struct PostgresUserDirectory: UserDirectory {
    let client: PostgresClient
    let logger: Logger
    /// The advisory lock of directory changes (the schema lock is another number).
    static let writeLock: Int64 = 7_263_547_602

    init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// The tables, created by ``PostgresStateStore/prepare()`` under its schema lock.
    static func createTables(_ connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query("""
            CREATE TABLE IF NOT EXISTS mailnode_users (
                name     TEXT    NOT NULL PRIMARY KEY,
                password TEXT    NOT NULL,
                disabled BOOLEAN NOT NULL DEFAULT FALSE,
                created  BIGINT  NOT NULL)
            """, logger: logger)
        try await connection.query("""
            CREATE TABLE IF NOT EXISTS mailnode_aliases (
                address TEXT NOT NULL PRIMARY KEY,
                owner   TEXT NOT NULL REFERENCES mailnode_users(name) ON DELETE CASCADE)
            """, logger: logger)
        try await connection.query("CREATE INDEX IF NOT EXISTS mailnode_aliases_owner ON mailnode_aliases (owner)", logger: logger)
    }

    public func user(named name: String) async throws -> MailUser? {
        try await client.withConnection { connection in try await Self.read(connection, name: name.lowercased(), logger: logger) }
    }

    public func user(forAddress address: String) async throws -> MailUser? {
        try await client.withConnection { connection in
            guard let owner = try await Self.owner(connection, address: address.lowercased(), logger: logger) else { return nil }
            return try await Self.read(connection, name: owner, logger: logger)
        }
    }

    public func add(_ user: MailUser) async throws {
        try await write { connection in
            for address in [user.name] + user.aliases {
                if let owner = try await Self.owner(connection, address: address, logger: logger) {
                    throw owner == user.name && address == user.name ? UserDirectoryError.exists(user.name)
                        : UserDirectoryError.addressTaken(address, by: owner)
                }
            }
            let created = Int64(user.created.timeIntervalSince1970 * 1000)
            try await connection.query("""
                INSERT INTO mailnode_users (name, password, disabled, created)
                VALUES (\(user.name), \(user.passwordHash), \(user.disabled), \(created))
                """, logger: logger)
            for alias in Set(user.aliases) {
                try await connection.query("INSERT INTO mailnode_aliases (address, owner) VALUES (\(alias), \(user.name))", logger: logger)
            }
        }
    }

    public func setPasswordHash(_ hash: String, for name: String) async throws {
        let name = name.lowercased()
        try await write { connection in
            let rows = try await connection.query("UPDATE mailnode_users SET password = \(hash) WHERE name = \(name) RETURNING name",
                                                  logger: logger)
            guard try await Self.any(rows) else { throw UserDirectoryError.noSuchUser(name) }
        }
    }

    public func setAliases(_ aliases: [String], for name: String) async throws {
        let name = name.lowercased()
        try await write { connection in
            guard try await Self.read(connection, name: name, logger: logger) != nil else { throw UserDirectoryError.noSuchUser(name) }
            try await connection.query("DELETE FROM mailnode_aliases WHERE owner = \(name)", logger: logger)
            for alias in Set(aliases.map { $0.lowercased() }) {
                if let owner = try await Self.owner(connection, address: alias, logger: logger) {
                    throw UserDirectoryError.addressTaken(alias, by: owner)
                }
                try await connection.query("INSERT INTO mailnode_aliases (address, owner) VALUES (\(alias), \(name))", logger: logger)
            }
        }
    }

    public func setDisabled(_ disabled: Bool, for name: String) async throws {
        let name = name.lowercased()
        try await write { connection in
            let rows = try await connection.query("UPDATE mailnode_users SET disabled = \(disabled) WHERE name = \(name) RETURNING name",
                                                  logger: logger)
            guard try await Self.any(rows) else { throw UserDirectoryError.noSuchUser(name) }
        }
    }

    public func remove(_ name: String) async throws -> Bool {
        let name = name.lowercased()
        return try await write { connection in
            try await Self.any(try await connection.query("DELETE FROM mailnode_users WHERE name = \(name) RETURNING name", logger: logger))
        }
    }

    public func all() async throws -> [MailUser] {
        try await client.withConnection { connection in
            var names: [String] = []
            for try await name in try await connection.query("SELECT name FROM mailnode_users ORDER BY name", logger: logger)
                .decode(String.self) { names.append(name) }
            var users: [MailUser] = []
            for name in names {
                if let user = try await Self.read(connection, name: name, logger: logger) { users.append(user) }
            }
            return users
        }
    }

    // MARK: - Parts

    /// A change under the directory's advisory lock; the closure's own error comes out as itself.
    private func write<T: Sendable>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        do {
            return try await client.withTransaction(logger: logger) { connection in
                try await connection.query("SELECT pg_advisory_xact_lock(\(Self.writeLock))", logger: logger)
                return try await body(connection)
            }
        } catch let error as PostgresTransactionError {
            if error.rollbackError == nil, let closureError = error.closureError { throw closureError }
            throw error
        }
    }

    private static func read(_ connection: PostgresConnection, name: String, logger: Logger) async throws -> MailUser? {
        let rows = try await connection.query("SELECT name, password, disabled, created FROM mailnode_users WHERE name = \(name)",
                                              logger: logger)
        var found: (String, String, Bool, Int64)?
        for try await row in rows.decode((String, String, Bool, Int64).self) { found = row }
        guard let (name, password, disabled, created) = found else { return nil }
        var aliases: [String] = []
        for try await alias in try await connection.query("SELECT address FROM mailnode_aliases WHERE owner = \(name) ORDER BY address",
                                                         logger: logger).decode(String.self) { aliases.append(alias) }
        return MailUser(name: name, passwordHash: password, aliases: aliases, disabled: disabled,
                        created: Date(timeIntervalSince1970: Double(created) / 1000))
    }

    /// The owner of an address (a name or an alias), if any.
    private static func owner(_ connection: PostgresConnection, address: String, logger: Logger) async throws -> String? {
        let rows = try await connection.query("""
            SELECT name FROM mailnode_users WHERE name = \(address)
            UNION ALL SELECT owner FROM mailnode_aliases WHERE address = \(address)
            LIMIT 1
            """, logger: logger)
        for try await owner in rows.decode(String.self) { return owner }
        return nil
    }

    private static func any(_ rows: PostgresRowSequence) async throws -> Bool {
        var found = false
        for try await _ in rows { found = true }
        return found
    }
}
