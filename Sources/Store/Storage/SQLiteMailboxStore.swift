import Foundation
import GRDB
import NIOPosix

/// The embedded ``MailboxStore``: one SQLite database per node (`store.sqlite`, WAL,
/// `synchronous = FULL` so that a commit is on disk when it returns) holding mailboxes,
/// messages, flags, UIDs, quota usage and the deduplication pairs, and one file per message
/// body beside it (``BodyFiles``). Why this split and not Maildir or blobs: docs/store.md.
///
/// A body written once serves every recipient of one delivery (and later IMAP COPY): the
/// `bodies` table counts its references, and the file goes when the last message using it does.
public final class SQLiteMailboxStore: MailboxStore {
    public let directory: String
    let files: BodyFiles
    private let pool: DatabasePool

    /// Opens (creating) `<directory>/store.sqlite` and the body directories.
    public init(directory: String, threadPool: NIOThreadPool = .singleton, busyTimeout: Duration = .seconds(10)) throws {
        self.directory = directory
        files = BodyFiles(root: directory, threadPool: threadPool)
        try files.prepare()
        var configuration = Configuration()
        configuration.busyMode = .timeout(TimeInterval(busyTimeout.components.seconds))
        configuration.label = "mailnode.store"
        configuration.foreignKeysEnabled = true
        configuration.prepareDatabase { db in
            // WAL's default NORMAL does not fsync at each commit: a crash could lose an
            // acknowledged delivery. FULL does (DESIGN.md §3.1).
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        pool = try DatabasePool(path: directory + "/store.sqlite", configuration: configuration)
        try Self.migrator.migrate(pool)
        try? FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: directory + "/store.sqlite")
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("store-v1") { db in
            try db.execute(sql: """
                CREATE TABLE mailboxes (
                    id            INTEGER PRIMARY KEY,
                    user          TEXT    NOT NULL,
                    name          TEXT    NOT NULL,
                    special_use   TEXT,
                    uidvalidity   INTEGER NOT NULL,
                    uidnext       INTEGER NOT NULL DEFAULT 1,
                    highestmodseq INTEGER NOT NULL DEFAULT 1,
                    subscribed    INTEGER NOT NULL DEFAULT 1,
                    UNIQUE (user, name)
                );
                CREATE TABLE bodies (
                    id   TEXT    NOT NULL PRIMARY KEY,
                    size INTEGER NOT NULL,
                    refs INTEGER NOT NULL
                ) WITHOUT ROWID;
                CREATE TABLE messages (
                    mailbox       INTEGER NOT NULL REFERENCES mailboxes(id),
                    uid           INTEGER NOT NULL,
                    body          TEXT    NOT NULL REFERENCES bodies(id),
                    size          INTEGER NOT NULL,
                    internal_date INTEGER NOT NULL,
                    flags         TEXT    NOT NULL DEFAULT '',
                    modseq        INTEGER NOT NULL,
                    PRIMARY KEY (mailbox, uid)
                ) WITHOUT ROWID;
                CREATE TABLE usage (
                    user     TEXT    NOT NULL PRIMARY KEY,
                    bytes    INTEGER NOT NULL DEFAULT 0,
                    messages INTEGER NOT NULL DEFAULT 0
                ) WITHOUT ROWID;
                CREATE TABLE delivered (
                    key  TEXT    NOT NULL,
                    user TEXT    NOT NULL,
                    at   INTEGER NOT NULL,
                    PRIMARY KEY (key, user)
                ) WITHOUT ROWID;
                CREATE INDEX delivered_at ON delivered (at);
                """)
        }
        return migrator
    }

    // MARK: - Receiving

    public func stage() throws -> any BodyWriter { FileBodyWriter(files: files) }

    public func discard(_ body: StagedBody) async {
        let path = files.path(of: body.id)
        _ = try? await files.threadPool.runIfActive { BodyFiles.remove(path) }
    }

