import Defenses
import Logging
import SMTPCore

/// RCPT TO at the store: a recipient must be a user's name or alias (`550 5.1.1` otherwise, so
/// the stage in front hears it at once and nothing bounces later: DM19's backscatter defense),
/// and its user must have room (DM35: `452 4.2.2`, temporary, so the previous stage keeps the
/// message and retries). The room is checked against the message's SIZE when the client gave
/// one, else against one more message; the end of data checks again with the real size.
/// A directory or store that cannot answer gives `451 4.3.0`, never a 5xx.
/// Log fields: `defense=DM19|DM35`, `rcpt=`, `user=`.
public struct StoreRecipientCheck: SessionHooks {
    public let users: any UserDirectory
    public let store: any MailboxStore
    public let quota: QuotaLimits
    let logger: Logger

    public init(users: any UserDirectory, store: any MailboxStore, quota: QuotaLimits, logger: Logger = Logger(label: "mailnode.store")) {
        self.users = users
        self.store = store
        self.quota = quota
        self.logger = logger
    }

    public var stages: HookStages { .rcptTo }

    public func rcptTo(_ recipient: EnvelopeRecipient, envelope: Envelope, session: SessionContext) async -> HookDecision {
        let address = StoreMessageWriter.address(recipient.path)
        var metadata: Logger.Metadata = ["session": "\(session.sessionID)", "rcpt": "\(recipient.path)"]
        do {
            guard let user = try await users.user(forAddress: address) else {
                metadata["defense"] = "\(DefenseID.mtaRules)"
                logger.info("unknown recipient refused", metadata: metadata)
                return .reply(StoreReplies.unknownUser)
            }
            guard !quota.isUnlimited else { return .continue }
            let usage = try await store.usage(user: user.name)
            if quota.exceeded(by: usage, adding: Int64(envelope.parameters.size ?? 0)) {
                metadata["defense"] = "\(DefenseID.mailboxQuota)"
                metadata["user"] = "\(user.name)"
                metadata["bytes"] = "\(usage.bytes)/\(quota.bytes)"
                metadata["messages"] = "\(usage.messages)/\(quota.messages)"
                logger.notice("over quota: recipient deferred", metadata: metadata)
                return .reply(StoreReplies.mailboxFull)
            }
            return .continue
        } catch {
            metadata["error"] = "\(error)"
            logger.error("recipient check failed", metadata: metadata)
            return .reply(StoreReplies.tryLater)
        }
    }
}
