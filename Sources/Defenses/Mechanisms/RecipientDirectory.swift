import SMTPCore

/// Whether a local address exists: the question DM19's backscatter defense asks at RCPT time.
///
/// The store role will answer it from its mailboxes; until then ``StaticRecipientDirectory``
/// answers from a list. An embedder plugs in its own (LDAP, SQL) by conforming.
public protocol RecipientDirectory: Sendable {
    /// Looks one recipient up. Called only for the domains the directory is responsible for.
    func lookup(_ mailbox: Mailbox) async -> RecipientLookup
}

/// A directory's answer.
public enum RecipientLookup: Sendable, Hashable {
    /// The address takes mail.
    case exists
    /// No such address: refused with 550 5.1.1 at RCPT, so nobody gets a bounce later.
    case unknown
    /// The directory cannot answer now: 450 4.1.1, the client retries (never a 5xx on a failure).
    case unavailable(String)
}

/// A directory from a list: exact addresses and whole domains (`@example.org` accepts every
/// local part there — a catch-all), from the configuration and a list file reloaded when it
/// changes (``AccessListFile``, `recipient ADDRESS` lines).
public struct StaticRecipientDirectory: RecipientDirectory {
    public let patterns: [AddressPattern]
    public let file: AccessListFile?

    public init(patterns: [AddressPattern], file: AccessListFile? = nil) {
        self.patterns = patterns
        self.file = file
    }

    public func lookup(_ mailbox: Mailbox) async -> RecipientLookup {
        if patterns.contains(where: { $0.matches(mailbox) }) { return .exists }
        if let file, file.entries().recipients.contains(where: { $0.matches(mailbox) }) { return .exists }
        return .unknown
    }
}

/// Several directories asked in order: an address exists when one of them knows it; when none
/// does and one could not answer, the answer is ``RecipientLookup/unavailable(_:)`` (450, never
/// a 5xx for an address a directory that is down might know).
public struct RecipientDirectories: RecipientDirectory {
    public let directories: [any RecipientDirectory]

    public init(_ directories: [any RecipientDirectory]) { self.directories = directories }

    public func lookup(_ mailbox: Mailbox) async -> RecipientLookup {
        var failure: String?
        for directory in directories {
            switch await directory.lookup(mailbox) {
            case .exists: return .exists
            case .unknown: continue
            case .unavailable(let reason): failure = failure ?? reason
            }
        }
        return failure.map { .unavailable($0) } ?? .unknown
    }
}
