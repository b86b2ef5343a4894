import SMTPCore

/// Counts what one defense mechanism decides in ``DefenseMetrics`` (DESIGN.md §3.6: a metric
/// counter per defense): a 5xx reply as `rejected`, a 4xx as `deferred`, a closed connection as
/// `disconnected`. The decisions themselves pass through unchanged. A role assembly wraps each
/// mechanism of its chain in one (``MailNode`` does); mechanisms that wrap others (DM21's gate,
/// DM36) count for themselves instead, so an inner refusal is never counted twice.
public struct MeteredHooks: SessionHooks {
    public let id: DefenseID
    public let wrapped: any SessionHooks
    public let metrics: DefenseMetrics

    public init(_ id: DefenseID, _ wrapped: any SessionHooks, metrics: DefenseMetrics) {
        self.id = id
        self.wrapped = wrapped
        self.metrics = metrics
    }

    public var stages: HookStages { wrapped.stages }

    /// The outcome a decision counts as, if any.
    public static func outcome(of decision: HookDecision) -> DefenseMetrics.Outcome? {
        switch decision {
        case .continue: nil
        case .disconnect: .disconnected
        case .reply(let reply):
            reply.code.isPermanentFailure ? .rejected : reply.code.isTransientFailure ? .deferred : nil
        }
    }

    func counted(_ decision: HookDecision) -> HookDecision {
        if let outcome = Self.outcome(of: decision) { metrics.record(id.rawValue, outcome) }
        return decision
    }

    public func connected(_ session: SessionContext) async -> HookDecision {
        counted(await wrapped.connected(session))
    }

    public func helo(_ name: MailHost, session: SessionContext) async -> HookDecision {
        counted(await wrapped.helo(name, session: session))
    }

    public func mailFrom(_ path: ReversePath, parameters: MailParameters, session: SessionContext) async -> HookDecision {
        counted(await wrapped.mailFrom(path, parameters: parameters, session: session))
    }

    public func rcptTo(_ recipient: EnvelopeRecipient, envelope: Envelope, session: SessionContext) async -> HookDecision {
        counted(await wrapped.rcptTo(recipient, envelope: envelope, session: session))
    }

    public func dataStart(_ envelope: Envelope, session: SessionContext) async -> HookDecision {
        counted(await wrapped.dataStart(envelope, session: session))
    }

    public func dataEnd(_ envelope: Envelope, summary: MessageDataSummary, session: SessionContext) async -> HookDecision {
        counted(await wrapped.dataEnd(envelope, summary: summary, session: session))
    }
}
