import Defenses
import Foundation
import SMTPCore
import Testing

@Suite("DM36 bad-RCPT throttle")
struct BadRecipientThrottleTests {
    static let relay = RelayControl(.init(localDomains: ["local.example"]))

    @Test func delayGrowsAndIsCapped() {
        let configuration = BadRecipientThrottle.Configuration(free: 2, delayStep: .seconds(1), maxDelay: .seconds(3))
        #expect((1...6).map { configuration.delay(afterRefusal: $0) } == [.zero, .zero, .seconds(1), .seconds(2), .seconds(3), .seconds(3)])
    }

    /// Sends a RCPT and returns its code and how long the answer took.
    static func timedRCPT(_ client: RawClient, _ address: String) async throws -> (Int?, Duration) {
        let start = ContinuousClock.now
        let code = try await client.command("RCPT TO:<\(address)>")
        return (code, ContinuousClock.now - start)
    }

    @Test("transcript: refusals answered ever later, then 421 4.7.0 and the connection closes")
    func tarpitThenDisconnect() async throws {
        let throttle = BadRecipientThrottle(.init(free: 1, delayStep: .milliseconds(300), maxDelay: .seconds(2), disconnectAfter: 4),
                                            wrapping: Self.relay)
        try await LiveServer.with(hooks: throttle) { server async throws in
            let client = try await RawClient.connect(port: server.port)
            #expect(try await client.reply()?.code.rawValue == 220)
            #expect(try await client.command("EHLO harvester.example") == 250)
            #expect(try await client.command("MAIL FROM:<x@harvester.example>") == 250)
            #expect(try await client.command("RCPT TO:<user@local.example>") == 250)   // accepted ones never count
            let (first, _) = try await Self.timedRCPT(client, "a@elsewhere.example")
            #expect(first == 554)
            let (second, secondTime) = try await Self.timedRCPT(client, "b@elsewhere.example")
            #expect(second == 554)
            #expect(secondTime >= .milliseconds(290))
            let (third, thirdTime) = try await Self.timedRCPT(client, "c@elsewhere.example")
            #expect(third == 554)
            #expect(thirdTime >= .milliseconds(590))
            let last = try await client.exchange("RCPT TO:<d@elsewhere.example>")
            #expect(last?.code.rawValue == 421)
            #expect(last?.enhancedCode == EnhancedStatusCode(4, 7, 0))
            try await client.waitForClose()
        }
    }

    @Test("with a store the count follows the client into its next session", arguments: StoreBackend.allCases)
    func rememberedAcrossSessions(backend: StoreBackend) async throws {
        try await backend.withStore { store async throws in
            let throttle = BadRecipientThrottle(.init(free: 10, disconnectAfter: 3), wrapping: Self.relay, store: store)
            try await LiveServer.with(hooks: throttle) { server async throws in
                let first = try await RawClient.connect(port: server.port)
                #expect(try await first.reply()?.code.rawValue == 220)
                #expect(try await first.command("HELO h.example") == 250)
                #expect(try await first.command("MAIL FROM:<x@h.example>") == 250)
                #expect(try await first.command("RCPT TO:<a@elsewhere.example>") == 554)
                #expect(try await first.command("RCPT TO:<b@elsewhere.example>") == 554)
                #expect(try await first.command("QUIT") == 221)
                await first.close()

                let second = try await RawClient.connect(port: server.port)
                #expect(try await second.reply()?.code.rawValue == 220)
                #expect(try await second.command("HELO h.example") == 250)
                #expect(try await second.command("MAIL FROM:<x@h.example>") == 250)
                #expect(try await second.command("RCPT TO:<c@elsewhere.example>") == 421)
                try await second.waitForClose()
            }
        }
    }

    @Test("temporary refusals are not counted")
    func temporaryNotCounted() async throws {
        let greylist = Greylisting(store: MemoryStateStore())
        let throttle = BadRecipientThrottle(.init(free: 0, delayStep: .seconds(5), disconnectAfter: 1), wrapping: greylist)
        let session = SessionContext(sessionID: "s", remoteAddress: try .init(ipAddress: "192.0.2.1", port: 1))
        let recipient = EnvelopeRecipient(path: .mailbox(Mailbox(localPart: "u", host: .domain("local.example"))))
        let decision = await throttle.rcptTo(recipient, envelope: Envelope(reversePath: .null), session: session)
        #expect(decision == .reply(Greylisting.deferral))
    }
}
