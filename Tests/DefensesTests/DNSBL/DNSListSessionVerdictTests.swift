import Foundation
import NIOCore
import SMTPCore
import Testing

@testable import Defenses

/// ``DNSListDefense`` looking up at connect and keeping the verdict for the session: refusal at
/// RCPT TO (the default) or instead of the greeting, over ``MockResolver``, counting what reaches it.
@Suite("DNSBL verdict kept per session")
struct DNSListSessionVerdictTests {
    typealias F = DNSListFixture

    let bl = DNSListZone("bl.test")
    let rhs = DNSListZone("rhs.test", subjects: [.mailFromDomain, .heloName])

    var resolver: MockResolver {
        var dns = MockResolver()
        F.addTestPoints(&dns, bl)
        F.addTestPoints(&dns, rhs)
        F.list(&dns, bl, "192.0.2.99")
        F.list(&dns, rhs, "spam.example")
        dns.fail("11.2.0.192.bl.test", with: .serverFailure)
        return dns
    }

    func defense(_ policy: DNSListPolicy = DNSListPolicy(), zones: [DNSListZone]? = nil, resolver: any DNSResolver) -> DNSListDefense {
        DNSListDefense(checker: DNSListChecker(resolver: resolver, configuration: DNSListConfiguration(zones: zones ?? [bl], timeLimit: .seconds(300))), policy: policy)
    }

    static let bob = EnvelopeRecipient(path: .mailbox(Mailbox(localPart: "bob", host: .domain("mx.test"))))
    static let carol = EnvelopeRecipient(path: .mailbox(Mailbox(localPart: "carol", host: .domain("mx.test"))))
    static let listedReply = Reply(.mailboxUnavailable, .policyRejection, "Service unavailable; client host [192.0.2.99] blocked by a DNS block list")

    func rcpt(_ d: DNSListDefense, _ recipient: EnvelopeRecipient, from: String = "alice@ok.example", session: SessionContext) async -> HookDecision {
        await d.rcptTo(recipient, envelope: Envelope(reversePath: F.reversePath(from)), session: session)
    }

    @Test func defaultLooksUpAtConnectAndRefusesEachRCPTButPostmaster() async {
        let dns = CountingResolver(resolver)
        let d = defense(resolver: dns)
        let session = F.session("192.0.2.99")
        #expect(await d.connected(session) == .continue)   // the greeting is not held back
        #expect(await d.mailFrom(F.reversePath("alice@ok.example"), parameters: MailParameters(), session: session) == .continue)
        #expect(await rcpt(d, Self.bob, session: session) == .reply(Self.listedReply))
        #expect(await rcpt(d, EnvelopeRecipient(path: .postmaster), session: session) == .continue)
        #expect(await rcpt(d, Self.carol, session: session) == .reply(Self.listedReply))
        // one look-up of the client (plus the two RFC 5782 §5 test points and the listing's TXT),
        // however many RCPTs
        let asked = await dns.questions.map(\.description)
        #expect(asked.filter { $0.hasPrefix("99.2.0.192.bl.test ") }.count == 2, "\(asked)")   // A and TXT
        #expect(asked.count == 4, "\(asked)")
        #expect(await d.clientVerdict(in: session)?.result == .listed)
    }

    @Test func greetingIsNotDelayedByTheLookUp() async throws {
        let gate = GatedResolver(resolver)
        let d = defense(resolver: gate)
        let session = F.session("192.0.2.99")
        #expect(await d.connected(session) == .continue)
        // connected() returned while DNS had not answered yet ...
        #expect(await gate.answered == 0)
        let pending = Task { await rcpt(d, Self.bob, session: session) }
        await gate.open()
        // ... and RCPT TO waits for the answer.
        #expect(await pending.value == .reply(Self.listedReply))
    }

