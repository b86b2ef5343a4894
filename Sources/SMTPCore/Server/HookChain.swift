/// Several hooks run in order at each stage; the first decision that is not `.continue` wins
/// (cheap checks first, as a role assembly orders them). `dataEnd` stops at the first rejection too.
public struct HookChain: SessionHooks {
    public let hooks: [any SessionHooks]

    public init(_ hooks: [any SessionHooks]) {
        self.hooks = hooks
    }

    /// Every stage at least one of the hooks implements.
    public var stages: HookStages {
        hooks.reduce(into: []) { $0.formUnion($1.stages) }
    }

    private func first(_ decide: (any SessionHooks) async -> HookDecision) async -> HookDecision {
        for hook in hooks {
            let decision = await decide(hook)
            if decision != .continue { return decision }
        }
        return .continue
    }

    public func connected(_ session: SessionContext) async -> HookDecision {
        await first { await $0.connected(session) }
    }

    public func helo(_ name: MailHost, session: SessionContext) async -> HookDecision {
        await first { await $0.helo(name, session: session) }
    }

    public func mailFrom(_ path: ReversePath, parameters: MailParameters, session: SessionContext) async -> HookDecision {
        await first { await $0.mailFrom(path, parameters: parameters, session: session) }
    }

    public func rcptTo(_ recipient: EnvelopeRecipient, envelope: Envelope, session: SessionContext) async -> HookDecision {
        await first { await $0.rcptTo(recipient, envelope: envelope, session: session) }
    }

    public func dataStart(_ envelope: Envelope, session: SessionContext) async -> HookDecision {
        await first { await $0.dataStart(envelope, session: session) }
    }

    public func dataEnd(_ envelope: Envelope, summary: MessageDataSummary, session: SessionContext) async -> HookDecision {
        await first { await $0.dataEnd(envelope, summary: summary, session: session) }
    }
}
