import Foundation
import Logging
import SMTPCore

/// DM27 "honey pots (spam traps)": addresses no person uses (never published except where only
/// harvesters look). A client that sends to one is a spammer's engine: its address goes into
/// the dynamic block list of the ``StateStore`` (a `block:` record, ``LocalBlocklist/dynamicKey(client:)``)
/// for ``Configuration/blockFor``, and every node sharing the store refuses its next connections
/// (``LocalBlocklist`` checks the record at connect).
///
/// In the trapping session the trap recipient is answered like an unknown user
/// (`550 5.1.1`, so harvesters learn nothing), every later recipient gets `554 5.7.1`, and the
/// message is refused at DATA/BDAT (`554 5.7.1`) even for recipients accepted before the trap:
/// a message that also goes to a trap is spam for everyone. Trusted networks and authenticated
/// sessions never trip a trap. A store failure still refuses in the session (logged).
/// Log field: `defense=DM27` with `trap=` and `client=`.
public struct SpamTrap: SessionHooks {
    public struct Configuration: Sendable, Hashable {
        /// The trap addresses (compared case-insensitively; patterns as in ``AddressPattern``,
        /// so `*@trap.example.org` traps a whole domain).
        public var addresses: [AddressPattern]
        /// How long a trapped client stays blocked (default 1 day).
        public var blockFor: Duration
        /// Never trapped (upstream stages relay what others sent).
        public var trustedNetworks: [IPNetwork]

        public init(addresses: [AddressPattern], blockFor: Duration = .seconds(86_400), trustedNetworks: [IPNetwork] = []) {
            self.addresses = addresses
            self.blockFor = blockFor
            self.trustedNetworks = trustedNetworks
        }
    }

    public static let id = DefenseID.honeyPots

    /// `550 5.1.1` for the trap address itself: it looks like any unknown user.
    public static let trapReply = Reply(.mailboxUnavailable, EnhancedStatusCode(5, 1, 1), "No such user here")
    /// `554 5.7.1` for what the client sends after it hit a trap.
    public static let trappedRefusal = Reply(.transactionFailed, EnhancedStatusCode(5, 7, 1), "Access denied")

    static let trappedKey = SessionAttributeKey<String>("spamtrap.hit")

    public let configuration: Configuration
    public let store: any StateStore
    let now: @Sendable () -> Date
    let logger: Logger

    public init(_ configuration: Configuration, store: any StateStore, now: @escaping @Sendable () -> Date = { Date() },
                logger: Logger = Logger(label: "mailnode.defense.spamtrap")) {
        self.configuration = configuration
        self.store = store
        self.now = now
        self.logger = logger
    }

    public var stages: HookStages { [.rcptTo, .dataStart] }

    public func rcptTo(_ recipient: EnvelopeRecipient, envelope: Envelope, session: SessionContext) async -> HookDecision {
        if session.attributes[Self.trappedKey] != nil { return .reply(Self.trappedRefusal) }
        guard !DefenseHookSupport.isExempt(session, authenticated: true, trusted: configuration.trustedNetworks),
              let mailbox = recipient.path.mailbox,
              let trap = configuration.addresses.first(where: { $0.matches(mailbox) })
        else { return .continue }
        session.attributes[Self.trappedKey] = "\(mailbox)"
        var metadata: Logger.Metadata = [
            "defense": "\(Self.id)", "session": "\(session.sessionID)", "trap": "\(mailbox)", "pattern": "\(trap)",
            "sender": "\(envelope.reversePath)",
        ]
        if let client = ClientNetworkGrouping.singleAddress.key(for: session.remoteAddress) {
            metadata["client"] = "\(client)"
            let instant = now()
            do {
                try await store.putRecord(LocalBlocklist.dynamicKey(client: client), value: "trap:\(mailbox)",
                                          expires: instant.addingTimeInterval(configuration.blockFor.seconds), at: instant)
                metadata["blocked_for"] = "\(configuration.blockFor)"
            } catch {
                metadata["error"] = "\(error)"
                logger.warning("spam trap hit; state store failed, client not blocked beyond this session", metadata: metadata)
                return .reply(Self.trapReply)
            }
        }
        logger.notice("spam trap hit; client blocked", metadata: metadata)
        return .reply(Self.trapReply)
    }

    public func dataStart(_ envelope: Envelope, session: SessionContext) async -> HookDecision {
        session.attributes[Self.trappedKey] != nil ? .reply(Self.trappedRefusal) : .continue
    }
}

extension Duration {
    /// The duration in seconds as a `TimeInterval`.
    var seconds: TimeInterval {
        let (seconds, attoseconds) = components
        return TimeInterval(seconds) + TimeInterval(attoseconds) / 1e18
    }
}
