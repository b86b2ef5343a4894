import Logging
import SMTPCore

/// DM30 SPF as a stage hook: at MAIL FROM the sender's SPF result ([RFC 7208](https://www.rfc-editor.org/rfc/rfc7208))
/// is found (for `<>`: `postmaster@<helo>`, §2.4), kept for the session (``SPFSessionResult`` —
/// greylisting's exemption uses it) and acted on per ``Configuration``: by default `fail` is
/// refused with `550 5.7.23` ([RFC 7372 §3.2](https://www.rfc-editor.org/rfc/rfc7372#section-3.2),
/// with the domain's `exp=` explanation when it has one, §6.2), a temporary DNS error defers with
/// `451 4.7.24`, `softfail`/`permerror`/`neutral`/`none` pass and are logged. Authenticated and
/// trusted sessions are not checked. The `Received-SPF` field is written by the message stage
/// (``MessageAuthentication``, `[mx.authentication] received_spf`).
/// Log field: `defense=DM30`, `spf=`, `domain=`, `mechanism=`.
public struct SPFDefense: SessionHooks {
    public struct Configuration: Sendable, Hashable {
        public var onFail: DefenseAction
        public var onSoftfail: DefenseAction
        public var onTemperror: DefenseAction
        public var onPermerror: DefenseAction
        /// Never checked (upstream stages).
        public var trustedNetworks: [IPNetwork]

        public init(onFail: DefenseAction = .reject, onSoftfail: DefenseAction = .tag, onTemperror: DefenseAction = .tempfail,
                    onPermerror: DefenseAction = .tag, trustedNetworks: [IPNetwork] = []) {
            self.onFail = onFail
            self.onSoftfail = onSoftfail
            self.onTemperror = onTemperror
            self.onPermerror = onPermerror
            self.trustedNetworks = trustedNetworks
        }

        func action(for result: SPFResult) -> DefenseAction {
            switch result {
            case .fail: onFail
            case .softfail: onSoftfail
            case .temperror: onTemperror.forTemporaryFailure
            case .permerror: onPermerror
            case .pass, .neutral, .none: .ignore
            }
        }
    }

    public static let id = DefenseID.senderPolicyFramework

    /// `550 5.7.23` (RFC 7372 "SPF validation failed").
    public static func failReply(explanation: String?) -> Reply {
        let text = explanation.map { "SPF validation failed: " + String($0.prefix(200).filter { $0.isASCII && !$0.isNewline }) }
            ?? "SPF validation failed"
        return Reply(.mailboxUnavailable, EnhancedStatusCode(5, 7, 23), text)
    }
    /// `451 4.7.24` (RFC 7372 "SPF validation error").
    public static let temporaryReply = Reply(.localError, EnhancedStatusCode(4, 7, 24), "SPF validation error, try again later")

    public let checker: SPFChecker
    public let configuration: Configuration
    let logger: Logger

    public init(checker: SPFChecker, configuration: Configuration = .init(), logger: Logger = Logger(label: "mailnode.defense.spf")) {
        self.checker = checker
        self.configuration = configuration
        self.logger = logger
    }

    public var stages: HookStages { .mailFrom }

    public func mailFrom(_ path: ReversePath, parameters: MailParameters, session: SessionContext) async -> HookDecision {
        guard !DefenseHookSupport.isExempt(session, authenticated: true, trusted: configuration.trustedNetworks),
              let client = DefenseHookSupport.clientIP(session) else { return .continue }
        let check = await checker.checkMailFrom(clientIP: client, mailFrom: path.mailbox.map { "\($0)" } ?? "",
                                                helo: session.heloName.map { "\($0)" } ?? "")
        SPFSessionResult.store(check, for: path, in: session)
        let action = configuration.action(for: check.result)
        let level: Logger.Level = action == .ignore ? .debug : .notice
        guard logger.logLevel <= level else {   // the metadata only for a line that is written
            return action.decision(reject: Self.failReply(explanation: check.explanation), tempfail: Self.temporaryReply)
        }
        let metadata: Logger.Metadata = [
            "defense": "\(Self.id)", "session": "\(session.sessionID)", "spf": "\(check.result)", "domain": "\(check.domain)",
            "mechanism": "\(check.mechanism ?? "-")", "client": "\(client)", "action": "\(action)",
        ]
        logger.log(level: level, "spf", metadata: metadata)
        return action.decision(reject: Self.failReply(explanation: check.explanation), tempfail: Self.temporaryReply)
    }
}
