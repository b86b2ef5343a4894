import Logging
import SMTPCore

/// DM07 "Relay access lists": a stage never relays for strangers.
///
/// A recipient is accepted when its domain is one of the local domains, or when the client
/// authenticated (submission) and authenticated relay is allowed, or when the client's address
/// lies in a trusted network (the previous stage of the chain). Everything else gets
/// `554 5.7.1` at RCPT time. `<Postmaster>` is always accepted (RFC 5321 §4.5.1).
public struct RelayControl: SessionHooks {
    public struct Configuration: Sendable, Hashable {
        /// Domains this node accepts mail for (compared case-insensitively, in A-label form).
        public var localDomains: Set<String>
        /// Clients allowed to relay to any domain (internal stages).
        public var trustedNetworks: [IPNetwork]
        /// Authenticated users may send to any domain (the submission role).
        public var allowAuthenticatedRelay: Bool

        public init(localDomains: Set<String>, trustedNetworks: [IPNetwork] = [], allowAuthenticatedRelay: Bool = false) {
            self.localDomains = Set(localDomains.map { RelayControl.normalize($0) })
            self.trustedNetworks = trustedNetworks
            self.allowAuthenticatedRelay = allowAuthenticatedRelay
        }
    }

    public let configuration: Configuration
    let logger: Logger

    public init(_ configuration: Configuration, logger: Logger = Logger(label: "mailnode.defense.relay")) {
        self.configuration = configuration
        self.logger = logger
    }

    public static let id = DefenseID.relayAccessLists

    public var stages: HookStages { .rcptTo }

    /// The generic wire reply (RFC 5321 §3.6.2 relay refusal; RFC 3463 X.7.1).
    public static let refusal = Reply(.transactionFailed, .noRelay, "Relay access denied")

    public func rcptTo(_ recipient: EnvelopeRecipient, envelope: Envelope, session: SessionContext) async -> HookDecision {
        guard case .mailbox(let mailbox) = recipient.path else { return .continue }   // <Postmaster>
        if case .domain(let name) = mailbox.host, configuration.localDomains.contains(RelayControl.normalize(name)) {
            return .continue
        }
        if configuration.allowAuthenticatedRelay, session.authenticatedUser != nil { return .continue }
        if let client = session.remoteAddress, configuration.trustedNetworks.contains(where: { $0.contains(client) }) {
            return .continue
        }
        logger.info("relay refused", metadata: [
            "defense": "\(RelayControl.id)", "session": "\(session.sessionID)",
            "rcpt": "\(recipient.path)", "client": "\(session.remoteAddress?.ipAddress ?? "-")",
        ])
        return .reply(RelayControl.refusal)
    }

    /// Lower-case A-label form; a trailing dot is ignored.
    static func normalize(_ domain: String) -> String {
        var name = domain.hasSuffix(".") ? String(domain.dropLast()) : domain
        if let ascii = try? IDNA.toASCII(name) { name = ascii }
        return name.lowercased()
    }
}