    public func deliver(_ body: StagedBody, to targets: [DeliveryTarget], deduplicationKey: String?,
                        allOrNothing: Bool) async throws -> [DeliveryOutcome] {
        let now = Date()
        let outcomes: [DeliveryOutcome]
        do {
            outcomes = try await pool.write { db -> [DeliveryOutcome] in
                var outcomes: [DeliveryOutcome] = []
                var usages: [QuotaUsage] = []
                for target in targets {
                    try Self.ensureDefaults(db, user: target.user)
                    let usage = try Self.usage(db, user: target.user)
                    usages.append(usage)
                    if let key = deduplicationKey,
                       try Bool.fetchOne(db, sql: "SELECT 1 FROM delivered WHERE key = ? AND user = ?", arguments: [key, target.user]) == true {
                        outcomes.append(.duplicate)
                    } else if target.quota.exceeded(by: usage, adding: Int64(body.size)) {
                        outcomes.append(.overQuota(usage))
                    } else {
                        outcomes.append(.stored(uid: 0, usage: usage, before: usage))
                    }
                }
                let failed = outcomes.contains { if case .overQuota = $0 { return true } else { return false } }
                if allOrNothing, failed {
                    return outcomes.map { if case .stored = $0 { return .notAttempted } else { return $0 } }
                }
                let storing = outcomes.indices.filter { if case .stored = outcomes[$0] { return true } else { return false } }
                guard !storing.isEmpty else { return outcomes }
                try db.execute(sql: "INSERT INTO bodies (id, size, refs) VALUES (?, ?, ?)", arguments: [body.id, body.size, storing.count])
                for index in storing {
                    let user = targets[index].user
                    guard let inbox = try Row.fetchOne(db, sql: "SELECT id, uidnext, highestmodseq FROM mailboxes WHERE user = ? AND name = 'INBOX'",
                                                       arguments: [user]) else { throw StoreError.noInbox(user) }
                    let mailbox: Int64 = inbox["id"], uid: Int64 = inbox["uidnext"], modseq: Int64 = inbox["highestmodseq"] + 1
                    try db.execute(sql: "UPDATE mailboxes SET uidnext = ?, highestmodseq = ? WHERE id = ?", arguments: [uid + 1, modseq, mailbox])
                    try db.execute(sql: """
                        INSERT INTO messages (mailbox, uid, body, size, internal_date, flags, modseq) VALUES (?, ?, ?, ?, ?, '', ?)
                        """, arguments: [mailbox, uid, body.id, body.size, Int64(now.timeIntervalSince1970 * 1000), modseq])
                    try db.execute(sql: """
                        INSERT INTO usage (user, bytes, messages) VALUES (?, ?, 1)
                        ON CONFLICT (user) DO UPDATE SET bytes = bytes + excluded.bytes, messages = messages + 1
                        """, arguments: [user, body.size])
                    if let key = deduplicationKey {
                        try db.execute(sql: "INSERT INTO delivered (key, user, at) VALUES (?, ?, ?)",
                                       arguments: [key, user, Int64(now.timeIntervalSince1970)])
                    }
                    let before = usages[index]
                    outcomes[index] = .stored(uid: UInt32(uid), usage: QuotaUsage(bytes: before.bytes + Int64(body.size), messages: before.messages + 1),
                                              before: before)
                }
                return outcomes
            }
        } catch {
            await discard(body)
            throw error
        }
        if !outcomes.contains(where: { if case .stored = $0 { return true } else { return false } }) {
            await discard(body)
        }
        return outcomes
    }

    // MARK: - Mailboxes

    /// Creates the default folders of a user who has none.
    private static func ensureDefaults(_ db: Database, user: String) throws {
        guard try Int.fetchOne(db, sql: "SELECT count(*) FROM mailboxes WHERE user = ?", arguments: [user]) == 0 else { return }
        for folder in MailboxInfo.defaults {
            try insertMailbox(db, user: user, name: folder.name, specialUse: folder.specialUse)
        }
    }

