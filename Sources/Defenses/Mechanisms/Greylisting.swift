import Foundation
import Logging
import SMTPCore

/// DM22 greylisting: the first attempt of an unknown (client network, sender, recipient)
/// triplet gets `451 4.7.1`; a retry after ``Configuration/delay`` and within
/// ``Configuration/retryWindow`` passes, and the triplet is then remembered as passed for
/// ``Configuration/passLifetime`` (every use renews it). A client network whose triplets passed
/// ``Configuration/autoAllowlistAfter`` times is no longer greylisted at all (auto-allowlisting).
///
/// After E. Harris, "The Next Step in the Spam Control War: Greylisting" (2003) and
/// [RFC 6647](https://www.rfc-editor.org/rfc/rfc6647) (the applicability statement: §2.1
/// triplet, §4.1 grouping clients by network, §4.4 the delay, §5 allowlisting); defaults as
/// Postgrey's (delay 300 s, retry window 2 days, 5 passes to allowlist a client) and Harris'
/// 36-day lifetime of a passed triplet.
///
/// **SPF exemption** (the paper: greylisting "only for mail whose sender has no SPF pass"): a
/// sender whose SPF result is `pass` is never greylisted. The result comes from the session
/// when an SPF hook kept one (``SPFSessionResult``); otherwise from ``spfCheck`` when one is
/// given (the mx role passes an ``SPFChecker`` over the system resolver); otherwise there is no
/// exemption. A store failure lets the recipient pass (logged): a broken database must not
/// stop mail.
///
/// State is kept in a ``StateStore`` (`greylist:` triplet records, `greylist-passes:` counters,
/// `greylist-client:` allowlist records); several nodes on one PostgreSQL store share it.
/// The log field is `defense=DM22` with `greylist=new|early|passed|known|allowlisted|spf-pass`.
public struct Greylisting: SessionHooks {
    public struct Configuration: Sendable, Hashable {
        /// How long a new triplet is refused (default 5 minutes).
        public var delay: Duration
        /// How long after the first attempt a retry still counts; a later one starts over
        /// (default 2 days).
        public var retryWindow: Duration
        /// How long a passed triplet (and an auto-allowlisted client network) is remembered
        /// after its last use (default 36 days).
        public var passLifetime: Duration
        /// Passed triplets after which the client network is allowlisted (default 5; 0: never).
        public var autoAllowlistAfter: Int
        /// How clients are grouped into networks (default /24 and /64).
        public var grouping: ClientNetworkGrouping
        /// Sessions from these networks are never greylisted (e.g. upstream stages).
        public var trustedNetworks: [IPNetwork]
        /// Authenticated sessions are never greylisted (default on).
        public var exemptAuthenticated: Bool
        /// Whether a sender with SPF `pass` is exempt (default on, as the paper asks).
        public var exemptSPFPass: Bool

        public init(delay: Duration = .seconds(300), retryWindow: Duration = .seconds(2 * 86_400),
                    passLifetime: Duration = .seconds(36 * 86_400), autoAllowlistAfter: Int = 5,
                    grouping: ClientNetworkGrouping = .init(), trustedNetworks: [IPNetwork] = [],
                    exemptAuthenticated: Bool = true, exemptSPFPass: Bool = true) {
            self.delay = delay
            self.retryWindow = retryWindow
            self.passLifetime = passLifetime
            self.autoAllowlistAfter = autoAllowlistAfter
            self.grouping = grouping
            self.trustedNetworks = trustedNetworks
            self.exemptAuthenticated = exemptAuthenticated
            self.exemptSPFPass = exemptSPFPass
        }
    }

    /// Checks SPF for the MAIL FROM identity of a session when no SPF hook kept a result.
    public typealias SPFCheck = @Sendable (_ reversePath: ReversePath, _ session: SessionContext) async -> SPFResult?

    /// The exemption's check through an ``SPFChecker``: the MAIL FROM identity of the session's
    /// client ([RFC 7208 §2.4](https://www.rfc-editor.org/rfc/rfc7208#section-2.4)); `nil` for a
    /// session without an IP client.
    public static func spfCheck(using checker: SPFChecker) -> SPFCheck {
        { reversePath, session in
            guard let client = DefenseHookSupport.clientIP(session) else { return nil }
            let mailFrom = reversePath.mailbox.map { "\($0)" } ?? ""
            return await checker.checkMailFrom(clientIP: client, mailFrom: mailFrom,
                                               helo: session.heloName.map { "\($0)" } ?? "").result
        }
    }

    /// What happened to one recipient (the `greylist` log field).
    public enum Outcome: String, Sendable, Hashable {
        /// A first attempt: refused, the triplet recorded.
        case new
        /// A retry before the delay ran out: refused.
        case early
        /// A retry after the delay: accepted, the triplet remembered.
        case passed
        /// A triplet that passed before: accepted.
        case known
        /// The client network is auto-allowlisted: accepted.
        case allowlisted
        /// The sender's SPF result is `pass`: accepted without greylisting.
        case spfPass = "spf-pass"
        /// Trusted network or authenticated session: not greylisted.
        case exempt
        /// The store failed: accepted (fail open).
        case storeFailed = "store-failed"

        /// Whether the recipient is refused for now.
        public var isDeferred: Bool { self == .new || self == .early }
    }

