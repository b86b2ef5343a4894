import Testing
import SMTPCore

@testable import Defenses

/// ``SenderCheckDefense``: each verdict through ``SenderCheckPolicy`` to a hook decision.
@Suite("Sender-check stage hook and policy")
struct SenderCheckDefenseTests {
    typealias F = DNSListFixture

    func defense(_ policy: SenderCheckPolicy = SenderCheckPolicy()) -> SenderCheckDefense {
        SenderCheckDefense(
            checker: SenderChecker(resolver: SenderCheckerTests.dns(), configuration: SenderCheckConfiguration(localNames: ["mx.ours.example"])),
            policy: policy)
    }

    func mail(_ d: SenderCheckDefense, _ from: String, client: String = "192.0.2.10", user: String? = nil) async -> HookDecision {
        let path: ReversePath = from.isEmpty ? .null : F.reversePath(from)
        return await d.mailFrom(path, parameters: MailParameters(), session: F.session(client, user: user))
    }

    func reply(_ decision: HookDecision) -> Reply? {
        if case .reply(let reply) = decision { return reply }
        return nil
    }

    @Test func nullMXSenderGets550_5_7_27() async {
        // RFC 7505 §4.2 (sender) — not 556 5.1.10, which is for a recipient domain (§4.1)
        #expect(await mail(defense(), "a@nullmx.example") == .reply(Reply(.mailboxUnavailable, EnhancedStatusCode(5, 7, 27), "Sender address has null MX")))
    }

    @Test func unknownSenderDomains() async {
        #expect(reply(await mail(defense(), "a@nx.example"))?.description == "550 5.1.8 Sender address rejected: domain not found")
        #expect(reply(await mail(defense(), "a@nomail.example"))?.description == "550 5.1.8 Sender address rejected: domain has no mail server")
        #expect(await mail(defense(), "a@good.example") == .continue)
        #expect(await mail(defense(), "a@implicit.example") == .continue)
        #expect(await mail(defense(), "") == .continue)   // <> is never checked
    }

    @Test func senderDomainTemperrorIsA4xxEvenWhenRejectIsConfigured() async {
        #expect(await mail(defense(), "a@temp.example") == .reply(DefenseReplies.temporaryDNSFailure))
        var policy = SenderCheckPolicy()
        policy.senderDomain[.temperror] = .reject
        #expect(await mail(defense(policy), "a@temp.example") == .reply(DefenseReplies.temporaryDNSFailure))
        policy.senderDomain[.temperror] = .ignore
        #expect(await mail(defense(policy), "a@temp.example") == .continue)
    }

    @Test func iprevTagsByDefaultAndRejectsOnRequest() async {
        #expect(await mail(defense(), "a@good.example", client: "192.0.2.20") == .continue)   // fail → tag
        var policy = SenderCheckPolicy()
        policy.iprev[.fail] = .reject
        policy.iprev[.temperror] = .reject
        #expect(reply(await mail(defense(policy), "a@good.example", client: "192.0.2.20"))?.description
            == "550 5.7.25 Reverse DNS validation failed for [192.0.2.20]")   // RFC 7372 X.7.25
        #expect(await mail(defense(policy), "a@good.example", client: "192.0.2.10") == .continue)
        // temperror: never a 5xx
        #expect(await mail(defense(policy), "a@good.example", client: "192.0.2.60") == .reply(DefenseReplies.temporaryDNSFailure))
    }

    @Test func senderRejectionWinsOverIPRevTempfail() async {
        var policy = SenderCheckPolicy()
        policy.iprev[.temperror] = .tempfail
        #expect(reply(await mail(defense(policy), "a@nullmx.example", client: "192.0.2.60"))?.code.rawValue == 550)
    }

    @Test func heloDecisions() async {
        let d = defense()
        let session = F.session("192.0.2.10")
        #expect(await d.helo(.domain("host.example"), session: session) == .continue)
        #expect(reply(await d.helo(.domain("localhost"), session: session))?.description
            == "504 5.5.2 HELO name must be a fully-qualified domain name or an address literal")
        #expect(reply(await d.helo(.domain("mx.ours.example"), session: session))?.description
            == "550 5.7.1 HELO name rejected: it names this server")
        // the literal of the address the client connected to (192.0.2.1 in the fixture session)
        #expect(reply(await d.helo(.ipv4("192.0.2.1"), session: session))?.code.rawValue == 550)
        // RFC 5321 §4.1.4: mismatches are tagged, not refused
        #expect(await d.helo(.ipv4("192.0.2.11"), session: session) == .continue)
        #expect(await d.helo(.domain("nx.example"), session: session) == .continue)
        #expect(await d.helo(.domain("temp.example"), session: session) == .continue)
        var strict = SenderCheckPolicy()
        strict.helo[.unresolvable] = .reject
        strict.helo[.temperror] = .reject
        #expect(reply(await defense(strict).helo(.domain("nx.example"), session: session))?.description == "550 5.7.1 HELO name does not resolve")
        #expect(await defense(strict).helo(.domain("temp.example"), session: session) == .reply(DefenseReplies.temporaryDNSFailure))
    }

    @Test func exemptionsAndSwitches() async {
        #expect(await mail(defense(), "a@nullmx.example", user: "alice") == .continue)
        let trusted = defense(SenderCheckPolicy(trustedNetworks: [IPNetwork("192.0.2.0/24")!]))
        #expect(await mail(trusted, "a@nullmx.example") == .continue)
        #expect(await trusted.helo(.domain("localhost"), session: F.session("192.0.2.10")) == .continue)
        let off = defense(SenderCheckPolicy(checkHELO: false, checkSenderDomain: false, checkIPRev: false))
        #expect(await mail(off, "a@nullmx.example") == .continue)
        #expect(await off.helo(.domain("localhost"), session: F.session("192.0.2.10")) == .continue)
    }

    @Test func actionsForTemporaryFailures() {
        #expect(DefenseAction.reject.forTemporaryFailure == .tempfail)
        #expect(DefenseAction.tag.forTemporaryFailure == .tag)
        // a reject action with a 4xx reply stays 4xx; a tempfail with a 5xx reply falls back to 4xx
        let four = DefenseReplies.temporaryDNSFailure
        let five = Reply(.mailboxUnavailable, .policyRejection, "x")
        #expect(DefenseAction.reject.decision(reject: four, tempfail: four) == .reply(four))
        #expect(DefenseAction.tempfail.decision(reject: five, tempfail: five) == .reply(four))
    }
}
