import Defenses
import Foundation
import GRDB

/// The node's users (``UserDirectory``) in one SQLite file through GRDB, by default
/// `<spool>/defenses/users.sqlite` beside the state store (`mailnode users …` manages it).
///
/// Names and aliases share one address space: adding a user or an alias that is already some
/// user's name or alias is refused, inside the same write transaction, so two administrators
/// cannot both take one address. Removing a user removes its aliases.
public final class SQLiteUserDirectory: UserDirectory {
    public let path: String
    private let pool: DatabasePool

    public init(path: String, busyTimeout: Duration = .seconds(5)) throws {
        self.path = path
        var configuration = Configuration()
        configuration.busyMode = .timeout(TimeInterval(busyTimeout.components.seconds))
        configuration.label = "mailnode.users"
        configuration.foreignKeysEnabled = true
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
        pool = try DatabasePool(path: path, configuration: configuration)
        try Self.migrator.migrate(pool)
        // The file holds password hashes: owner only.
        try? FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path)
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("users-v1") { db in
            try db.execute(sql: """
                CREATE TABLE mailnode_users (
                    name     TEXT    NOT NULL PRIMARY KEY,
                    password TEXT    NOT NULL,
                    disabled INTEGER NOT NULL DEFAULT 0,
                    created  INTEGER NOT NULL
                ) WITHOUT ROWID;
                CREATE TABLE mailnode_aliases (
                    address TEXT NOT NULL PRIMARY KEY,
                    user    TEXT NOT NULL REFERENCES mailnode_users(name) ON DELETE CASCADE
                ) WITHOUT ROWID;
                CREATE INDEX mailnode_aliases_user ON mailnode_aliases (user);
                """)
        }
        return migrator
    }

    private static func read(_ db: Database, name: String) throws -> MailUser? {
        guard let row = try Row.fetchOne(db, sql: "SELECT name, password, disabled, created FROM mailnode_users WHERE name = ?",
                                         arguments: [name]) else { return nil }
        let aliases = try String.fetchAll(db, sql: "SELECT address FROM mailnode_aliases WHERE user = ? ORDER BY address", arguments: [name])
        return MailUser(name: row["name"], passwordHash: row["password"], aliases: aliases, disabled: row["disabled"] as Bool,
                        created: Date(timeIntervalSince1970: Double(row["created"] as Int64) / 1000))
    }

    /// The owner of an address (a name or an alias), if any.
    private static func owner(_ db: Database, address: String) throws -> String? {
        if try String.fetchOne(db, sql: "SELECT name FROM mailnode_users WHERE name = ?", arguments: [address]) != nil { return address }
        return try String.fetchOne(db, sql: "SELECT user FROM mailnode_aliases WHERE address = ?", arguments: [address])
    }

    public func user(named name: String) async throws -> MailUser? {
        try await pool.read { db in try Self.read(db, name: name.lowercased()) }
    }

    public func user(forAddress address: String) async throws -> MailUser? {
        try await pool.read { db in
            guard let owner = try Self.owner(db, address: address.lowercased()) else { return nil }
            return try Self.read(db, name: owner)
        }
    }

    public func add(_ user: MailUser) async throws {
        try await pool.write { db in
            for address in [user.name] + user.aliases {
                if let owner = try Self.owner(db, address: address) {
                    throw owner == user.name && address == user.name ? UserDirectoryError.exists(user.name)
                        : UserDirectoryError.addressTaken(address, by: owner)
                }
            }
            try db.execute(sql: "INSERT INTO mailnode_users (name, password, disabled, created) VALUES (?, ?, ?, ?)",
                           arguments: [user.name, user.passwordHash, user.disabled, Int64(user.created.timeIntervalSince1970 * 1000)])
            for alias in Set(user.aliases) {
                try db.execute(sql: "INSERT INTO mailnode_aliases (address, user) VALUES (?, ?)", arguments: [alias, user.name])
            }
        }
    }

    public func setPasswordHash(_ hash: String, for name: String) async throws {
        try await pool.write { db in
            try db.execute(sql: "UPDATE mailnode_users SET password = ? WHERE name = ?", arguments: [hash, name.lowercased()])
            if db.changesCount == 0 { throw UserDirectoryError.noSuchUser(name) }
        }
    }

    public func setAliases(_ aliases: [String], for name: String) async throws {
        let name = name.lowercased()
        try await pool.write { db in
            guard try Self.read(db, name: name) != nil else { throw UserDirectoryError.noSuchUser(name) }
            try db.execute(sql: "DELETE FROM mailnode_aliases WHERE user = ?", arguments: [name])
            for alias in Set(aliases.map { $0.lowercased() }) {
                if let owner = try Self.owner(db, address: alias) { throw UserDirectoryError.addressTaken(alias, by: owner) }
                try db.execute(sql: "INSERT INTO mailnode_aliases (address, user) VALUES (?, ?)", arguments: [alias, name])
            }
        }
    }

    public func setDisabled(_ disabled: Bool, for name: String) async throws {
        try await pool.write { db in
            try db.execute(sql: "UPDATE mailnode_users SET disabled = ? WHERE name = ?", arguments: [disabled, name.lowercased()])
            if db.changesCount == 0 { throw UserDirectoryError.noSuchUser(name) }
        }
    }

    public func remove(_ name: String) async throws -> Bool {
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM mailnode_users WHERE name = ?", arguments: [name.lowercased()])
            return db.changesCount > 0
        }
    }

    public func all() async throws -> [MailUser] {
        try await pool.read { db in
            try String.fetchAll(db, sql: "SELECT name FROM mailnode_users ORDER BY name").compactMap { try Self.read(db, name: $0) }
        }
    }
}