    public static let id = DefenseID.greylisting

    /// `451 4.7.1` (RFC 6647 §2.1: a temporary failure; RFC 3463 X.7.1 policy).
    public static let deferral = Reply(.localError, EnhancedStatusCode(4, 7, 1), "Greylisted, please try again later")

    public let configuration: Configuration
    public let store: any StateStore
    let spfCheck: SPFCheck?
    let now: @Sendable () -> Date
    let logger: Logger

    public init(_ configuration: Configuration = .init(), store: any StateStore, spfCheck: SPFCheck? = nil,
                now: @escaping @Sendable () -> Date = { Date() },
                logger: Logger = Logger(label: "mailnode.defense.greylist")) {
        self.configuration = configuration
        self.store = store
        self.spfCheck = spfCheck
        self.now = now
        self.logger = logger
    }

    public var stages: HookStages { .rcptTo }

    public func rcptTo(_ recipient: EnvelopeRecipient, envelope: Envelope, session: SessionContext) async -> HookDecision {
        let outcome = await evaluate(reversePath: envelope.reversePath, recipient: recipient.path, session: session)
        return outcome.isDeferred ? .reply(Self.deferral) : .continue
    }

    /// Decides one recipient and records what it learnt. Public so that a policy can greylist
    /// at another stage (e.g. once per message at DATA).
    public func evaluate(reversePath: ReversePath, recipient: ForwardPath, session: SessionContext) async -> Outcome {
        let outcome: Outcome
        if DefenseHookSupport.isExempt(session, authenticated: configuration.exemptAuthenticated,
                                       trusted: configuration.trustedNetworks) {
            outcome = .exempt
        } else if configuration.exemptSPFPass, await spfResult(reversePath, session: session) == .pass {
            outcome = .spfPass
        } else if let network = configuration.grouping.key(for: session.remoteAddress) {
            do {
                outcome = try await decide(network: network, reversePath: reversePath, recipient: recipient)
            } catch {
                logger.warning("state store failed; not greylisting", metadata: [
                    "defense": "\(Self.id)", "session": "\(session.sessionID)", "error": "\(error)",
                ])
                outcome = .storeFailed
            }
        } else {
            outcome = .exempt   // no IP peer (a Unix socket): nothing to key on
        }
        log(outcome, reversePath: reversePath, recipient: recipient, session: session)
        return outcome
    }

    private func spfResult(_ reversePath: ReversePath, session: SessionContext) async -> SPFResult? {
        if let kept = SPFSessionResult.result(for: reversePath, in: session) { return kept }
        guard let spfCheck else { return nil }
        let result = await spfCheck(reversePath, session)
        if let result { SPFSessionResult.store(result, for: reversePath, in: session) }
        return result
    }

    private func decide(network: String, reversePath: ReversePath, recipient: ForwardPath) async throws -> Outcome {
        let now = now()
        let lifetime = TimeInterval(configuration.passLifetime.components.seconds)
        if configuration.autoAllowlistAfter > 0, try await store.record("greylist-client:\(network)", at: now) != nil {
            return .allowlisted
        }
        let sender = reversePath.mailbox.map { "\($0)".lowercased() } ?? ""
        let key = "greylist:\(network)|\(sender)|\(Self.recipientText(recipient))"
        let record = try await store.insertRecord(
            key, value: "pending", expires: now.addingTimeInterval(TimeInterval(configuration.retryWindow.components.seconds)), at: now)
        if record.value == "passed" {
            try await store.putRecord(key, value: "passed", expires: now.addingTimeInterval(lifetime), at: now)
            return .known
        }
        if record.created == StateTime.date(StateTime.milliseconds(now)) { return .new }
        let delay = Double(configuration.delay.components.seconds) + Double(configuration.delay.components.attoseconds) / 1e18
        guard now.timeIntervalSince(record.created) >= delay else { return .early }
        try await store.putRecord(key, value: "passed", expires: now.addingTimeInterval(lifetime), at: now)
        if configuration.autoAllowlistAfter > 0 {
            let passes = try await store.increment("greylist-passes:\(network)",
                                                   window: StateWindow(configuration.passLifetime), at: now)
            if passes >= configuration.autoAllowlistAfter {
                try await store.putRecord("greylist-client:\(network)", value: "allow",
                                          expires: now.addingTimeInterval(lifetime), at: now)
            }
        }
        return .passed
    }

    static func recipientText(_ path: ForwardPath) -> String {
        switch path {
        case .postmaster: return "postmaster"
        case .mailbox(let mailbox): return "\(mailbox)".lowercased()
        }
    }

    private func log(_ outcome: Outcome, reversePath: ReversePath, recipient: ForwardPath, session: SessionContext) {
        guard logger.logLevel <= (outcome.isDeferred ? .notice : .debug) else { return }   // metadata only for a written line
        let metadata: Logger.Metadata = [
            "defense": "\(Self.id)", "session": "\(session.sessionID)", "greylist": "\(outcome.rawValue)",
            "client": "\(DefenseHookSupport.clientIP(session)?.description ?? "-")",
            "from": "\(reversePath)", "rcpt": "\(recipient)",
        ]
        if outcome.isDeferred {
            logger.notice("greylisted", metadata: metadata)
        } else {
            logger.debug("greylist", metadata: metadata)
        }
    }
}