    /// A new mailbox with a UIDVALIDITY above every one given before (RFC 3501 §2.3.1.1: a
    /// recreated name must not reuse one), starting at the current time.
    @discardableResult
    private static func insertMailbox(_ db: Database, user: String, name: String, specialUse: SpecialUse?) throws -> Int64 {
        let highest = try Int64.fetchOne(db, sql: "SELECT max(uidvalidity) FROM mailboxes") ?? 0
        let validity = max(Int64(Date().timeIntervalSince1970) & 0xFFFF_FFFF, highest + 1)
        try db.execute(sql: "INSERT INTO mailboxes (user, name, special_use, uidvalidity) VALUES (?, ?, ?, ?)",
                       arguments: [user, name, specialUse?.rawValue, validity])
        return db.lastInsertedRowID
    }

    private static func mailbox(_ row: Row) -> MailboxInfo {
        MailboxInfo(id: row["id"], user: row["user"], name: row["name"],
                    specialUse: (row["special_use"] as String?).flatMap(SpecialUse.init(rawValue:)),
                    uidValidity: UInt32(row["uidvalidity"] as Int64), uidNext: UInt32(row["uidnext"] as Int64),
                    highestModSeq: UInt64(row["highestmodseq"] as Int64), subscribed: row["subscribed"] as Bool)
    }

    private static func usage(_ db: Database, user: String) throws -> QuotaUsage {
        guard let row = try Row.fetchOne(db, sql: "SELECT bytes, messages FROM usage WHERE user = ?", arguments: [user]) else { return QuotaUsage() }
        return QuotaUsage(bytes: row["bytes"], messages: row["messages"])
    }

    public func mailboxes(user: String) async throws -> [MailboxInfo] {
        let user = user.lowercased()
        return try await pool.write { db in
            try Self.ensureDefaults(db, user: user)
            // INBOX first, then by name.
            return try Row.fetchAll(db, sql: "SELECT * FROM mailboxes WHERE user = ? ORDER BY name != 'INBOX', name", arguments: [user])
                .map(Self.mailbox)
        }
    }

    public func mailbox(user: String, name: String) async throws -> MailboxInfo? {
        let user = user.lowercased()
        let name = name.uppercased() == "INBOX" ? "INBOX" : name
        return try await pool.write { db in
            try Self.ensureDefaults(db, user: user)
            return try Row.fetchOne(db, sql: "SELECT * FROM mailboxes WHERE user = ? AND name = ?", arguments: [user, name]).map(Self.mailbox)
        }
    }

    public func createMailbox(user: String, name: String, specialUse: SpecialUse?) async throws -> MailboxInfo {
        let user = user.lowercased()
        return try await pool.write { db in
            try Self.ensureDefaults(db, user: user)
            guard try Row.fetchOne(db, sql: "SELECT 1 FROM mailboxes WHERE user = ? AND name = ?", arguments: [user, name]) == nil else {
                throw StoreError.mailboxExists(name)
            }
            let id = try Self.insertMailbox(db, user: user, name: name, specialUse: specialUse)
            return try Row.fetchOne(db, sql: "SELECT * FROM mailboxes WHERE id = ?", arguments: [id]).map(Self.mailbox)!
        }
    }

