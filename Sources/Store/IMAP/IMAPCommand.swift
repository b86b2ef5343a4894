import Foundation

/// An IMAP command ([RFC 3501 §6](https://www.rfc-editor.org/rfc/rfc3501#section-6), with the
/// parts of [RFC 9051](https://www.rfc-editor.org/rfc/rfc9051) a modern client uses and the
/// extensions we announce). Mailbox names are decoded from modified UTF-7 (RFC 3501 §5.1.3).
public enum IMAPCommand: Sendable, Hashable {
    /// `C: a1 CAPABILITY` — §6.1.1.
    case capability
    /// `C: a1 NOOP` — §6.1.2; reports mailbox changes.
    case noop
    /// `C: a1 LOGOUT` / `S: * BYE` — §6.1.3.
    case logout
    /// `C: a1 STARTTLS` — §6.2.1; credentials only after it on the plain port.
    case startTLS
    /// `C: a1 LOGIN alice "pass word"` — §6.2.3.
    case login(user: String, password: String)
    /// `C: a1 AUTHENTICATE PLAIN dGVzdA==` — §6.2.2 with SASL-IR (RFC 4959).
    case authenticate(mechanism: String, initialResponse: String?)
    /// `C: a1 ENABLE CONDSTORE` — RFC 5161.
    case enable([String])
    /// `C: a1 ID ("name" "mutt")` — RFC 2971.
    case id([String: String]?)
    /// `C: a1 NAMESPACE` — RFC 2342.
    case namespace
    /// `C: a1 SELECT INBOX` — §6.3.1.
    case select(String)
    /// `C: a1 EXAMINE INBOX` — §6.3.2 (read-only).
    case examine(String)
    /// `C: a1 CREATE Work/2026` — §6.3.3.
    case create(String)
    /// `C: a1 DELETE Work` — §6.3.4.
    case delete(String)
    /// `C: a1 RENAME Work Archive/Work` — §6.3.5.
    case rename(from: String, to: String)
    /// `C: a1 SUBSCRIBE Work` — §6.3.6.
    case subscribe(String)
    /// `C: a1 UNSUBSCRIBE Work` — §6.3.7.
    case unsubscribe(String)
    /// `C: a1 LIST "" "*"` — §6.3.8, RFC 5258 selection options (`SUBSCRIBED`, `SPECIAL-USE`)
    /// and `RETURN (SPECIAL-USE)` (RFC 6154 §5).
    case list(reference: String, pattern: String, subscribedOnly: Bool, specialUseOnly: Bool)
    /// `C: a1 LSUB "" "*"` — §6.3.9.
    case lsub(reference: String, pattern: String)
    /// `C: a1 STATUS INBOX (MESSAGES UNSEEN)` — §6.3.10.
    case status(String, [StatusItem])
    /// `C: a1 APPEND Sent (\Seen) {310}` — §6.3.11; the literal is the message.
    case append(mailbox: String, flags: [String], date: Date?, message: [UInt8])
    /// `C: a1 CHECK` — §6.4.1.
    case check
    /// `C: a1 CLOSE` — §6.4.2: expunges silently and deselects.
    case close
    /// `C: a1 UNSELECT` — RFC 3691.
    case unselect
    /// `C: a1 EXPUNGE` — §6.4.3; `UID EXPUNGE 4:7` (RFC 4315 §2.1) only those UIDs.
    case expunge(uids: SequenceSet?)
    /// `C: a1 [UID] SEARCH UNSEEN FROM "bob"` — §6.4.4.
    case search(SearchKey, uid: Bool)
    /// `C: a1 [UID] FETCH 1:* (FLAGS BODY.PEEK[HEADER])` — §6.4.5.
    case fetch(SequenceSet, [FetchAttribute], uid: Bool)
    /// `C: a1 [UID] STORE 2 +FLAGS.SILENT (\Deleted)` — §6.4.6.
    case store(SequenceSet, FlagChange, silent: Bool, uid: Bool)
    /// `C: a1 [UID] COPY 2:4 Archive` — §6.4.7.
    case copy(SequenceSet, String, uid: Bool)
    /// `C: a1 [UID] MOVE 2:4 Trash` — RFC 6851.
    case move(SequenceSet, String, uid: Bool)
    /// `C: a1 IDLE` … `C: DONE` — RFC 2177.
    case idle
    /// `C: a1 GETQUOTAROOT INBOX` — RFC 9208 §4.1.
    case getQuotaRoot(String)
    /// `C: a1 GETQUOTA ""` — RFC 9208 §4.2.
    case getQuota(String)

    /// The verb for logs (never arguments: LOGIN carries a password).
    public var verb: String {
        switch self {
        case .capability: "CAPABILITY"
        case .noop: "NOOP"
        case .logout: "LOGOUT"
        case .startTLS: "STARTTLS"
        case .login: "LOGIN"
        case .authenticate: "AUTHENTICATE"
        case .enable: "ENABLE"
        case .id: "ID"
        case .namespace: "NAMESPACE"
        case .select: "SELECT"
        case .examine: "EXAMINE"
        case .create: "CREATE"
        case .delete: "DELETE"
        case .rename: "RENAME"
        case .subscribe: "SUBSCRIBE"
        case .unsubscribe: "UNSUBSCRIBE"
        case .list: "LIST"
        case .lsub: "LSUB"
        case .status: "STATUS"
        case .append: "APPEND"
        case .check: "CHECK"
        case .close: "CLOSE"
        case .unselect: "UNSELECT"
        case .expunge: "EXPUNGE"
        case .search: "SEARCH"
        case .fetch: "FETCH"
        case .store: "STORE"
        case .copy: "COPY"
        case .move: "MOVE"
        case .idle: "IDLE"
        case .getQuotaRoot: "GETQUOTAROOT"
        case .getQuota: "GETQUOTA"
        }
    }
}

