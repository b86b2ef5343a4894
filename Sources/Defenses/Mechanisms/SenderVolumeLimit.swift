import Foundation
import Logging
import SMTPCore

/// DM34 "per-sender volume limits": how many messages and recipients one sender may send within
/// a sliding window, counted in the ``StateStore`` (so nodes sharing PostgreSQL share the limit).
/// The sender is the authenticated user when there is one (`user:` keys — the submission role's
/// per-user limit), else the envelope sender's address (`sender:` keys). Beyond a limit the
/// recipient or the message gets `451 4.7.1` and the client retries later
/// ([RFC 5321 §4.2.5](https://www.rfc-editor.org/rfc/rfc5321#section-4.2.5)). policyd's and
/// Postfix's `smtpd_client_*_rate_limit` per sender are the model.
///
/// At an mx the envelope sender is only a claim: the limit then guards against a mail bomb from
/// one address (the paper's fault), and a forger can only get that address's mail *deferred*,
/// never refused. The null sender (`<>`, bounces) is not limited per address: bounce floods are
/// DM11's business (per client). Every attempt counts, deferred ones too. A store failure lets
/// the session go on (logged). Log field: `defense=DM34` with `limit=messages|recipients`, `sender=`.
public struct SenderVolumeLimit: SessionHooks {
    public struct Configuration: Sendable, Hashable {
        /// The sliding window (default 1 hour, counted in 10 buckets).
        public var window: Duration
        /// Messages per sender and window (default 200; 0: unlimited).
        public var maxMessages: Int
        /// Recipients per sender and window (default 1,000; 0: unlimited).
        public var maxRecipients: Int
        /// Senders from these networks are not limited (upstream stages).
        public var trustedNetworks: [IPNetwork]

        public init(window: Duration = .seconds(3600), maxMessages: Int = 200, maxRecipients: Int = 1000,
                    trustedNetworks: [IPNetwork] = []) {
            self.window = window
            self.maxMessages = max(0, maxMessages)
            self.maxRecipients = max(0, maxRecipients)
            self.trustedNetworks = trustedNetworks
        }
    }

    public enum Limit: String, Sendable, Hashable {
        case messages, recipients
    }

    public static let id = DefenseID.senderVolumeLimit

    /// `451 4.7.1` for a recipient or a message beyond the sender's limit.
    public static let deferral = Reply(.localError, EnhancedStatusCode(4, 7, 1), "Sender rate limit exceeded, try again later")

    public let configuration: Configuration
    public let store: any StateStore
    let now: @Sendable () -> Date
    let logger: Logger

    public init(_ configuration: Configuration = .init(), store: any StateStore, now: @escaping @Sendable () -> Date = { Date() },
                logger: Logger = Logger(label: "mailnode.defense.sendervolume")) {
        self.configuration = configuration
        self.store = store
        self.now = now
        self.logger = logger
    }

    public var stages: HookStages {
        var stages: HookStages = []
        if configuration.maxRecipients > 0 { stages.insert(.rcptTo) }
        if configuration.maxMessages > 0 { stages.insert(.dataStart) }
        return stages
    }

    /// The counter's subject: `user:NAME` after AUTH, else `sender:ADDRESS` (lower case); nil for `<>`.
    public static func senderKey(_ reversePath: ReversePath, session: SessionContext) -> String? {
        if let user = session.authenticatedUser { return "user:\(user.lowercased())" }
        guard let mailbox = reversePath.mailbox else { return nil }
        return "sender:\("\(mailbox)".lowercased())"
    }

    public func rcptTo(_ recipient: EnvelopeRecipient, envelope: Envelope, session: SessionContext) async -> HookDecision {
        await exceeded(.recipients, limit: configuration.maxRecipients, reversePath: envelope.reversePath, session: session)
            ? .reply(Self.deferral) : .continue
    }

    public func dataStart(_ envelope: Envelope, session: SessionContext) async -> HookDecision {
        await exceeded(.messages, limit: configuration.maxMessages, reversePath: envelope.reversePath, session: session)
            ? .reply(Self.deferral) : .continue
    }

    func exceeded(_ kind: Limit, limit: Int, reversePath: ReversePath, session: SessionContext) async -> Bool {
        guard limit > 0,
              !DefenseHookSupport.isExempt(session, authenticated: false, trusted: configuration.trustedNetworks),
              let sender = Self.senderKey(reversePath, session: session)
        else { return false }
        let total: Int
        do {
            total = try await store.increment("volume:\(kind.rawValue):\(sender)", window: StateWindow(configuration.window), at: now())
        } catch {
            logger.warning("state store failed; not limiting the sender", metadata: [
                "defense": "\(Self.id)", "session": "\(session.sessionID)", "error": "\(error)",
            ])
            return false
        }
        guard total > limit else { return false }
        logger.notice("sender volume limit exceeded", metadata: [
            "defense": "\(Self.id)", "session": "\(session.sessionID)", "sender": "\(sender)",
            "limit": "\(kind.rawValue)", "count": "\(total)/\(limit)", "window": "\(configuration.window)",
        ])
        return true
    }
}
