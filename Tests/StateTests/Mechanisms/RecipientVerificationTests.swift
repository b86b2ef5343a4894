import Defenses
import Foundation
import NIOCore
import SMTPCore
import Testing

/// DM19's unknown-recipient refusal (the backscatter defense) over a static directory.
@Suite("DM19 recipient verification")
struct RecipientVerificationTests {
    static let relay = RelayControl(.init(localDomains: ["local.example", "other.example"]))

    static func directory(_ patterns: [String]) -> StaticRecipientDirectory {
        StaticRecipientDirectory(patterns: patterns.compactMap(AddressPattern.init))
    }

    struct Broken: RecipientDirectory {
        func lookup(_ mailbox: Mailbox) async -> RecipientLookup { .unavailable("LDAP server down") }
    }

    @Test("transcript: known 250, unknown 550 5.1.1, postmaster@ and unverified domains pass, catch-all domain")
    func transcript() async throws {
        let verify = RecipientVerification(.init(domains: ["local.example", "lists.local.example"]),
                                           directory: Self.directory(["Alice@local.example", "@lists.local.example"]))
        let relay = RelayControl(.init(localDomains: ["local.example", "other.example", "lists.local.example"]))
        try await LiveServer.with(hooks: HookChain([relay, verify])) { server async throws in
            let client = try await RawClient.connect(port: server.port)
            #expect(try await client.reply()?.code.rawValue == 220)
            #expect(try await client.command("EHLO c.example") == 250)
            #expect(try await client.command("MAIL FROM:<s@c.example>") == 250)
            #expect(try await client.command("RCPT TO:<alice@LOCAL.example>") == 250)
            let unknown = try await client.exchange("RCPT TO:<bob@local.example>")
            #expect(unknown?.code.rawValue == 550 && unknown?.enhancedCode == EnhancedStatusCode(5, 1, 1))
            #expect(try await client.command("RCPT TO:<PostMaster@local.example>") == 250)
            #expect(try await client.command("RCPT TO:<anyone@lists.local.example>") == 250)
            #expect(try await client.command("RCPT TO:<anyone@other.example>") == 250)   // not verified here
            #expect(try await client.command("RCPT TO:<x@elsewhere.example>") == 554)   // relay control first
            #expect(try await client.command("QUIT") == 221)
            await client.close()
        }
    }

    @Test("a directory that cannot answer defers with 450 4.1.1")
    func unavailable() async throws {
        let verify = RecipientVerification(.init(domains: ["local.example"]), directory: Broken())
        let session = SessionContext(sessionID: "s", remoteAddress: try SocketAddress(ipAddress: "192.0.2.1", port: 1))
        let recipient = EnvelopeRecipient(path: .mailbox(Mailbox(localPart: "a", host: .domain("local.example"))))
        #expect(await verify.rcptTo(recipient, envelope: Envelope(reversePath: .null), session: session) == .reply(RecipientVerification.unavailable))
    }

    @Test("transcript: with DM36 a directory harvest is cut off")
    func harvestStopped() async throws {
        let verify = RecipientVerification(.init(domains: ["local.example"]), directory: Self.directory(["alice@local.example"]))
        let throttle = BadRecipientThrottle(.init(free: 2, delayStep: .milliseconds(10), disconnectAfter: 3),
                                            wrapping: HookChain([Self.relay, verify]))
        try await LiveServer.with(hooks: throttle) { server async throws in
            let client = try await RawClient.connect(port: server.port)
            #expect(try await client.reply()?.code.rawValue == 220)
            #expect(try await client.command("EHLO harvester.example") == 250)
            #expect(try await client.command("MAIL FROM:<h@harvester.example>") == 250)
            #expect(try await client.command("RCPT TO:<a1@local.example>") == 550)
            #expect(try await client.command("RCPT TO:<a2@local.example>") == 550)
            #expect(try await client.command("RCPT TO:<a3@local.example>") == 421)
            try await client.waitForClose()
        }
    }

    @Test("the directory file: recipient lines, reloaded")
    func file() async throws {
        let path = NSTemporaryDirectory() + "mailnode-recipients-\(UUID().uuidString).txt"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try "recipient alice@local.example\nrecipient @team.local.example\n".write(toFile: path, atomically: true, encoding: .utf8)
        let directory = StaticRecipientDirectory(patterns: [], file: try AccessListFile(path: path, reloadInterval: .milliseconds(1)))
        #expect(await directory.lookup(Mailbox(localPart: "alice", host: .domain("local.example"))) == .exists)
        #expect(await directory.lookup(Mailbox(localPart: "x", host: .domain("team.local.example"))) == .exists)
        #expect(await directory.lookup(Mailbox(localPart: "bob", host: .domain("local.example"))) == .unknown)
        try "recipient bob@local.example\n".write(toFile: path, atomically: true, encoding: .utf8)
        try await Task.sleep(for: .milliseconds(20))
        #expect(await directory.lookup(Mailbox(localPart: "bob", host: .domain("local.example"))) == .exists)
        #expect(await directory.lookup(Mailbox(localPart: "alice", host: .domain("local.example"))) == .unknown)
    }
}
