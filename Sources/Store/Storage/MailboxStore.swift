import Foundation
import NIOConcurrencyHelpers
import NIOCore

/// RFC 6154 special-use attributes of the default folders.
public enum SpecialUse: String, Sendable, Hashable, CaseIterable, Codable {
    case sent = "\\Sent"
    case drafts = "\\Drafts"
    case junk = "\\Junk"
    case trash = "\\Trash"
    case archive = "\\Archive"
}

/// One folder of one user, with what IMAP needs to keep UIDs stable (RFC 3501 §2.3.1.1).
public struct MailboxInfo: Sendable, Hashable {
    public var id: Int64
    /// The owner's user name (``Defenses/MailUser/name``).
    public var user: String
    /// `INBOX` or a user folder name (`/`-separated hierarchy).
    public var name: String
    public var specialUse: SpecialUse?
    /// Changes whenever UIDs of this name could repeat (the mailbox was recreated).
    public var uidValidity: UInt32
    /// The UID the next message gets; UIDs only grow.
    public var uidNext: UInt32
    /// The modification sequence of the last change (RFC 7162 CONDSTORE).
    public var highestModSeq: UInt64
    public var subscribed: Bool

    public init(id: Int64, user: String, name: String, specialUse: SpecialUse?, uidValidity: UInt32, uidNext: UInt32,
                highestModSeq: UInt64, subscribed: Bool) {
        self.id = id
        self.user = user
        self.name = name
        self.specialUse = specialUse
        self.uidValidity = uidValidity
        self.uidNext = uidNext
        self.highestModSeq = highestModSeq
        self.subscribed = subscribed
    }

    /// The folders every user gets: INBOX and the RFC 6154 ones a client looks for.
    public static let defaults: [(name: String, specialUse: SpecialUse?)] = [
        ("INBOX", nil), ("Sent", .sent), ("Drafts", .drafts), ("Junk", .junk), ("Trash", .trash),
    ]
}

/// A message in a mailbox. The body is a file (``bodyID``) that several messages may share.
public struct StoredMessage: Sendable, Hashable {
    public var mailboxID: Int64
    public var uid: UInt32
    /// The stored octets (our trace fields plus the message as received), CRLF line ends.
    public var size: Int
    public var internalDate: Date
    /// IMAP flags (`\Seen`, `\Deleted`, keywords), sorted.
    public var flags: [String]
    public var modSeq: UInt64
    /// The body file's id.
    public var bodyID: String

    public init(mailboxID: Int64, uid: UInt32, size: Int, internalDate: Date, flags: [String], modSeq: UInt64, bodyID: String) {
        self.mailboxID = mailboxID
        self.uid = uid
        self.size = size
        self.internalDate = internalDate
        self.flags = flags
        self.modSeq = modSeq
        self.bodyID = bodyID
    }
}

/// Octets and messages a user holds, over all their folders.
public struct QuotaUsage: Sendable, Hashable {
    public var bytes: Int64
    public var messages: Int64

    public init(bytes: Int64 = 0, messages: Int64 = 0) {
        self.bytes = bytes
        self.messages = messages
    }
}

/// DM35: how much a user may hold. `0` means unlimited.
public struct QuotaLimits: Sendable, Hashable {
    public var bytes: Int64
    public var messages: Int64
    /// Usage in percent of a limit at which a warning is logged (once, when crossed).
    public var warningPercent: Int

    public init(bytes: Int64 = 0, messages: Int64 = 0, warningPercent: Int = 90) {
        self.bytes = bytes
        self.messages = messages
        self.warningPercent = warningPercent
    }

    public var isUnlimited: Bool { bytes == 0 && messages == 0 }

    /// True when `usage` plus one message of `size` octets does not fit.
    public func exceeded(by usage: QuotaUsage, adding size: Int64) -> Bool {
        (bytes > 0 && usage.bytes + size > bytes) || (messages > 0 && usage.messages + 1 > messages)
    }

    /// The larger of the two usage percentages (0 when unlimited).
    public func percent(of usage: QuotaUsage) -> Int {
        let byBytes = bytes > 0 ? Int(usage.bytes * 100 / bytes) : 0
        let byMessages = messages > 0 ? Int(usage.messages * 100 / messages) : 0
        return max(byBytes, byMessages)
    }
}

