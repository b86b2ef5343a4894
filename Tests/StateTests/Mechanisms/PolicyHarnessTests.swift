import Defenses
import Foundation
import MailnodeTesting
import SMTPCore
import Testing

/// MailnodeTesting's PolicyHarness, as a library user would use it: an own policy and mailnode's
/// mechanisms in a real SMTPSession without sockets.
@Suite("MailnodeTesting PolicyHarness")
struct PolicyHarnessTests {
    /// A user's own policy: no mail from `*.bulk.example` on Sundays... here simply: none at all,
    /// and recipients at `vip.example` only for messages under a size.
    struct MyPolicy: SessionHooks {
        var stages: HookStages { [.mailFrom, .dataEnd] }
        func mailFrom(_ path: ReversePath, parameters: MailParameters, session: SessionContext) async -> HookDecision {
            guard let host = path.mailbox?.host, "\(host)".hasSuffix(".bulk.example") else { return .continue }
            return .reply(Reply(.mailboxUnavailable, EnhancedStatusCode(5, 7, 1), "No bulk mail"))
        }
        func dataEnd(_ envelope: Envelope, summary: MessageDataSummary, session: SessionContext) async -> HookDecision {
            summary.octets > 100 ? .reply(Reply(.exceededStorage, EnhancedStatusCode(5, 3, 4), "Too big for this policy")) : .continue
        }
    }

    @Test func ownPolicyInARealSession() async {
        var smtp = PolicyHarness(hooks: HookChain([RelayControl(.init(localDomains: ["d.example"])), MyPolicy()]))
        #expect(await smtp.start()?.code.rawValue == 220)
        #expect(await smtp.command("EHLO client.example")?.code.rawValue == 250)
        #expect(await smtp.command("MAIL FROM:<x@mx.bulk.example>")?.code.rawValue == 550)
        #expect(await smtp.command("MAIL FROM:<x@good.example>")?.code.rawValue == 250)
        #expect(await smtp.command("RCPT TO:<u@elsewhere.example>")?.code.rawValue == 554)   // relay control
        #expect(await smtp.command("RCPT TO:<u@d.example>")?.code.rawValue == 250)
        #expect(await smtp.command("DATA")?.code.rawValue == 354)
        #expect(await smtp.data("Subject: hi\r\n\r\n.a line starting with a dot\r\n")?.code.rawValue == 250)
        #expect(smtp.messages.count == 1)
        #expect(smtp.messages.first.map { String(buffer: $0.data) } == "Subject: hi\r\n\r\n.a line starting with a dot\r\n")
        #expect(await smtp.command("MAIL FROM:<x@good.example>")?.code.rawValue == 250)
        #expect(await smtp.command("RCPT TO:<u@d.example>")?.code.rawValue == 250)
        #expect(await smtp.command("DATA")?.code.rawValue == 354)
        #expect(await smtp.data(String(repeating: "x", count: 200))?.code.rawValue == 552)
        #expect(smtp.messages.count == 1)
        #expect(smtp.transcript.contains("C: MAIL FROM:<x@mx.bulk.example>"))
        #expect(smtp.transcript.contains { $0.hasPrefix("S: 550 5.7.1") })
    }

    @Test func mailnodeMechanismsWithTheirStores() async throws {
        let store = MemoryStateStore()
        let traps = SpamTrap(.init(addresses: [try #require(AddressPattern("trap@d.example"))]), store: store)
        let block = try LocalBlocklist(.init(), store: store)
        var first = PolicyHarness(hooks: HookChain([block, traps]), client: "198.51.100.7")
        #expect(await first.start()?.code.rawValue == 220)
        #expect(await first.command("HELO spam.example")?.code.rawValue == 250)
        #expect(await first.command("MAIL FROM:<s@spam.example>")?.code.rawValue == 250)
        #expect(await first.command("RCPT TO:<trap@d.example>")?.code.rawValue == 550)
        var second = PolicyHarness(hooks: HookChain([block, traps]), client: "198.51.100.7")
        #expect(await second.start()?.code.rawValue == 554)
        #expect(second.isClosed)
        var neighbour = PolicyHarness(hooks: HookChain([block, traps]), client: "198.51.100.8")
        #expect(await neighbour.start()?.code.rawValue == 220)
    }

    @Test func timeoutsFollowTheHarnessClock() async {
        var limits = SMTPLimits()
        limits.commandTimeout = 60
        var smtp = PolicyHarness(hooks: NoHooks(), configuration: SMTPSessionConfiguration(hostname: "mx.test", limits: limits))
        #expect(await smtp.start()?.code.rawValue == 220)
        #expect(await smtp.advance(by: .seconds(30)).isEmpty)
        #expect(await smtp.advance(by: .seconds(31)).first?.code.rawValue == 421)
        #expect(smtp.isClosed)
    }
}