    @Test func connectStageRefusesInsteadOfTheGreeting() async {
        let d = defense(DNSListPolicy(stage: .connect), resolver: resolver)
        #expect(await d.connected(F.session("192.0.2.99")) == .reply(Reply(
            .transactionFailed, .policyRejection, "Service unavailable; client host [192.0.2.99] blocked by a DNS block list")))
        #expect(await d.connected(F.session("192.0.2.10")) == .continue)
        // an unanswered list: 421 and close when the policy asks for tempfail, otherwise on
        let unknown = F.session("192.0.2.11")
        #expect(await d.connected(unknown) == .continue)
        let strict = defense(DNSListPolicy(stage: .connect, onUnknown: .tempfail), resolver: resolver)
        #expect(await strict.connected(F.session("192.0.2.11")) == .disconnect(Reply(
            .serviceNotAvailable, EnhancedStatusCode(4, 4, 3), "Temporary DNS failure, try again later")))
        // nothing is refused later on
        #expect(await rcpt(d, Self.bob, session: unknown) == .continue)
    }

    @Test func withoutLookupAtConnectTheFirstStageAsksAndTheSessionKeepsIt() async {
        let dns = CountingResolver(resolver)
        let d = defense(DNSListPolicy(lookupAtConnect: false), resolver: dns)
        let session = F.session("192.0.2.99")
        #expect(await d.connected(session) == .continue)
        #expect(await dns.count == 0)
        #expect(await d.clientVerdict(in: session) == nil)
        #expect(await rcpt(d, Self.bob, session: session) == .reply(Self.listedReply))
        #expect(await rcpt(d, Self.carol, session: session) == .reply(Self.listedReply))
        #expect(await dns.questions.filter { $0.name == "99.2.0.192.bl.test" && $0.type == .a }.count == 1)
    }

    @Test func domainListsAreAskedOncePerSenderAndJoinTheClientVerdict() async {
        let dns = CountingResolver(resolver)
        let d = defense(zones: [bl, rhs], resolver: dns)
        let session = F.session("192.0.2.10", helo: .domain("client.example"))
        _ = await d.connected(session)
        #expect(await rcpt(d, Self.bob, from: "x@spam.example", session: session)
            == .reply(Reply(.mailboxUnavailable, .policyRejection, "Service unavailable; sender domain blocked by a DNS block list")))
        #expect(await rcpt(d, Self.carol, from: "x@spam.example", session: session) != .continue)
        #expect(await dns.questions.filter { $0.name == "spam.example.rhs.test" && $0.type == .a }.count == 1)
        // another transaction, another sender: asked; the client is not asked again
        #expect(await rcpt(d, Self.bob, from: "x@ok.example", session: session) == .continue)
        let asked = await dns.questions.map(\.name)
        #expect(asked.filter { $0 == "ok.example.rhs.test" }.count == 1)
        #expect(asked.filter { $0 == "10.2.0.192.bl.test" }.count == 1)
        // the combined verdict lists every look-up in configuration order
        let verdict = await d.checker.check(
            adding: await d.clientVerdict(in: session)!, helo: "client.example", mailFromDomain: "spam.example")
        #expect(verdict.lookups.map { "\($0.zone) \($0.subject)" } == ["bl.test ip", "rhs.test helo", "rhs.test mailfrom"])
        #expect(verdict.result == .listed)
    }

    @Test func connectStageStillChecksDomainListsAtMailFrom() async {
        let d = defense(DNSListPolicy(stage: .connect), zones: [bl, rhs], resolver: resolver)
        let session = F.session("192.0.2.10")
        #expect(await d.connected(session) == .continue)
        #expect(await d.mailFrom(F.reversePath("x@spam.example"), parameters: MailParameters(), session: session)
            == .reply(Reply(.mailboxUnavailable, .policyRejection, "Service unavailable; sender domain blocked by a DNS block list")))
    }

    @Test func trustedClientsAreNotLookedUp() async {
        let dns = CountingResolver(resolver)
        let d = defense(DNSListPolicy(trustedNetworks: [IPNetwork("192.0.2.96/28")!]), resolver: dns)
        let session = F.session("192.0.2.99")
        #expect(await d.connected(session) == .continue)
        #expect(await rcpt(d, Self.bob, session: session) == .continue)
        #expect(await dns.count == 0)
        #expect(await d.clientVerdict(in: session) == nil)
    }

    @Test func twoDefensesInOneSessionKeepTheirOwnVerdicts() async {
        let bl2 = DNSListZone("bl2.test")
        var dns = resolver
        F.addTestPoints(&dns, bl2)
        let first = defense(resolver: dns)
        let second = defense(zones: [bl2], resolver: dns)
        let session = F.session("192.0.2.99")
        _ = await first.connected(session)
        _ = await second.connected(session)
        #expect(await first.clientVerdict(in: session)?.result == .listed)
        #expect(await second.clientVerdict(in: session)?.result == .notListed)
        #expect(await HookChain([second, first]).rcptTo(Self.bob, envelope: Envelope(reversePath: F.reversePath("a@ok.example")), session: session)
            == .reply(Self.listedReply))
    }
}

/// A resolver that holds every question until ``open()`` (or a generous safety delay, so a bug
/// fails an expectation instead of hanging the run).
actor GatedResolver: DNSResolver {
    let inner: any DNSResolver
    private var isOpen = false
    private var waiting: [CheckedContinuation<Void, Never>] = []
    private(set) var answered = 0

    init(_ inner: any DNSResolver) {
        self.inner = inner
        Task { [weak self] in
            try? await Task.sleep(for: .seconds(60))
            await self?.open()
        }
    }

    func open() {
        isOpen = true
        for continuation in waiting { continuation.resume() }
        waiting = []
    }

    func resolve(_ question: DNSQuestion) async throws(DNSError) -> DNSResponse {
        if !isOpen {
            await withCheckedContinuation { waiting.append($0) }
        }
        answered += 1
        return try await inner.resolve(question)
    }
}