    public func messages(in mailboxID: Int64) async throws -> [StoredMessage] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM messages WHERE mailbox = ? ORDER BY uid", arguments: [mailboxID]).map { row in
                let flags: String = row["flags"]
                return StoredMessage(mailboxID: row["mailbox"], uid: UInt32(row["uid"] as Int64), size: row["size"],
                                     internalDate: Date(timeIntervalSince1970: Double(row["internal_date"] as Int64) / 1000),
                                     flags: flags.split(separator: " ").map(String.init), modSeq: UInt64(row["modseq"] as Int64),
                                     bodyID: row["body"])
            }
        }
    }

    @discardableResult
    public func expunge(_ uids: [UInt32], from mailboxID: Int64) async throws -> Int {
        guard !uids.isEmpty else { return 0 }
        let (removed, unreferenced) = try await pool.write { db -> (Int, [String]) in
            guard let user = try String.fetchOne(db, sql: "SELECT user FROM mailboxes WHERE id = ?", arguments: [mailboxID]) else { return (0, []) }
            var removed = 0
            var bytes: Int64 = 0
            var unreferenced: [String] = []
            for uid in uids {
                guard let row = try Row.fetchOne(db, sql: "SELECT body, size FROM messages WHERE mailbox = ? AND uid = ?",
                                                 arguments: [mailboxID, Int64(uid)]) else { continue }
                let body: String = row["body"]
                try db.execute(sql: "DELETE FROM messages WHERE mailbox = ? AND uid = ?", arguments: [mailboxID, Int64(uid)])
                removed += 1
                bytes += row["size"] as Int64
                try db.execute(sql: "UPDATE bodies SET refs = refs - 1 WHERE id = ?", arguments: [body])
                if try Int64.fetchOne(db, sql: "SELECT refs FROM bodies WHERE id = ?", arguments: [body]) ?? 0 <= 0 {
                    try db.execute(sql: "DELETE FROM bodies WHERE id = ?", arguments: [body])
                    unreferenced.append(body)
                }
            }
            if removed > 0 {
                try db.execute(sql: "UPDATE mailboxes SET highestmodseq = highestmodseq + 1 WHERE id = ?", arguments: [mailboxID])
                try db.execute(sql: "UPDATE usage SET bytes = max(0, bytes - ?), messages = max(0, messages - ?) WHERE user = ?",
                               arguments: [bytes, removed, user])
            }
            return (removed, unreferenced)
        }
        // After the commit: a crash before this leaves files that the next start's sweep removes.
        let paths = unreferenced.map(files.path(of:))
        if !paths.isEmpty { _ = try? await files.threadPool.runIfActive { for path in paths { BodyFiles.remove(path) } } }
        return removed
    }

    public func usage(user: String) async throws -> QuotaUsage {
        let user = user.lowercased()
        return try await pool.read { db in try Self.usage(db, user: user) }
    }

    public func bodyPath(_ id: String) -> String { files.path(of: id) }

    @discardableResult
    public func purgeDeduplication(before date: Date) async throws -> Int {
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM delivered WHERE at < ?", arguments: [Int64(date.timeIntervalSince1970)])
            return db.changesCount
        }
    }

    // MARK: - Start-up

    /// Removes bodies being received when the process stopped (`tmp/`) and durable body files
    /// no message references (a crash between the file's fsync and the database commit, or
    /// after an expunge's commit). Run at start, before the listeners; returns the files removed.
    @discardableResult
    public func sweep() async throws -> Int {
        let known = try await pool.read { db in Set(try String.fetchAll(db, sql: "SELECT id FROM bodies")) }
        let files = self.files
        return try await files.threadPool.runIfActive {
            let manager = FileManager.default
            var removed = 0
            for name in (try? manager.contentsOfDirectory(atPath: files.tmpDirectory)) ?? [] {
                BodyFiles.remove(files.tmpDirectory + "/" + name)
                removed += 1
            }
            for bucket in (try? manager.contentsOfDirectory(atPath: files.messagesDirectory)) ?? [] {
                let directory = files.messagesDirectory + "/" + bucket
                for name in (try? manager.contentsOfDirectory(atPath: directory)) ?? [] where !known.contains(name) {
                    BodyFiles.remove(directory + "/" + name)
                    removed += 1
                }
            }
            return removed
        }
    }
}

/// Store failures that are not file-system errors.
public enum StoreError: Error, Sendable, Hashable, CustomStringConvertible {
    case noInbox(String)
    case mailboxExists(String)

    public var description: String {
        switch self {
        case .noInbox(let user): "user \(user) has no INBOX"
        case .mailboxExists(let name): "mailbox \(name) exists"
        }
    }
}
