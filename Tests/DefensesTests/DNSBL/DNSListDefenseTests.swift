import Testing
import NIOCore
import SMTPCore

@testable import Defenses

/// ``DNSListDefense``: verdict → action → hook decision, over ``MockResolver`` (deciding at MAIL
/// FROM unless a test says otherwise; the session-kept verdict is in `DNSListSessionVerdictTests`).
@Suite("DNSBL stage hook and policy")
struct DNSListDefenseTests {
    typealias F = DNSListFixture

    let bl = DNSListZone("bl.test")
    let rhs = DNSListZone("rhs.test", subjects: [.mailFromDomain, .heloName])

    func defense(_ policy: DNSListPolicy = DNSListPolicy(stage: .mailFrom), configure: (inout MockResolver) -> Void = { _ in }) -> DNSListDefense {
        var dns = MockResolver()
        F.addTestPoints(&dns, bl)
        F.addTestPoints(&dns, rhs)
        F.list(&dns, bl, "192.0.2.99", txt: "secret list reason")
        F.list(&dns, bl, "2001:db8::99")
        F.list(&dns, rhs, "spam.example")
        configure(&dns)
        return DNSListDefense(checker: DNSListChecker(resolver: dns, configuration: DNSListConfiguration(zones: [bl, rhs], timeLimit: .seconds(300))), policy: policy)
    }

    func mail(_ d: DNSListDefense, from: String = "alice@ok.example", session: SessionContext) async -> HookDecision {
        await d.mailFrom(F.reversePath(from), parameters: MailParameters(), session: session)
    }

    @Test func listedClientIsRejectedWithGenericText() async {
        let decision = await mail(defense(), session: F.session("192.0.2.99"))
        #expect(decision == .reply(Reply(.mailboxUnavailable, .policyRejection,
                                         "Service unavailable; client host [192.0.2.99] blocked by a DNS block list")))
        // never the list's TXT, never the zone by default
        if case .reply(let reply) = decision {
            #expect(!reply.wireText.contains("secret") && !reply.wireText.contains("bl.test"))
        }
        let v6 = await mail(defense(), session: F.session("2001:db8::99"))
        #expect(v6 == .reply(Reply(.mailboxUnavailable, .policyRejection,
                                   "Service unavailable; client host [2001:db8::99] blocked by a DNS block list")))
    }

    @Test func zonesInReplyWhenConfigured() async {
        let decision = await mail(defense(DNSListPolicy(stage: .mailFrom, nameZonesInReply: true)), session: F.session("192.0.2.99"))
        #expect(decision == .reply(Reply(.mailboxUnavailable, .policyRejection,
                                         "Service unavailable; client host [192.0.2.99] blocked by a DNS block list (bl.test)")))
    }

    @Test func senderDomainListing() async {
        let decision = await mail(defense(), from: "bob@spam.example", session: F.session("192.0.2.10"))
        #expect(decision == .reply(Reply(.mailboxUnavailable, .policyRejection, "Service unavailable; sender domain blocked by a DNS block list")))
        let helo = await mail(defense(), session: F.session("192.0.2.10", helo: .domain("spam.example")))
        #expect(helo == .reply(Reply(.mailboxUnavailable, .policyRejection, "Service unavailable; HELO name blocked by a DNS block list")))
    }

    @Test func cleanClientContinues() async {
        #expect(await mail(defense(), session: F.session("192.0.2.10")) == .continue)
    }

    @Test(arguments: [DefenseAction.tag, .ignore])
    func listedButTagOrIgnoreContinues(_ action: DefenseAction) async {
        #expect(await mail(defense(DNSListPolicy(stage: .mailFrom, onListed: action)), session: F.session("192.0.2.99")) == .continue)
    }

    @Test func listedWithTempfailPolicy() async {
        #expect(await mail(defense(DNSListPolicy(stage: .mailFrom, onListed: .tempfail)), session: F.session("192.0.2.99")) == .reply(DefenseReplies.temporaryDNSFailure))
    }

    @Test func unknownNeverGivesA5xx() async {
        let broken: (inout MockResolver) -> Void = { $0.fail("10.2.0.192.bl.test", with: .serverFailure) }
        // default: a dead list does not stop mail
        #expect(await mail(defense(configure: broken), session: F.session("192.0.2.10")) == .continue)
        // tempfail on request
        #expect(await mail(defense(DNSListPolicy(stage: .mailFrom, onUnknown: .tempfail), configure: broken), session: F.session("192.0.2.10"))
            == .reply(Reply(.localError, EnhancedStatusCode(4, 4, 3), "Temporary DNS failure, try again later")))
        // even "reject" becomes a 4xx
        let decision = await mail(defense(DNSListPolicy(stage: .mailFrom, onUnknown: .reject), configure: broken), session: F.session("192.0.2.10"))
        guard case .reply(let reply) = decision else { Issue.record("no reply"); return }
        #expect(reply.code.isTransientFailure)
    }

    @Test func exemptions() async {
        let d = defense(DNSListPolicy(stage: .mailFrom, trustedNetworks: [IPNetwork("192.0.2.96/28")!]))
        #expect(await mail(d, session: F.session("192.0.2.99", user: "alice")) == .continue)   // authenticated
        #expect(await mail(d, session: F.session("192.0.2.99")) == .continue)                   // trusted network
        let strict = defense(DNSListPolicy(stage: .mailFrom, exemptAuthenticated: false))
        #expect(await mail(strict, session: F.session("192.0.2.99", user: "alice")) != .continue)
    }

    @Test func rcptStageLetsPostmasterThrough() async {
        let d = defense(DNSListPolicy(stage: .rcptTo))
        let session = F.session("192.0.2.99")
        #expect(await mail(d, session: session) == .continue)   // not at MAIL FROM
        let envelope = Envelope(reversePath: F.reversePath("alice@ok.example"))
        #expect(await d.rcptTo(EnvelopeRecipient(path: .postmaster), envelope: envelope, session: session) == .continue)
        let user = ForwardPath.mailbox(Mailbox(localPart: "bob", host: .domain("mx.test")))
        #expect(await d.rcptTo(EnvelopeRecipient(path: user), envelope: envelope, session: session) != .continue)
    }

    @Test func allowedContinuesEvenWhenBlocked() async {
        let wl = DNSListZone("wl.test", kind: .allow)
        var dns = MockResolver()
        F.addTestPoints(&dns, bl)
        F.addTestPoints(&dns, wl)
        F.list(&dns, bl, "192.0.2.99")
        F.list(&dns, wl, "192.0.2.99")
        let d = DNSListDefense(checker: DNSListChecker(resolver: dns, configuration: DNSListConfiguration(zones: [bl, wl], timeLimit: .seconds(300))),
                               policy: DNSListPolicy(stage: .mailFrom))
        #expect(await mail(d, session: F.session("192.0.2.99")) == .continue)
    }
}