/// A message body made durable by ``MailboxStore/stage()`` and not yet in any mailbox.
public struct StagedBody: Sendable, Hashable {
    public var id: String
    public var size: Int
}

/// One recipient of a delivery: the user whose INBOX gets the message, with their limits.
public struct DeliveryTarget: Sendable, Hashable {
    public var user: String
    public var quota: QuotaLimits

    public init(user: String, quota: QuotaLimits) {
        self.user = user
        self.quota = quota
    }
}

/// What a delivery did for one ``DeliveryTarget``.
public enum DeliveryOutcome: Sendable, Hashable {
    /// Stored in the user's INBOX under this UID; `usage` is the user's usage afterwards.
    case stored(uid: UInt32, usage: QuotaUsage, before: QuotaUsage)
    /// This (Mailnode-Id, user) pair was stored before (a retried hand-off).
    case duplicate
    /// Over quota: nothing stored for this user.
    case overQuota(QuotaUsage)
    /// Not stored because another target of an all-or-nothing delivery failed.
    case notAttempted
}

/// Writes one message body while it arrives; ``finish()`` makes it durable.
public protocol BodyWriter: AnyObject, Sendable {
    /// The body's id (also the queue id in our `Received` field).
    var id: String { get }
    func write(_ chunk: ByteBuffer) async throws
    /// Writes what is pending, fsyncs the file, renames it into place and fsyncs the directory.
    func finish() async throws -> StagedBody
    /// Removes what was written.
    func abort() async
}

/// Where the store role keeps mailboxes and messages. ``SQLiteMailboxStore`` is the embedded
/// default (one SQLite database per node plus one file per message body); a PostgreSQL backend
/// implements the same calls for a cluster (docs/store.md).
///
/// Every call that changes something is one transaction. ``deliver(_:to:deduplicationKey:allOrNothing:)``
/// returns only once the messages are durable: the caller answers 250 after it.
public protocol MailboxStore: Sendable {
    /// Starts a body file for a message being received.
    func stage() throws -> any BodyWriter
    /// Forgets a staged body nobody references (every target failed).
    func discard(_ body: StagedBody) async
    /// Files `body` into each target's INBOX, checking quota and the (key, user) pairs already
    /// stored inside the same transaction. `deduplicationKey` nil: no deduplication.
    /// `allOrNothing`: when one target cannot take it, none does (one SMTP reply for all).
    func deliver(_ body: StagedBody, to targets: [DeliveryTarget], deduplicationKey: String?,
                 allOrNothing: Bool) async throws -> [DeliveryOutcome]

    /// The user's folders, creating the default ones on first use.
    func mailboxes(user: String) async throws -> [MailboxInfo]
    func mailbox(user: String, name: String) async throws -> MailboxInfo?
    /// A mailbox by id, as it is now (a read: its HIGHESTMODSEQ says whether anything changed).
    func mailbox(id: Int64) async throws -> MailboxInfo?
    func createMailbox(user: String, name: String, specialUse: SpecialUse?) async throws -> MailboxInfo
    /// Messages of a mailbox in UID order.
    func messages(in mailboxID: Int64) async throws -> [StoredMessage]
    /// Removes messages (POP3 DELE at QUIT, IMAP EXPUNGE); bodies nobody references are deleted.
    /// Returns how many were removed.
    @discardableResult
    func expunge(_ uids: [UInt32], from mailboxID: Int64) async throws -> Int
    func usage(user: String) async throws -> QuotaUsage

    /// Files a staged body into one mailbox (IMAP APPEND, RFC 3501 §6.3.11), checking `quota`
    /// in the same transaction. Returns once the commit is durable (the body was fsynced by
    /// ``BodyWriter/finish()``), so the caller's `OK` means on disk, like LMTP's 250.
    func append(_ body: StagedBody, to mailboxID: Int64, flags: [String], internalDate: Date,
                quota: QuotaLimits) async throws -> AppendOutcome
    /// Changes the flags of these messages (IMAP STORE, RFC 3501 §6.4.6); each changed message
    /// gets a new modification sequence. Returns the messages as they are afterwards (changed or not).
    func updateFlags(_ uids: [UInt32], in mailboxID: Int64, _ change: FlagChange) async throws -> [StoredMessage]
    /// Copies messages into another mailbox under new UIDs, sharing the body files (a reference
    /// each, no file copy); `move` removes the originals in the same transaction (RFC 6851).
    /// Over `quota` nothing is copied (``CopyOutcome/overQuota``).
    func copy(_ uids: [UInt32], from source: Int64, to target: Int64, move: Bool, quota: QuotaLimits) async throws -> CopyOutcome
    /// Removes a mailbox with its messages (IMAP DELETE); INBOX cannot be removed.
    func deleteMailbox(_ id: Int64) async throws
    /// Renames a mailbox and the ones below it (`old/…` → `new/…`), RFC 3501 §6.3.5.
    func renameMailbox(_ id: Int64, to name: String) async throws
    func setSubscribed(_ id: Int64, _ subscribed: Bool) async throws
    /// Where a session watching a mailbox (IMAP IDLE) learns that it changed.
    var changes: MailboxChanges { get }

