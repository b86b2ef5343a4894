import Defenses
import Foundation
import NIOCore
import SMTPCore
import Testing

/// DM09's hard recipient limit (in the session) and DM34 per-sender volume limits.
@Suite("DM09 hard recipient limit, DM34 sender volume")
struct VolumeLimitsTests {
    static let relay = RelayControl(.init(localDomains: ["local.example"]))

    @Test("transcript: soft limit 452 per recipient, beyond the hard limit 552, and the whole message refused with 554 5.5.3")
    func hardRecipientLimit() async throws {
        var limits = SMTPLimits()
        limits.maxRecipients = 2
        limits.hardRecipientLimit = 3
        try await LiveServer.with(hooks: Self.relay, limits: limits) { server async throws in
            let client = try await RawClient.connect(port: server.port)
            #expect(try await client.reply()?.code.rawValue == 220)
            #expect(try await client.command("EHLO client.example") == 250)
            #expect(try await client.command("MAIL FROM:<a@client.example>") == 250)
            #expect(try await client.command("RCPT TO:<u1@local.example>") == 250)
            #expect(try await client.command("RCPT TO:<u2@local.example>") == 250)
            let soft = try await client.exchange("RCPT TO:<u3@local.example>")
            #expect(soft?.code.rawValue == 452 && soft?.enhancedCode == EnhancedStatusCode(4, 5, 3))
            let hard = try await client.exchange("RCPT TO:<u4@local.example>")
            #expect(hard?.code.rawValue == 552 && hard?.enhancedCode == EnhancedStatusCode(5, 5, 3))
            let data = try await client.exchange("DATA")
            #expect(data?.code.rawValue == 554 && data?.enhancedCode == EnhancedStatusCode(5, 5, 3))
            // A new transaction starts counting afresh and goes through.
            #expect(try await client.command("RSET") == 250)
            #expect(try await client.command("MAIL FROM:<a@client.example>") == 250)
            #expect(try await client.command("RCPT TO:<u1@local.example>") == 250)
            #expect(try await client.command("DATA") == 354)
            try await client.send("Subject: t\r\n\r\nhello\r\n.\r\n")
            #expect(try await client.reply()?.code.rawValue == 250)
            #expect(try await client.command("QUIT") == 221)
            await client.close()
            #expect(server.receiver.messages.count == 1)
        }
    }

    @Test("BDAT after the hard limit: the chunk is swallowed and refused")
    func hardRecipientLimitBDAT() async throws {
        var limits = SMTPLimits()
        limits.maxRecipients = 1
        limits.hardRecipientLimit = 1
        try await LiveServer.with(hooks: Self.relay, limits: limits) { server async throws in
            let client = try await RawClient.connect(port: server.port)
            #expect(try await client.reply()?.code.rawValue == 220)
            #expect(try await client.command("EHLO client.example") == 250)
            #expect(try await client.command("MAIL FROM:<a@client.example>") == 250)
            #expect(try await client.command("RCPT TO:<u1@local.example>") == 250)
            #expect(try await client.command("RCPT TO:<u2@local.example>") == 552)
            try await client.send("BDAT 5 LAST\r\nhello")
            let reply = try await client.reply()
            #expect(reply?.code.rawValue == 554 && reply?.enhancedCode == EnhancedStatusCode(5, 5, 3))
            #expect(try await client.command("NOOP") == 250)   // the five octets were not read as a command
            await client.close()
            #expect(server.receiver.messages.isEmpty)
        }
    }

    @Test("transcript: a sender over its message limit is deferred with 451 4.7.1, others are not", arguments: StoreBackend.allCases)
    func senderVolume(backend: StoreBackend) async throws {
        try await backend.withStore { store async throws in
            let volume = SenderVolumeLimit(.init(window: .seconds(3600), maxMessages: 2, maxRecipients: 0), store: store)
            try await LiveServer.with(hooks: HookChain([Self.relay, volume])) { server async throws in
                let client = try await RawClient.connect(port: server.port)
                #expect(try await client.reply()?.code.rawValue == 220)
                #expect(try await client.command("EHLO client.example") == 250)
                func send(from sender: String) async throws -> Int? {
                    #expect(try await client.command("MAIL FROM:<\(sender)>") == 250)
                    #expect(try await client.command("RCPT TO:<u@local.example>") == 250)
                    let code = try await client.command("DATA")
                    if code == 354 {
                        try await client.send("Subject: t\r\n\r\nhello\r\n.\r\n")
                        return try await client.reply()?.code.rawValue
                    }
                    #expect(try await client.command("RSET") == 250)
                    return code
                }
                #expect(try await send(from: "bomber@sender.example") == 250)
                #expect(try await send(from: "Bomber@Sender.example") == 250)   // one sender, whatever the case
                #expect(try await send(from: "bomber@sender.example") == 451)
                #expect(try await send(from: "someone@sender.example") == 250)
                await client.close()
                #expect(server.receiver.messages.count == 3)
            }
        }
    }

    @Test("recipients per sender; the null sender is not limited per address; an authenticated user is counted as the user")
    func senderVolumeRecipients() async throws {
        let volume = SenderVolumeLimit(.init(maxMessages: 0, maxRecipients: 2), store: MemoryStateStore())
        let session = SessionContext(sessionID: "s", remoteAddress: try SocketAddress(ipAddress: "192.0.2.1", port: 1))
        let recipient = EnvelopeRecipient(path: .mailbox(Mailbox(localPart: "u", host: .domain("local.example"))))
        let from = Envelope(reversePath: .mailbox(Mailbox(localPart: "a", host: .domain("sender.example"))))
        let results = await (0..<3).asyncMap { _ in await volume.rcptTo(recipient, envelope: from, session: session) }
        #expect(results == [.continue, .continue, .reply(SenderVolumeLimit.deferral)])
        for _ in 0..<5 { #expect(await volume.rcptTo(recipient, envelope: Envelope(reversePath: .null), session: session) == .continue) }
        var user = session
        user.authenticatedUser = "alice"
        #expect(SenderVolumeLimit.senderKey(from.reversePath, session: user) == "user:alice")
        #expect(await volume.rcptTo(recipient, envelope: from, session: user) == .continue)
    }
}

extension Sequence where Element: Sendable {
    func asyncMap<T: Sendable>(_ transform: (Element) async -> T) async -> [T] {
        var out: [T] = []
        for element in self { out.append(await transform(element)) }
        return out
    }
}
