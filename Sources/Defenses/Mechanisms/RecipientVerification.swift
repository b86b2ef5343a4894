import Logging
import SMTPCore

/// DM19's second half, "reject unknown recipients": at RCPT time a recipient at a verified local
/// domain that the ``RecipientDirectory`` does not know gets `550 5.1.1` — the client learns it
/// now, and no bounce to a (probably forged) sender is ever needed: the backscatter defense
/// (Postfix's `local_recipient_maps` / `relay_recipient_maps`). `postmaster@` of a verified
/// domain is always accepted ([RFC 5321 §4.5.1](https://www.rfc-editor.org/rfc/rfc5321#section-4.5.1)).
///
/// Domains outside ``Configuration/domains`` pass unchanged (relay control is DM07's). A directory
/// that cannot answer gives `450 4.1.1`, never a 5xx. Together with DM36 (which counts the 5xx
/// answers) this also stops directory-harvest attacks. Log field: `defense=DM19`, `rcpt=`.
public struct RecipientVerification: SessionHooks {
    public struct Configuration: Sendable, Hashable {
        /// The domains whose recipients are verified (lower case, A-labels).
        public var domains: Set<String>

        public init(domains: Set<String>) {
            self.domains = Set(domains.map { AddressPattern.normalise($0) })
        }
    }

    public static let id = DefenseID.mtaRules

    /// `550 5.1.1` ([RFC 3463 §3.2](https://www.rfc-editor.org/rfc/rfc3463#section-3.2) X.1.1 "bad destination mailbox address").
    public static let unknown = Reply(.mailboxUnavailable, EnhancedStatusCode(5, 1, 1), "No such user here")
    /// `450 4.1.1` when the directory cannot answer.
    public static let unavailable = Reply(.mailboxBusy, EnhancedStatusCode(4, 1, 1), "Recipient cannot be verified now, try again later")

    public let configuration: Configuration
    public let directory: any RecipientDirectory
    let logger: Logger

    public init(_ configuration: Configuration, directory: any RecipientDirectory,
                logger: Logger = Logger(label: "mailnode.defense.recipients")) {
        self.configuration = configuration
        self.directory = directory
        self.logger = logger
    }

    public var stages: HookStages { .rcptTo }

    public func rcptTo(_ recipient: EnvelopeRecipient, envelope: Envelope, session: SessionContext) async -> HookDecision {
        guard let mailbox = recipient.path.mailbox, case .domain(let name) = mailbox.host,
              configuration.domains.contains(AddressPattern.normalise(name)),
              mailbox.localPart.lowercased() != "postmaster"
        else { return .continue }
        switch await directory.lookup(mailbox) {
        case .exists:
            return .continue
        case .unknown:
            logger.info("unknown recipient refused", metadata: [
                "defense": "\(Self.id)", "session": "\(session.sessionID)", "rcpt": "\(recipient.path)",
                "client": "\(session.remoteAddress?.ipAddress ?? "-")",
            ])
            return .reply(Self.unknown)
        case .unavailable(let reason):
            logger.warning("recipient directory unavailable", metadata: [
                "defense": "\(Self.id)", "session": "\(session.sessionID)", "rcpt": "\(recipient.path)", "error": "\(reason)",
            ])
            return .reply(Self.unavailable)
        }
    }
}
