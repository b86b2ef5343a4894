import Defenses
import Foundation
import NIOCore
import SMTPCore
import Testing

@Suite("DM22 greylisting")
struct GreylistingTests {
    static func session(_ ip: String) throws -> SessionContext {
        SessionContext(sessionID: "t-\(ip)", remoteAddress: try SocketAddress(ipAddress: ip, port: 40000))
    }

    static func sender(_ text: String) -> ReversePath {
        .mailbox(Mailbox(localPart: String(text.split(separator: "@")[0]), host: .domain(String(text.split(separator: "@")[1]))))
    }

    static func rcpt(_ text: String) -> ForwardPath {
        .mailbox(Mailbox(localPart: String(text.split(separator: "@")[0]), host: .domain(String(text.split(separator: "@")[1]))))
    }

    @Test("new, early, passed after the delay, known; a stale pending triplet starts over", arguments: StoreBackend.allCases)
    func lifecycle(backend: StoreBackend) async throws {
        try await backend.withStore { store async throws in
            let clock = TestClock()
            let greylist = Greylisting(.init(delay: .seconds(300), retryWindow: .seconds(3600), autoAllowlistAfter: 0),
                                       store: store, now: clock.function)
            let client = try Self.session("192.0.2.5")
            let from = Self.sender("a@sender.example"), to = Self.rcpt("u@local.example")
            #expect(await greylist.evaluate(reversePath: from, recipient: to, session: client) == .new)
            clock.advance(299)
            #expect(await greylist.evaluate(reversePath: from, recipient: to, session: client) == .early)
            // A neighbour in the same /24 retries for the same triplet: the cluster counts as one client.
            clock.advance(2)
            #expect(await greylist.evaluate(reversePath: from, recipient: to, session: try Self.session("192.0.2.200")) == .passed)
            clock.advance(86_400)
            #expect(await greylist.evaluate(reversePath: from, recipient: to, session: client) == .known)
            // Other recipient, other network: new triplets.
            #expect(await greylist.evaluate(reversePath: from, recipient: Self.rcpt("v@local.example"), session: client) == .new)
            #expect(await greylist.evaluate(reversePath: from, recipient: to, session: try Self.session("198.51.100.1")) == .new)
            // Retried only after the retry window: the pending record expired, the triplet starts over.
            clock.advance(3601)
            #expect(await greylist.evaluate(reversePath: from, recipient: Self.rcpt("v@local.example"), session: client) == .new)
        }
    }

