import NIOConcurrencyHelpers
import Testing
@testable import SMTPCore

@Suite struct HookChainTests {
    /// Records that it ran and answers a fixed decision at RCPT.
    final class Probe: SessionHooks {
        let decision: HookDecision
        let calls = NIOLockedValueBox(0)
        init(_ decision: HookDecision) { self.decision = decision }
        func rcptTo(_ recipient: EnvelopeRecipient, envelope: Envelope, session: SessionContext) async -> HookDecision {
            calls.withLockedValue { $0 += 1 }
            return decision
        }
    }

    @Test func firstNonContinueWinsAndLaterHooksDoNotRun() async {
        let pass = Probe(.continue)
        let reject = Probe(.reply(Reply(.mailboxUnavailable, .badDestinationMailbox, "No such user")))
        let never = Probe(.reply(.ok))
        let chain = HookChain([pass, reject, never])
        let decision = await chain.rcptTo(EnvelopeRecipient(path: .postmaster), envelope: Envelope(reversePath: .null),
                                          session: SessionContext(sessionID: "t"))
        #expect(decision == .reply(Reply(.mailboxUnavailable, .badDestinationMailbox, "No such user")))
        #expect(pass.calls.withLockedValue { $0 } == 1)
        #expect(never.calls.withLockedValue { $0 } == 0)
        #expect(await HookChain([pass]).rcptTo(EnvelopeRecipient(path: .postmaster), envelope: Envelope(reversePath: .null),
                                               session: SessionContext(sessionID: "t")) == .continue)
    }
}
