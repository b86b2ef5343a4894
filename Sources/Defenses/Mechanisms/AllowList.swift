import Foundation
import Logging
import SMTPCore

/// DM21 "whitelists": clients, senders and per-recipient senders whose mail skips the spam
/// checks a role wraps (``AllowListGate``) — greet pause, greylisting, local block lists, DNS
/// lists, spam traps — and never the others: relay control (DM07), connection and rate limits
/// (DM10, DM11, DM34, DM36), size and recipient limits, and above all the antivirus stage, which
/// is another stage and scans everything whoever sent it (DM28, as the paper insists).
///
/// - Global entries (``AccessListEntries``): client networks (the whole session skips the
///   checks), sender addresses/domains (the transaction does), HELO names are not used (a HELO
///   name proves nothing).
/// - Per-user entries: a recipient's own list of senders (`alice@example.org` trusts
///   `*@family.example`): that recipient's RCPT skips the checks, and the message does when every
///   recipient trusts the sender.
///
/// Sender entries trust the envelope sender, which anyone can forge: prefer client networks, and
/// keep sender entries narrow. The list file is read again when it changes (``AccessListFile``).
public struct AllowList: Sendable {
    public struct Configuration: Sendable, Hashable {
        /// Entries from the configuration (`mx.allowlist.clients|senders`).
        public var entries: AccessListEntries
        /// A list file (`mx.allowlist.file`, ``AccessListEntries`` format), reloaded when it changes.
        public var file: String?
        /// How often a look-up checks whether the file changed (default 30 s).
        public var reloadInterval: Duration
        /// Per recipient (lower-case address) the senders that recipient trusts (`[mx.allowlist.recipients]`).
        public var perRecipient: [String: [AddressPattern]]

        public init(entries: AccessListEntries = .init(), file: String? = nil, reloadInterval: Duration = .seconds(30),
                    perRecipient: [String: [AddressPattern]] = [:]) {
            self.entries = entries
            self.file = file
            self.reloadInterval = reloadInterval
            self.perRecipient = Dictionary(perRecipient.map { ($0.key.lowercased(), $0.value) }, uniquingKeysWith: +)
        }
    }

    public static let id = DefenseID.allowLists

    public let configuration: Configuration
    /// The list file, read at init.
    public let file: AccessListFile?

    /// Reads the list file, if one is configured; throws when it cannot be read.
    public init(_ configuration: Configuration, logger: Logger = Logger(label: "mailnode.defense.allowlist")) throws {
        self.configuration = configuration
        self.file = try configuration.file.map { try AccessListFile(path: $0, reloadInterval: configuration.reloadInterval, logger: logger) }
    }

    var currentEntries: AccessListEntries {
        guard let file else { return configuration.entries }
        return configuration.entries.merged(with: file.entries())
    }

    /// Why a session, transaction or recipient is allowed, for the log.
    public enum Reason: Sendable, Hashable, CustomStringConvertible {
        case client(IPNetwork)
        case sender(AddressPattern)
        case recipient(String, AddressPattern)

        public var description: String {
            switch self {
            case .client(let network): "client \(network)"
            case .sender(let pattern): "sender \(pattern)"
            case .recipient(let recipient, let pattern): "recipient \(recipient) trusts \(pattern)"
            }
        }
    }

    /// The client is allowed for the whole session.
    public func allows(client session: SessionContext) -> Reason? {
        currentEntries.network(containing: session.remoteAddress).map { .client($0) }
    }

    /// The transaction of `reversePath` is allowed (client or global sender entry).
    public func allows(sender reversePath: ReversePath, session: SessionContext) -> Reason? {
        if let reason = allows(client: session) { return reason }
        return currentEntries.sender(matching: reversePath).map { .sender($0) }
    }

    /// One recipient is allowed: the transaction is, or the recipient trusts the sender.
    public func allows(recipient: ForwardPath, reversePath: ReversePath, session: SessionContext) -> Reason? {
        if let reason = allows(sender: reversePath, session: session) { return reason }
        guard let mailbox = recipient.mailbox else { return nil }
        let address = "\(mailbox)".lowercased()
        guard let pattern = configuration.perRecipient[address]?.first(where: { $0.matches(reversePath) }) else { return nil }
        return .recipient(address, pattern)
    }

    /// The message is allowed: the transaction is, or every recipient trusts the sender.
    public func allows(message envelope: Envelope, session: SessionContext) -> Reason? {
        if let reason = allows(sender: envelope.reversePath, session: session) { return reason }
        guard !envelope.recipients.isEmpty else { return nil }
        var last: Reason?
        for recipient in envelope.recipients {
            guard let reason = allows(recipient: recipient.path, reversePath: envelope.reversePath, session: session) else { return nil }
            last = reason
        }
        return last
    }
}

/// Runs the wrapped spam checks unless the ``AllowList`` allows the session, transaction or
/// recipient at hand; logs the first skip of each session (`defense=DM21`, `allowed=`).
public struct AllowListGate: SessionHooks {
    public let allowList: AllowList
    public let wrapped: any SessionHooks
    let loggedKey = SessionAttributeKey<Bool>("allowlist.logged")
    let logger: Logger
    /// Counts sessions in which the list let something skip the checks (`allowed`).
    let metrics: DefenseMetrics?

    public init(_ allowList: AllowList, wrapping wrapped: any SessionHooks, logger: Logger = Logger(label: "mailnode.defense.allowlist"),
                metrics: DefenseMetrics? = nil) {
        self.allowList = allowList
        self.wrapped = wrapped
        self.logger = logger
        self.metrics = metrics
    }

    public var stages: HookStages { wrapped.stages }

    func skip(_ reason: AllowList.Reason?, session: SessionContext) -> Bool {
        guard let reason else { return false }
        if session.attributes[loggedKey] == nil {
            session.attributes[loggedKey] = true
            metrics?.record(AllowList.id.rawValue, .allowed)
            logger.info("allow-listed: spam checks skipped", metadata: [
                "defense": "\(AllowList.id)", "session": "\(session.sessionID)", "allowed": "\(reason)",
            ])
        }
        return true
    }

    public func connected(_ session: SessionContext) async -> HookDecision {
        skip(allowList.allows(client: session), session: session) ? .continue : await wrapped.connected(session)
    }

    public func helo(_ name: MailHost, session: SessionContext) async -> HookDecision {
        skip(allowList.allows(client: session), session: session) ? .continue : await wrapped.helo(name, session: session)
    }

    public func mailFrom(_ path: ReversePath, parameters: MailParameters, session: SessionContext) async -> HookDecision {
        skip(allowList.allows(sender: path, session: session), session: session)
            ? .continue : await wrapped.mailFrom(path, parameters: parameters, session: session)
    }

    public func rcptTo(_ recipient: EnvelopeRecipient, envelope: Envelope, session: SessionContext) async -> HookDecision {
        skip(allowList.allows(recipient: recipient.path, reversePath: envelope.reversePath, session: session), session: session)
            ? .continue : await wrapped.rcptTo(recipient, envelope: envelope, session: session)
    }

    public func dataStart(_ envelope: Envelope, session: SessionContext) async -> HookDecision {
        skip(allowList.allows(message: envelope, session: session), session: session)
            ? .continue : await wrapped.dataStart(envelope, session: session)
    }

    public func dataEnd(_ envelope: Envelope, summary: MessageDataSummary, session: SessionContext) async -> HookDecision {
        skip(allowList.allows(message: envelope, session: session), session: session)
            ? .continue : await wrapped.dataEnd(envelope, summary: summary, session: session)
    }
}
