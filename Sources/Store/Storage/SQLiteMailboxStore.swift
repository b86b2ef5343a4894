import Foundation
import GRDB
import NIOPosix

/// The embedded ``MailboxStore``: one SQLite database per node (`store.sqlite`, WAL,
/// `synchronous = FULL` so that a commit is on disk when it returns) holding mailboxes,
/// messages, flags, UIDs, quota usage and the deduplication pairs, and one file per message
/// body beside it (``BodyFiles``). Why this split and not Maildir or blobs: docs/store.md.
///
/// A body written once serves every recipient of one delivery and every IMAP COPY of it: the
/// `bodies` table counts its references, and the file goes when the last message using it does.
public final class SQLiteMailboxStore: MailboxStore {
    public let directory: String
    let files: BodyFiles
    private let pool: DatabasePool
    public let changes = MailboxChanges()

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
        let touched: [Int64]
        do {
            (outcomes, touched) = try await pool.write { db -> ([DeliveryOutcome], [Int64]) in
                var touched: [Int64] = []
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
                    return (outcomes.map { if case .stored = $0 { return .notAttempted } else { return $0 } }, [])
                }
                let storing = outcomes.indices.filter { if case .stored = outcomes[$0] { return true } else { return false } }
                guard !storing.isEmpty else { return (outcomes, []) }
                try db.execute(sql: "INSERT INTO bodies (id, size, refs) VALUES (?, ?, ?)", arguments: [body.id, body.size, storing.count])
                for index in storing {
                    let user = targets[index].user
                    guard let inbox = try Row.fetchOne(db, sql: "SELECT id, uidnext, highestmodseq FROM mailboxes WHERE user = ? AND name = 'INBOX'",
                                                       arguments: [user]) else { throw StoreError.noInbox(user) }
                    let mailbox: Int64 = inbox["id"], uid: Int64 = inbox["uidnext"], modseq: Int64 = inbox["highestmodseq"] + 1
                    touched.append(mailbox)
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
                return (outcomes, touched)
            }
        } catch {
            await discard(body)
            throw error
        }
        if !outcomes.contains(where: { if case .stored = $0 { return true } else { return false } }) {
            await discard(body)
        }
        for mailbox in touched { changes.post(mailbox) }
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