/// A tagged command as read from the wire.
public struct TaggedCommand: Sendable, Hashable {
    public var tag: String
    public var command: IMAPCommand

    public init(tag: String, command: IMAPCommand) {
        self.tag = tag
        self.command = command
    }
}

/// `sequence-set` (RFC 3501 §9): numbers and ranges, `*` for the largest number in use.
public struct SequenceSet: Sendable, Hashable {
    /// A number or `*` (`nil`).
    public typealias Bound = UInt32?
    public var ranges: [Span]

    public struct Span: Sendable, Hashable {
        public var first: Bound
        public var last: Bound
    }

    public init(ranges: [Span]) {
        self.ranges = ranges
    }

    /// True when `value` is in the set, `*` meaning `largest` (RFC 3501 §6.4.8: `n:*` always
    /// includes the largest even when n is larger).
    public func contains(_ value: UInt32, largest: UInt32) -> Bool {
        ranges.contains { range in
            let a = range.first ?? largest, b = range.last ?? largest
            return (min(a, b)...max(a, b)).contains(value)
        }
    }

    /// `2:4,7` — how UIDPLUS responses write UID lists (RFC 4315 §3).
    public static func compact(_ values: [UInt32]) -> String {
        var parts: [String] = []
        var index = 0
        let sorted = values
        while index < sorted.count {
            var end = index
            while end + 1 < sorted.count, sorted[end + 1] == sorted[end] &+ 1 { end += 1 }
            parts.append(end == index ? "\(sorted[index])" : "\(sorted[index]):\(sorted[end])")
            index = end + 1
        }
        return parts.joined(separator: ",")
    }
}

/// A `STATUS` data item (RFC 3501 §6.3.10, RFC 9051 §6.3.11 SIZE).
public enum StatusItem: String, Sendable, Hashable, CaseIterable {
    case messages = "MESSAGES"
    case recent = "RECENT"
    case uidNext = "UIDNEXT"
    case uidValidity = "UIDVALIDITY"
    case unseen = "UNSEEN"
    case size = "SIZE"
}

/// A `FETCH` data item (RFC 3501 §6.4.5).
public enum FetchAttribute: Sendable, Hashable {
    case envelope
    case flags
    case internalDate
    case rfc822Size
    case uid
    /// `BODY` (non-extensible) or `BODYSTRUCTURE` (with extension data).
    case bodyStructure(extensible: Bool)
    /// `BODY[section]<partial>` / `BODY.PEEK[…]`; `RFC822`, `RFC822.HEADER`, `RFC822.TEXT`
    /// are these with their own response names (``BodySection/rfc822Name``).
    case body(BodySection, peek: Bool)
}

/// `section` with an optional `<origin.count>` (RFC 3501 §6.4.5).
public struct BodySection: Sendable, Hashable {
    /// `1.2` of `BODY[1.2.HEADER]`; empty for the whole message.
    public var part: [Int]
    public var text: SectionText?
    /// `<origin.count>`.
    public var partial: PartialRange?
    /// Answered as `RFC822`, `RFC822.HEADER` or `RFC822.TEXT` instead of `BODY[…]`.
    public var rfc822Name: String?

    public init(part: [Int] = [], text: SectionText? = nil, partial: PartialRange? = nil, rfc822Name: String? = nil) {
        self.part = part
        self.text = text
        self.partial = partial
        self.rfc822Name = rfc822Name
    }

    public struct PartialRange: Sendable, Hashable {
        public var origin: Int
        public var count: Int
    }

    public enum SectionText: Sendable, Hashable {
        case header
        case headerFields([String])
        case headerFieldsNot([String])
        case text
        case mime
    }

    /// `BODY[]` / `RFC822`: the stored octets as they are (no part, no text).
    var isWholeMessage: Bool { part.isEmpty && text == nil }

    /// How the section is named in the response: `BODY[1.HEADER.FIELDS (SUBJECT)]<0>`.
    public var responseName: String {
        if let rfc822Name { return rfc822Name }
        var spec = part.map(String.init).joined(separator: ".")
        if let text {
            if !spec.isEmpty { spec += "." }
            switch text {
            case .header: spec += "HEADER"
            case .headerFields(let names): spec += "HEADER.FIELDS (" + names.joined(separator: " ") + ")"
            case .headerFieldsNot(let names): spec += "HEADER.FIELDS.NOT (" + names.joined(separator: " ") + ")"
            case .text: spec += "TEXT"
            case .mime: spec += "MIME"
            }
        }
        return "BODY[\(spec)]" + (partial.map { "<\($0.origin)>" } ?? "")
    }
}

/// A `SEARCH` key (RFC 3501 §6.4.4). A list of keys is ``and(_:)``.
public indirect enum SearchKey: Sendable, Hashable {
    case all
    case and([SearchKey])
    case or(SearchKey, SearchKey)
    case not(SearchKey)
    /// `\Seen` etc. set (`SEEN`, `FLAGGED`, `KEYWORD x`) …
    case flag(String)
    /// … or not set (`UNSEEN`, `UNKEYWORD x`).
    case noFlag(String)
    /// `NEW`: not seen (we keep no `\Recent`, RFC 9051 dropped it: NEW is UNSEEN here).
    case new
    /// A header field containing a string (`FROM`, `TO`, `CC`, `BCC`, `SUBJECT`, `HEADER`).
    case header(String, String)
    case body(String)
    case text(String)
    /// Internal date before / on / since a day (`BEFORE`, `ON`, `SINCE`).
    case before(Date)
    case on(Date)
    case since(Date)
    case larger(Int)
    case smaller(Int)
    case uid(SequenceSet)
    case sequence(SequenceSet)
}