    /// The file holding a body (read with ordinary file I/O, off the event loops).
    func bodyPath(_ id: String) -> String
    /// Forgets deduplication pairs recorded before `date`; returns how many.
    @discardableResult
    func purgeDeduplication(before date: Date) async throws -> Int
}

/// What ``MailboxStore/append(_:to:flags:internalDate:quota:)`` did.
public enum AppendOutcome: Sendable, Hashable {
    /// Stored under this UID (UIDPLUS APPENDUID, RFC 4315 §3).
    case stored(uidValidity: UInt32, uid: UInt32)
    case overQuota(QuotaUsage)
}

/// What ``MailboxStore/copy(_:from:to:move:quota:)`` did.
public enum CopyOutcome: Sendable, Hashable {
    /// Source UIDs and the UIDs their copies got, in source UID order (UIDPLUS COPYUID).
    case copied(uidValidity: UInt32, pairs: [UIDPair])
    case overQuota(QuotaUsage)
}

/// A message's UID in the source mailbox and its copy's UID in the target.
public struct UIDPair: Sendable, Hashable {
    public var source: UInt32
    public var target: UInt32

    public init(source: UInt32, target: UInt32) {
        self.source = source
        self.target = target
    }
}

/// A STORE operation (RFC 3501 §6.4.6): replace, add or remove flags.
public enum FlagChange: Sendable, Hashable {
    case replace([String])
    case add([String])
    case remove([String])

    /// `flags` after this change, sorted, without duplicates (system flags compare case-insensitively).
    public func applied(to flags: [String]) -> [String] {
        func key(_ flag: String) -> String { flag.lowercased() }
        var result: [String]
        switch self {
        case .replace(let new): result = new
        case .add(let new): result = flags + new.filter { flag in !flags.contains { key($0) == key(flag) } }
        case .remove(let old): result = flags.filter { flag in !old.contains { key($0) == key(flag) } }
        }
        var seen = Set<String>()
        return result.filter { seen.insert(key($0)).inserted }.sorted()
    }
}

/// Per-mailbox change notification: the store posts the mailbox id after every committed change
/// (delivery, append, copy, flags, expunge); observers (IMAP sessions in IDLE, RFC 2177) are
/// called on the posting task and hop to their own event loop.
public final class MailboxChanges: Sendable {
    public typealias Observer = @Sendable (Int64) -> Void
    private struct State {
        var next = 0
        var observers: [Int64: [Int: Observer]] = [:]
    }
    private let state = NIOLockedValueBox(State())

    public init() {}

    /// Calls `observer` after each change of `mailboxID` until ``cancel(_:)``.
    public func observe(_ mailboxID: Int64, _ observer: @escaping Observer) -> Token {
        state.withLockedValue { state in
            state.next += 1
            state.observers[mailboxID, default: [:]][state.next] = observer
            return Token(mailboxID: mailboxID, id: state.next)
        }
    }

    public func cancel(_ token: Token) {
        state.withLockedValue { state in
            state.observers[token.mailboxID]?[token.id] = nil
            if state.observers[token.mailboxID]?.isEmpty == true { state.observers[token.mailboxID] = nil }
        }
    }

    public func post(_ mailboxID: Int64) {
        let observers = state.withLockedValue { Array(($0.observers[mailboxID] ?? [:]).values) }
        for observer in observers { observer(mailboxID) }
    }

    public struct Token: Sendable, Hashable {
        let mailboxID: Int64
        let id: Int
    }
}