    @Test("a client network is auto-allowlisted after N passed triplets", arguments: StoreBackend.allCases)
    func autoAllowlist(backend: StoreBackend) async throws {
        try await backend.withStore { store async throws in
            let clock = TestClock()
            let greylist = Greylisting(.init(delay: .seconds(60), autoAllowlistAfter: 2), store: store, now: clock.function)
            let client = try Self.session("203.0.113.9")
            let from = Self.sender("list@news.example")
            for name in ["a", "b"] {
                #expect(await greylist.evaluate(reversePath: from, recipient: Self.rcpt("\(name)@local.example"), session: client) == .new)
            }
            clock.advance(61)
            for name in ["a", "b"] {
                #expect(await greylist.evaluate(reversePath: from, recipient: Self.rcpt("\(name)@local.example"), session: client) == .passed)
            }
            #expect(await greylist.evaluate(reversePath: Self.sender("x@other.example"), recipient: Self.rcpt("c@local.example"),
                                            session: client) == .allowlisted)
            #expect(await greylist.evaluate(reversePath: from, recipient: Self.rcpt("c@local.example"),
                                            session: try Self.session("203.0.114.9")) == .new)
        }
    }

    @Test("SPF pass exempts, from the injected check or the session's kept result; other results do not")
    func spfExemption() async throws {
        let store = MemoryStateStore()
        let greylist = Greylisting(store: store, spfCheck: { path, _ in
            path.mailbox?.host.domainName == "spf-pass.example" ? .pass : .softfail
        })
        let client = try Self.session("192.0.2.7")
        #expect(await greylist.evaluate(reversePath: Self.sender("a@spf-pass.example"), recipient: Self.rcpt("u@local.example"),
                                        session: client) == .spfPass)
        #expect(await greylist.evaluate(reversePath: Self.sender("a@spf-soft.example"), recipient: Self.rcpt("u@local.example"),
                                        session: client) == .new)
        // Without a check of its own, greylisting uses what an SPF hook kept for this reverse-path only.
        let plain = Greylisting(store: store)
        let other = try Self.session("192.0.2.8")
        SPFSessionResult.store(.pass, for: Self.sender("b@kept.example"), in: other)
        #expect(await plain.evaluate(reversePath: Self.sender("b@kept.example"), recipient: Self.rcpt("u@local.example"),
                                     session: other) == .spfPass)
        #expect(await plain.evaluate(reversePath: Self.sender("c@kept.example"), recipient: Self.rcpt("u@local.example"),
                                     session: other) == .new)
        // Exemption switched off: even SPF pass is greylisted.
        let strict = Greylisting(.init(exemptSPFPass: false), store: store, spfCheck: { _, _ in .pass })
        #expect(await strict.evaluate(reversePath: Self.sender("d@spf-pass.example"), recipient: Self.rcpt("u@local.example"),
                                      session: client) == .new)
    }

    @Test("trusted networks and authenticated sessions are exempt")
    func exemptions() async throws {
        let greylist = Greylisting(.init(trustedNetworks: [IPNetwork("10.0.0.0/8")!]), store: MemoryStateStore())
        #expect(await greylist.evaluate(reversePath: .null, recipient: Self.rcpt("u@local.example"),
                                        session: try Self.session("10.1.2.3")) == .exempt)
        var authenticated = try Self.session("192.0.2.1")
        authenticated.authenticatedUser = "alice"
        #expect(await greylist.evaluate(reversePath: .null, recipient: Self.rcpt("u@local.example"), session: authenticated) == .exempt)
    }

    @Test("transcript: 451 4.7.1 at first, again before the delay, 250 after it", arguments: StoreBackend.allCases)
    func transcript(backend: StoreBackend) async throws {
        try await backend.withStore { store async throws in
            let greylist = Greylisting(.init(delay: .milliseconds(1000)), store: store)
            try await LiveServer.with(hooks: greylist) { server async throws in
                let first = try await RawClient.connect(port: server.port)
                #expect(try await first.reply()?.code.rawValue == 220)
                #expect(try await first.command("EHLO client.example") == 250)
                #expect(try await first.command("MAIL FROM:<a@sender.example>") == 250)
                let sent = ContinuousClock.now
                let deferred = try await first.exchange("RCPT TO:<u@local.example>")
                #expect(deferred?.code.rawValue == 451)
                #expect(deferred?.enhancedCode == EnhancedStatusCode(4, 7, 1))
                let retried = try await first.command("RCPT TO:<u@local.example>")
                // Too early — when the retry really came within the delay (no upper bound on a busy machine).
                if ContinuousClock.now - sent < .milliseconds(900) { #expect(retried == 451) }
                #expect(try await first.command("QUIT") == 221)
                await first.close()

                try await Task.sleep(for: .milliseconds(1100))
                let retry = try await RawClient.connect(port: server.port)
                #expect(try await retry.reply()?.code.rawValue == 220)
                #expect(try await retry.command("EHLO client.example") == 250)
                #expect(try await retry.command("MAIL FROM:<a@sender.example>") == 250)
                #expect(try await retry.command("RCPT TO:<u@local.example>") == 250)
                #expect(try await retry.command("DATA") == 354)
                #expect(try await retry.command("Subject: hi\r\n\r\nbody\r\n.") == 250)
                #expect(try await retry.command("QUIT") == 221)
                await retry.close()
                #expect(server.receiver.messages.count == 1)
            }
        }
    }
}
