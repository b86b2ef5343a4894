import Defenses
import Foundation
import MailnodeTesting
import SMTPCore
import Testing

/// The submission rule "send only as yourself", through PolicyHarness with AUTH against the directory.
@Suite("Sender ownership after AUTH")
struct SenderOwnershipTests {
    @Test func onlyOwnAddressesAfterAuth() async throws {
        let users = MemoryUserDirectory([
            MailUser(name: "alice@example.org", passwordHash: try await PasswordHash.make("pw"), aliases: ["info@example.org"]),
            MailUser(name: "bob@example.org", passwordHash: try await PasswordHash.make("pw2")),
        ])
        let auth = DirectoryAuthenticator(users: users, store: MemoryStateStore())
        var configuration = SMTPSessionConfiguration(hostname: "submit.test")
        configuration.allowPlaintextAuth = true   // the harness has no TLS; a real submission listener never does this
        configuration.authMechanisms = ["PLAIN"]
        var smtp = PolicyHarness(hooks: SenderOwnership(users: users), configuration: configuration, client: "192.0.2.20") { credentials in
            await auth.authenticate(credentials, session: SessionContext(sessionID: "a"))
        }
        #expect(await smtp.start()?.code.rawValue == 220)
        #expect(await smtp.command("EHLO laptop.example")?.code.rawValue == 250)
        // Before AUTH the rule does not apply (the submission listener requires AUTH itself).
        #expect(await smtp.command("MAIL FROM:<bob@example.org>")?.code.rawValue == 250)
        #expect(await smtp.command("RSET")?.code.rawValue == 250)
        // AUTH PLAIN "\0alice@example.org\0pw"
        let token = [UInt8]("\u{0}alice@example.org\u{0}pw".utf8)
        #expect(await smtp.command("AUTH PLAIN \(Data(token).base64EncodedString())")?.code.rawValue == 235)
        #expect(smtp.context.authenticatedUser == "alice@example.org")
        #expect(await smtp.command("MAIL FROM:<Alice@Example.org>")?.code.rawValue == 250)
        #expect(await smtp.command("RSET")?.code.rawValue == 250)
        #expect(await smtp.command("MAIL FROM:<info@example.org>")?.code.rawValue == 250)   // an alias
        #expect(await smtp.command("RSET")?.code.rawValue == 250)
        let forged = await smtp.command("MAIL FROM:<bob@example.org>")
        #expect(forged?.code.rawValue == 553 && forged?.enhancedCode == EnhancedStatusCode(5, 7, 1))
        #expect(await smtp.command("MAIL FROM:<ceo@elsewhere.example>")?.code.rawValue == 553)
        #expect(await smtp.command("MAIL FROM:<>")?.code.rawValue == 553)
    }
}