    public func mailbox(id: Int64) async throws -> MailboxInfo? {
        try await pool.read { db in try Row.fetchOne(db, sql: "SELECT * FROM mailboxes WHERE id = ?", arguments: [id]).map(Self.mailbox) }
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
            try Row.fetchAll(db, sql: "SELECT * FROM messages WHERE mailbox = ? ORDER BY uid", arguments: [mailboxID]).map(Self.message)
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
                if try Self.release(db, body: body) { unreferenced.append(body) }
            }
            if removed > 0 {
                try db.execute(sql: "UPDATE mailboxes SET highestmodseq = highestmodseq + 1 WHERE id = ?", arguments: [mailboxID])
                try db.execute(sql: "UPDATE usage SET bytes = max(0, bytes - ?), messages = max(0, messages - ?) WHERE user = ?",
                               arguments: [bytes, removed, user])
            }
            return (removed, unreferenced)
        }
        // After the commit: a crash before this leaves files that the next start's sweep removes.
        await remove(unreferenced)
        if removed > 0 { changes.post(mailboxID) }
        return removed
    }

    /// Deletes body files after the commit that dropped their last reference.
    private func remove(_ unreferenced: [String]) async {
        let paths = unreferenced.map(files.path(of:))
        if !paths.isEmpty { _ = try? await files.threadPool.runIfActive { for path in paths { BodyFiles.remove(path) } } }
    }

    /// Drops one reference to `body` inside a transaction; true when nobody references it now.
    private static func release(_ db: Database, body: String) throws -> Bool {
        try db.execute(sql: "UPDATE bodies SET refs = refs - 1 WHERE id = ?", arguments: [body])
        guard try Int64.fetchOne(db, sql: "SELECT refs FROM bodies WHERE id = ?", arguments: [body]) ?? 0 <= 0 else { return false }
        try db.execute(sql: "DELETE FROM bodies WHERE id = ?", arguments: [body])
        return true
    }

    private static func message(_ row: Row) -> StoredMessage {
        let flags: String = row["flags"]
        return StoredMessage(mailboxID: row["mailbox"], uid: UInt32(row["uid"] as Int64), size: row["size"],
                             internalDate: Date(timeIntervalSince1970: Double(row["internal_date"] as Int64) / 1000),
                             flags: flags.split(separator: " ").map(String.init), modSeq: UInt64(row["modseq"] as Int64),
                             bodyID: row["body"])
    }

    // MARK: - IMAP changes

    public func append(_ body: StagedBody, to mailboxID: Int64, flags: [String], internalDate: Date,
                       quota: QuotaLimits) async throws -> AppendOutcome {
        let outcome: AppendOutcome
        do {
            outcome = try await pool.write { db -> AppendOutcome in
                guard let box = try Row.fetchOne(db, sql: "SELECT * FROM mailboxes WHERE id = ?", arguments: [mailboxID]).map(Self.mailbox) else {
                    throw StoreError.noMailbox(String(mailboxID))
                }
                let usage = try Self.usage(db, user: box.user)
                if quota.exceeded(by: usage, adding: Int64(body.size)) { return .overQuota(usage) }
                try db.execute(sql: "INSERT INTO bodies (id, size, refs) VALUES (?, ?, 1)", arguments: [body.id, body.size])
                let uid = try Self.insertMessage(db, mailbox: box, body: body.id, size: body.size, date: internalDate,
                                                 flags: FlagChange.replace(flags).applied(to: []))
                return .stored(uidValidity: box.uidValidity, uid: uid)
            }
        } catch {
            await discard(body)
            throw error
        }
        if case .overQuota = outcome { await discard(body) } else { changes.post(mailboxID) }
        return outcome
    }

    /// Files one message under the mailbox's next UID and counts it in the owner's usage.
    private static func insertMessage(_ db: Database, mailbox: MailboxInfo, body: String, size: Int, date: Date,
                                      flags: [String]) throws -> UInt32 {
        guard let row = try Row.fetchOne(db, sql: "SELECT uidnext, highestmodseq FROM mailboxes WHERE id = ?", arguments: [mailbox.id]) else {
            throw StoreError.noMailbox(mailbox.name)
        }
        let uid: Int64 = row["uidnext"], modseq: Int64 = row["highestmodseq"] + 1
        try db.execute(sql: "UPDATE mailboxes SET uidnext = ?, highestmodseq = ? WHERE id = ?", arguments: [uid + 1, modseq, mailbox.id])
        try db.execute(sql: "INSERT INTO messages (mailbox, uid, body, size, internal_date, flags, modseq) VALUES (?, ?, ?, ?, ?, ?, ?)",
                       arguments: [mailbox.id, uid, body, size, Int64(date.timeIntervalSince1970 * 1000), flags.joined(separator: " "), modseq])
        try db.execute(sql: """
            INSERT INTO usage (user, bytes, messages) VALUES (?, ?, 1)
            ON CONFLICT (user) DO UPDATE SET bytes = bytes + excluded.bytes, messages = messages + 1
            """, arguments: [mailbox.user, size])
        return UInt32(uid)
    }

    public func updateFlags(_ uids: [UInt32], in mailboxID: Int64, _ change: FlagChange) async throws -> [StoredMessage] {
        guard !uids.isEmpty else { return [] }
        let (result, changed) = try await pool.write { db -> ([StoredMessage], Bool) in
            var result: [StoredMessage] = []
            var modseq = try Int64.fetchOne(db, sql: "SELECT highestmodseq FROM mailboxes WHERE id = ?", arguments: [mailboxID]) ?? 0
            let start = modseq
            for uid in uids {
                guard var message = try Row.fetchOne(db, sql: "SELECT * FROM messages WHERE mailbox = ? AND uid = ?",
                                                     arguments: [mailboxID, Int64(uid)]).map(Self.message) else { continue }
                let flags = change.applied(to: message.flags)
                if flags != message.flags {
                    modseq += 1
                    try db.execute(sql: "UPDATE messages SET flags = ?, modseq = ? WHERE mailbox = ? AND uid = ?",
                                   arguments: [flags.joined(separator: " "), modseq, mailboxID, Int64(uid)])
                    message.flags = flags
                    message.modSeq = UInt64(modseq)
                }
                result.append(message)
            }
            if modseq != start {
                try db.execute(sql: "UPDATE mailboxes SET highestmodseq = ? WHERE id = ?", arguments: [modseq, mailboxID])
            }
            return (result, modseq != start)
        }
        if changed { changes.post(mailboxID) }
        return result
    }

    public func copy(_ uids: [UInt32], from source: Int64, to target: Int64, move: Bool, quota: QuotaLimits) async throws -> CopyOutcome {
        let (outcome, unreferenced) = try await pool.write { db -> (CopyOutcome, [String]) in
            guard let box = try Row.fetchOne(db, sql: "SELECT * FROM mailboxes WHERE id = ?", arguments: [target]).map(Self.mailbox) else {
                throw StoreError.noMailbox(String(target))
            }
            var messages: [StoredMessage] = []
            for uid in uids.sorted() {
                if let message = try Row.fetchOne(db, sql: "SELECT * FROM messages WHERE mailbox = ? AND uid = ?",
                                                  arguments: [source, Int64(uid)]).map(Self.message) { messages.append(message) }
            }
            // A move within one user changes nothing in the usage; a copy adds every message.
            if !move || source == target {
                let usage = try Self.usage(db, user: box.user)
                let bytes = messages.reduce(Int64(0)) { $0 + Int64($1.size) }
                let limits = quota
                if (limits.bytes > 0 && usage.bytes + bytes > limits.bytes)
                    || (limits.messages > 0 && usage.messages + Int64(messages.count) > limits.messages) {
                    return (.overQuota(usage), [])
                }
            }
            var pairs: [UIDPair] = []
            var unreferenced: [String] = []
            for message in messages {
                try db.execute(sql: "UPDATE bodies SET refs = refs + 1 WHERE id = ?", arguments: [message.bodyID])
                let uid = try Self.insertMessage(db, mailbox: box, body: message.bodyID, size: message.size, date: message.internalDate,
                                                 flags: message.flags)
                pairs.append(UIDPair(source: message.uid, target: uid))
            }
            if move, !messages.isEmpty {
                for message in messages {
                    try db.execute(sql: "DELETE FROM messages WHERE mailbox = ? AND uid = ?", arguments: [source, Int64(message.uid)])
                    if try Self.release(db, body: message.bodyID) { unreferenced.append(message.bodyID) }
                }
                let bytes = messages.reduce(Int64(0)) { $0 + Int64($1.size) }
                try db.execute(sql: "UPDATE mailboxes SET highestmodseq = highestmodseq + 1 WHERE id = ?", arguments: [source])
                try db.execute(sql: "UPDATE usage SET bytes = max(0, bytes - ?), messages = max(0, messages - ?) WHERE user = (SELECT user FROM mailboxes WHERE id = ?)",
                               arguments: [bytes, messages.count, source])
            }
            return (.copied(uidValidity: box.uidValidity, pairs: pairs), unreferenced)
        }
        await remove(unreferenced)
        if case .copied(_, let pairs) = outcome, !pairs.isEmpty {
            changes.post(target)
            if move { changes.post(source) }
        }
        return outcome
    }

    public func deleteMailbox(_ id: Int64) async throws {
        let unreferenced = try await pool.write { db -> [String] in
            guard let box = try Row.fetchOne(db, sql: "SELECT * FROM mailboxes WHERE id = ?", arguments: [id]).map(Self.mailbox) else {
                throw StoreError.noMailbox(String(id))
            }
            guard box.name != "INBOX" else { throw StoreError.inboxProtected }
            let messages = try Row.fetchAll(db, sql: "SELECT * FROM messages WHERE mailbox = ?", arguments: [id]).map(Self.message)
            try db.execute(sql: "DELETE FROM messages WHERE mailbox = ?", arguments: [id])
            var unreferenced: [String] = []
            for message in messages where try Self.release(db, body: message.bodyID) { unreferenced.append(message.bodyID) }
            try db.execute(sql: "DELETE FROM mailboxes WHERE id = ?", arguments: [id])
            try db.execute(sql: "UPDATE usage SET bytes = max(0, bytes - ?), messages = max(0, messages - ?) WHERE user = ?",
                           arguments: [messages.reduce(Int64(0)) { $0 + Int64($1.size) }, messages.count, box.user])
            return unreferenced
        }
        await remove(unreferenced)
        changes.post(id)
    }

    public func renameMailbox(_ id: Int64, to name: String) async throws {
        try await pool.write { db in
            guard let box = try Row.fetchOne(db, sql: "SELECT * FROM mailboxes WHERE id = ?", arguments: [id]).map(Self.mailbox) else {
                throw StoreError.noMailbox(String(id))
            }
            guard box.name != "INBOX", name.uppercased() != "INBOX" else { throw StoreError.inboxProtected }
            guard try Row.fetchOne(db, sql: "SELECT 1 FROM mailboxes WHERE user = ? AND name = ?", arguments: [box.user, name]) == nil else {
                throw StoreError.mailboxExists(name)
            }
            let children = try Row.fetchAll(db, sql: "SELECT id, name FROM mailboxes WHERE user = ? AND substr(name, 1, ?) = ?",
                                            arguments: [box.user, box.name.count + 1, box.name + "/"])
            // RFC 3501 §6.3.5: UIDVALIDITY stays; the name moves with its messages.
            try db.execute(sql: "UPDATE mailboxes SET name = ? WHERE id = ?", arguments: [name, id])
            for child in children {
                let old: String = child["name"]
                try db.execute(sql: "UPDATE mailboxes SET name = ? WHERE id = ?",
                               arguments: [name + old.dropFirst(box.name.count), child["id"] as Int64])
            }
        }
    }

    public func setSubscribed(_ id: Int64, _ subscribed: Bool) async throws {
        try await pool.write { db in
            try db.execute(sql: "UPDATE mailboxes SET subscribed = ? WHERE id = ?", arguments: [subscribed, id])
        }
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
    case noMailbox(String)
    /// INBOX cannot be deleted or renamed here.
    case inboxProtected

    public var description: String {
        switch self {
        case .noInbox(let user): "user \(user) has no INBOX"
        case .mailboxExists(let name): "mailbox \(name) exists"
        case .noMailbox(let name): "no mailbox \(name)"
        case .inboxProtected: "INBOX cannot be deleted or renamed"
        }
    }
}
