import Logging
import SMTPCore

/// DM23 "regular expressions", on the envelope: operator patterns matched against the HELO name,
/// the MAIL FROM address and each RCPT TO address (Postfix's `regexp:` access tables). A match
/// refuses the command with `550 5.7.1` and a generic text; the pattern appears only in the log.
/// Matching is case-insensitive and looks for the pattern anywhere in the text (anchor with `^`/`$`);
/// the null sender is matched as the empty string. Header and body rules are the message stage's
/// (``ContentRules``, same patterns). Inputs are short (a command line is at most 512 octets), which bounds what a badly
/// backtracking pattern can cost. Log field: `defense=DM23`, `rule=`.
public struct EnvelopeRules: SessionHooks {
    /// One compiled pattern and its source text.
    public struct Rule: Sendable, CustomStringConvertible {
        public let pattern: String
        let regex: RegexBox

        /// Compiles `pattern` (Swift `Regex` syntax, which accepts the usual PCRE-like forms); nil when invalid.
        public init?(_ pattern: String) {
            guard let regex = try? Regex(pattern).ignoresCase() else { return nil }
            self.pattern = pattern
            self.regex = RegexBox(regex: regex)
        }

        public func matches(_ text: String) -> Bool {
            (try? regex.regex.firstMatch(in: text)) != nil
        }

        public var description: String { pattern }
    }

    /// `Regex` is not `Sendable`; a compiled pattern is never mutated after init, so sharing it is safe.
    struct RegexBox: @unchecked Sendable {
        let regex: Regex<AnyRegexOutput>
    }

    public struct Configuration: Sendable {
        public var helo: [Rule]
        public var sender: [Rule]
        public var recipient: [Rule]
        /// Never refused (upstream stages).
        public var trustedNetworks: [IPNetwork]

        public init(helo: [Rule] = [], sender: [Rule] = [], recipient: [Rule] = [], trustedNetworks: [IPNetwork] = []) {
            self.helo = helo
            self.sender = sender
            self.recipient = recipient
            self.trustedNetworks = trustedNetworks
        }
    }

    public static let id = DefenseID.regularExpressions

    /// `550 5.7.1`.
    public static let refusal = Reply(.mailboxUnavailable, EnhancedStatusCode(5, 7, 1), "Rejected by local policy")

    public let configuration: Configuration
    let logger: Logger

    public init(_ configuration: Configuration, logger: Logger = Logger(label: "mailnode.defense.rules")) {
        self.configuration = configuration
        self.logger = logger
    }

    public var stages: HookStages {
        var stages: HookStages = []
        if !configuration.helo.isEmpty { stages.insert(.helo) }
        if !configuration.sender.isEmpty { stages.insert(.mailFrom) }
        if !configuration.recipient.isEmpty { stages.insert(.rcptTo) }
        return stages
    }

    public func helo(_ name: MailHost, session: SessionContext) async -> HookDecision {
        decide("\(name)", rules: configuration.helo, field: "helo", session: session)
    }

    public func mailFrom(_ path: ReversePath, parameters: MailParameters, session: SessionContext) async -> HookDecision {
        decide(path.mailbox.map { "\($0)" } ?? "", rules: configuration.sender, field: "sender", session: session)
    }

    public func rcptTo(_ recipient: EnvelopeRecipient, envelope: Envelope, session: SessionContext) async -> HookDecision {
        guard let mailbox = recipient.path.mailbox else { return .continue }   // <Postmaster> always reachable
        return decide("\(mailbox)", rules: configuration.recipient, field: "recipient", session: session)
    }

    func decide(_ text: String, rules: [Rule], field: String, session: SessionContext) -> HookDecision {
        guard !DefenseHookSupport.isExempt(session, authenticated: false, trusted: configuration.trustedNetworks),
              let rule = rules.first(where: { $0.matches(text) }) else { return .continue }
        logger.notice("envelope rule matched", metadata: [
            "defense": "\(Self.id)", "session": "\(session.sessionID)", "field": "\(field)", "value": "\(text)", "rule": "\(rule)",
        ])
        return .reply(Self.refusal)
    }
}
