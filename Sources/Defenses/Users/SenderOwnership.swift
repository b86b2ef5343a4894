import Logging
import SMTPCore

/// The submission role's anti-forging rule (issue 7): an authenticated user may use as envelope
/// sender only an address they own — their name or an alias in the ``UserDirectory`` — plus the
/// null sender when ``Configuration/allowNullSender`` says so. Anything else gets `553 5.7.1` at
/// MAIL FROM (Postfix's `reject_sender_login_mismatch`); unauthenticated sessions are left to the
/// session's own "AUTH required" rule. A directory failure defers (`451 4.3.0`), never refuses.
/// Log field: `defense=DM04`, `user=`, `sender=`.
public struct SenderOwnership: SessionHooks {
    public struct Configuration: Sendable, Hashable {
        /// Whether an authenticated user may send with `MAIL FROM:<>` (default off: users do not
        /// send bounces).
        public var allowNullSender: Bool

        public init(allowNullSender: Bool = false) {
            self.allowNullSender = allowNullSender
        }
    }

    public static let id = DefenseID.smtpAuth

    /// `553 5.7.1` ([RFC 5321 §4.2.3](https://www.rfc-editor.org/rfc/rfc5321#section-4.2.3) "mailbox name not allowed").
    public static let notOwned = Reply(.mailboxNameNotAllowed, EnhancedStatusCode(5, 7, 1), "Sender address not owned by the authenticated user")
    /// `451 4.3.0` when the directory cannot answer.
    public static let unavailable = Reply(.localError, EnhancedStatusCode(4, 3, 0), "Cannot check the sender address now, try again later")

    public let users: any UserDirectory
    public let configuration: Configuration
    let logger: Logger

    public init(users: any UserDirectory, configuration: Configuration = .init(), logger: Logger = Logger(label: "mailnode.defense.sender-owner")) {
        self.users = users
        self.configuration = configuration
        self.logger = logger
    }

    public var stages: HookStages { .mailFrom }

    public func mailFrom(_ path: ReversePath, parameters: MailParameters, session: SessionContext) async -> HookDecision {
        guard let login = session.authenticatedUser else { return .continue }
        guard let mailbox = path.mailbox else {
            return configuration.allowNullSender ? .continue : refuse(path, login: login, session: session)
        }
        do {
            guard let owner = try await users.user(forAddress: "\(mailbox)") else { return refuse(path, login: login, session: session) }
            return owner.name == login.lowercased() ? .continue : refuse(path, login: login, session: session)
        } catch {
            logger.error("user directory failed; sender not checked", metadata: [
                "defense": "\(Self.id)", "session": "\(session.sessionID)", "user": "\(login)", "error": "\(error)",
            ])
            return .reply(Self.unavailable)
        }
    }

    func refuse(_ path: ReversePath, login: String, session: SessionContext) -> HookDecision {
        logger.notice("sender address not owned by the user", metadata: [
            "defense": "\(Self.id)", "session": "\(session.sessionID)", "user": "\(login)", "sender": "\(path)",
        ])
        return .reply(Self.notOwned)
    }
}
