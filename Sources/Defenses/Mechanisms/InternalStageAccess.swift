import Logging
import SMTPCore

/// Keeps an internal stage (antivirus, antispam, store) closed to everyone but the stages in
/// front of it: a client outside ``networks`` is greeted with `554 5.7.1` and closed
/// ([RFC 5321 §3.1](https://www.rfc-editor.org/rfc/rfc5321#section-3.1): a 554 greeting, then
/// only QUIT). Such a stage accepts any recipient domain (relay control by domain, DM07, is the
/// mx's), so without this an internal stage reachable from the Internet would be an open
/// relay. Counted and logged as DM07 (relay access by client network), outcome `disconnected`.
public struct InternalStageAccess: SessionHooks {
    public static let id = DefenseID.relayAccessLists
    /// `554 5.7.1`, generic: the client learns nothing about the stage.
    public static let refusal = Reply(.transactionFailed, EnhancedStatusCode(5, 7, 1), "Access denied")

    /// Who may connect (the role's `accept_from`).
    public let networks: [IPNetwork]
    /// The stage's name for the log (`antivirus`).
    public let stage: String
    let logger: Logger

    public init(networks: [IPNetwork], stage: String, logger: Logger) {
        self.networks = networks
        self.stage = stage
        self.logger = logger
    }

    public var stages: HookStages { .connected }

    public func connected(_ session: SessionContext) async -> HookDecision {
        if let address = session.remoteAddress, networks.contains(where: { $0.contains(address) }) { return .continue }
        logger.warning("connection refused: not an upstream stage", metadata: [
            "session": "\(session.sessionID)", "client": "\(session.remoteAddress?.ipAddress ?? "-")", "stage": "\(stage)",
            "defense": "\(Self.id)",
        ])
        return .disconnect(Self.refusal)
    }
}
