/// What a hook decides at one stage of a session.
///
/// `.continue` lets the session proceed with its own default reply; `.reply` answers the
/// command with the given reply instead (a 4xx/5xx rejects, a 2xx accepts with that text);
/// `.disconnect` sends the reply and closes the connection.
public enum HookDecision: Sendable, Hashable {
    case `continue`
    case reply(Reply)
    case disconnect(Reply)
}

/// A set of session stages, used by a hook to say where it takes part.
public struct HookStages: OptionSet, Sendable, Hashable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let connected = HookStages(rawValue: 1 << 0)
    public static let helo = HookStages(rawValue: 1 << 1)
    public static let mailFrom = HookStages(rawValue: 1 << 2)
    public static let rcptTo = HookStages(rawValue: 1 << 3)
    public static let dataStart = HookStages(rawValue: 1 << 4)
    public static let dataEnd = HookStages(rawValue: 1 << 5)
    public static let all: HookStages = [.connected, .helo, .mailFrom, .rcptTo, .dataStart, .dataEnd]
}

/// The stages at which defenses run (the `Defenses` module implements them).
///
/// Every method has a default that returns `.continue`, so a hook implements only the
/// stages it cares about. Hooks run as Swift tasks off the connection's event loop (in the
/// `mailnode` binary, NIO's event loops are the global executor, so on one of those): they may
/// await as long as they like (DNS, a state store), and a slow hook delays one session, never
/// the node — but they must not *block* (a synchronous file, database or process wait belongs on
/// a thread pool such as `NIOThreadPool`), or the sessions sharing that thread wait with them.
public protocol SessionHooks: Sendable {
    /// The stages this hook implements. The server answers the other stages without calling
    /// the hook, which saves an asynchronous round trip per command. The default, `.all`, is
    /// always correct; a narrower set is an optimisation and must include every stage the
    /// hook overrides.
    var stages: HookStages { get }
    /// After the TCP connection (and PROXY header) before the greeting. A rejection becomes
    /// the greeting (e.g. `554 5.7.1`) and the session then only answers QUIT (RFC 5321 §3.1).
    func connected(_ session: SessionContext) async -> HookDecision
    /// After a syntactically valid HELO/EHLO/LHLO.
    func helo(_ name: MailHost, session: SessionContext) async -> HookDecision
    /// After a valid MAIL FROM that passed the session's own checks.
    func mailFrom(_ path: ReversePath, parameters: MailParameters, session: SessionContext) async -> HookDecision
    /// After a valid RCPT TO that passed the session's own checks. `envelope` holds the
    /// recipients accepted so far. Return `.continue` only for addresses this stage will take:
    /// the session's default is to accept.
    func rcptTo(_ recipient: EnvelopeRecipient, envelope: Envelope, session: SessionContext) async -> HookDecision
    /// Before `354` (DATA) or the first BDAT chunk.
    func dataStart(_ envelope: Envelope, session: SessionContext) async -> HookDecision
    /// After the whole message arrived and passed the session's checks, before it is committed.
    func dataEnd(_ envelope: Envelope, summary: MessageDataSummary, session: SessionContext) async -> HookDecision
}

extension SessionHooks {
    public var stages: HookStages { .all }
    public func connected(_ session: SessionContext) async -> HookDecision { .continue }
    public func helo(_ name: MailHost, session: SessionContext) async -> HookDecision { .continue }
    public func mailFrom(_ path: ReversePath, parameters: MailParameters, session: SessionContext) async -> HookDecision { .continue }
    public func rcptTo(_ recipient: EnvelopeRecipient, envelope: Envelope, session: SessionContext) async -> HookDecision { .continue }
    public func dataStart(_ envelope: Envelope, session: SessionContext) async -> HookDecision { .continue }
    public func dataEnd(_ envelope: Envelope, summary: MessageDataSummary, session: SessionContext) async -> HookDecision { .continue }
}

/// Hooks that decide nothing (every stage `.continue`).
public struct NoHooks: SessionHooks {
    public init() {}
    public var stages: HookStages { [] }
}
