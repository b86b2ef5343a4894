import Foundation
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
    func createMailbox(user: String, name: String, specialUse: SpecialUse?) async throws -> MailboxInfo
    /// Messages of a mailbox in UID order.
    func messages(in mailboxID: Int64) async throws -> [StoredMessage]
    /// Removes messages (POP3 DELE at QUIT, IMAP EXPUNGE); bodies nobody references are deleted.
    /// Returns how many were removed.
    @discardableResult
    func expunge(_ uids: [UInt32], from mailboxID: Int64) async throws -> Int
    func usage(user: String) async throws -> QuotaUsage

    /// The file holding a body (read with ordinary file I/O, off the event loops).
    func bodyPath(_ id: String) -> String
    /// Forgets deduplication pairs recorded before `date`; returns how many.
    @discardableResult
    func purgeDeduplication(before date: Date) async throws -> Int
}
