import Foundation
import Logging
import SMTPCore

/// DM36 "bad RCPT throttle": every recipient the wrapped hooks refuse permanently (5xx — an
/// unknown user, a relay attempt) makes the client wait longer before it hears the answer, and
/// after ``Configuration/disconnectAfter`` refusals it gets `421 4.7.0` and the connection
/// closes. Dictionary attacks and address harvesting become slow and short; a sender with one
/// typo notices nothing (``Configuration/free``). Postfix's `smtpd_error_sleep_time`,
/// `smtpd_soft_error_limit` and `smtpd_hard_error_limit` and sendmail's `BadRcptThrottle`
/// are the models.
///
/// A wrapper around the hooks that refuse recipients (``HookChain`` cannot see another hook's
/// decision): every stage is passed through, and at RCPT TO a 5xx decision is counted. The
/// count is the session's own, or — with a ``StateStore`` — the client address's over
/// ``Configuration/window``, so reconnecting does not start over. Temporary refusals (4xx:
/// greylisting, rate limits) and the session's own syntax errors are not counted. The delay
/// (`(n - free) × step`, at most ``Configuration/maxDelay``) is a `Task.sleep` in the hook: it
/// holds one session, never an event loop. Log field: `defense=DM36`, `bad_rcpt=n`.
public struct BadRecipientThrottle: SessionHooks {
    public struct Configuration: Sendable, Hashable {
        /// Refusals without delay (default 2).
        public var free: Int
        /// Added delay per further refusal (default 1 s).
        public var delayStep: Duration
        /// Longest delay (default 10 s).
        public var maxDelay: Duration
        /// After this many refusals the client gets `421 4.7.0` and is disconnected (default 10).
        public var disconnectAfter: Int
        /// How long a client's refusals are remembered when a store is used (default 1 hour).
        public var window: Duration
        /// Clients from these networks are never throttled.
        public var trustedNetworks: [IPNetwork]

        public init(free: Int = 2, delayStep: Duration = .seconds(1), maxDelay: Duration = .seconds(10),
                    disconnectAfter: Int = 10, window: Duration = .seconds(3600), trustedNetworks: [IPNetwork] = []) {
            self.free = max(0, free)
            self.delayStep = delayStep
            self.maxDelay = maxDelay
            self.disconnectAfter = max(1, disconnectAfter)
            self.window = window
            self.trustedNetworks = trustedNetworks
        }

        /// The delay before answering the `count`th refusal.
        public func delay(afterRefusal count: Int) -> Duration {
            guard count > free else { return .zero }
            return min(maxDelay, delayStep * (count - free))
        }
    }

    public static let id = DefenseID.badRecipientThrottle

    /// `421 4.7.0`, then the connection closes.
    public static let disconnect = Reply(.serviceNotAvailable, EnhancedStatusCode(4, 7, 0),
                                         "Too many invalid recipients, closing connection")

    public let configuration: Configuration
    public let wrapped: any SessionHooks
    public let store: (any StateStore)?
    let now: @Sendable () -> Date
    let logger: Logger
    let countKey = SessionAttributeKey<Int>("dm36.refusals")
    /// Counts this mechanism's own disconnects (the wrapped hooks' refusals are theirs).
    let metrics: DefenseMetrics?

    public init(_ configuration: Configuration = .init(), wrapping hooks: any SessionHooks, store: (any StateStore)? = nil,
                now: @escaping @Sendable () -> Date = { Date() },
                logger: Logger = Logger(label: "mailnode.defense.badrcpt"), metrics: DefenseMetrics? = nil) {
        self.configuration = configuration
        self.wrapped = hooks
        self.store = store
        self.now = now
        self.logger = logger
        self.metrics = metrics
    }

    public var stages: HookStages { wrapped.stages.union(.rcptTo) }

    public func connected(_ session: SessionContext) async -> HookDecision { await wrapped.connected(session) }
    public func helo(_ name: MailHost, session: SessionContext) async -> HookDecision { await wrapped.helo(name, session: session) }
    public func mailFrom(_ path: ReversePath, parameters: MailParameters, session: SessionContext) async -> HookDecision {
        await wrapped.mailFrom(path, parameters: parameters, session: session)
    }
    public func dataStart(_ envelope: Envelope, session: SessionContext) async -> HookDecision {
        await wrapped.dataStart(envelope, session: session)
    }
    public func dataEnd(_ envelope: Envelope, summary: MessageDataSummary, session: SessionContext) async -> HookDecision {
        await wrapped.dataEnd(envelope, summary: summary, session: session)
    }

    public func rcptTo(_ recipient: EnvelopeRecipient, envelope: Envelope, session: SessionContext) async -> HookDecision {
        let decision = wrapped.stages.contains(.rcptTo)
            ? await wrapped.rcptTo(recipient, envelope: envelope, session: session) : .continue
        guard case .reply(let reply) = decision, reply.code.isPermanentFailure,
              !DefenseHookSupport.isExempt(session, authenticated: false, trusted: configuration.trustedNetworks)
        else { return decision }
        let count = await refusals(session)
        let metadata: Logger.Metadata = [
            "defense": "\(Self.id)", "session": "\(session.sessionID)", "bad_rcpt": "\(count)",
            "client": "\(DefenseHookSupport.clientIP(session)?.description ?? "-")", "rcpt": "\(recipient.path)",
        ]
        if count >= configuration.disconnectAfter {
            logger.notice("too many bad recipients; disconnecting", metadata: metadata)
            metrics?.record(Self.id.rawValue, .disconnected)
            return .disconnect(Self.disconnect)
        }
        let delay = configuration.delay(afterRefusal: count)
        if delay > .zero {
            logger.info("bad recipient; tarpit", metadata: metadata.merging(["delay": "\(delay)"]) { $1 })
            try? await Task.sleep(for: delay)
        }
        return decision
    }

    /// This refusal's number: the session's count, or the client's in the store.
    private func refusals(_ session: SessionContext) async -> Int {
        let local = (session.attributes[countKey] ?? 0) + 1   // hooks of one session run one after another
        session.attributes[countKey] = local
        guard let store, let client = ClientNetworkGrouping.singleAddress.key(for: session.remoteAddress) else { return local }
        do {
            return try await store.increment("badrcpt:\(client)", window: StateWindow(configuration.window), at: now())
        } catch {
            logger.warning("state store failed; counting this session only", metadata: [
                "defense": "\(Self.id)", "session": "\(session.sessionID)", "error": "\(error)",
            ])
            return local
        }
    }
}
