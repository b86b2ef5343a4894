import Defenses
import NIOCore
import SMTPCore
import Testing

/// ``AuthorOwnership``: the submission role refuses a message whose From:/Sender: addresses are
/// not the authenticated user's (names and aliases of the user directory).
@Suite struct AuthorOwnershipTests {
    static let users = MemoryUserDirectory([
        MailUser(name: "alice@example.org", passwordHash: "$y$x", aliases: ["info@example.org"]),
        MailUser(name: "bob@example.org", passwordHash: "$y$x"),
    ])

    static func verdict(_ header: String, login: String? = "alice@example.org", chunkSize: Int = 7) async -> InspectionVerdict? {
        var session = SessionContext(sessionID: "s1")
        session.authenticatedUser = login
        let envelope = Envelope(reversePath: .mailbox(Mailbox(localPart: "alice", host: .domain("example.org"))), recipients: [])
        guard let inspection = await AuthorOwnership(users: users).begin(envelope: envelope, session: session) else { return nil }
        let bytes = Array((header + "\r\nbody\r\n").utf8)
        var offset = 0
        while offset < bytes.count {   // in small chunks: the header is read across them
            await inspection.update(ByteBuffer(bytes: bytes[offset..<min(offset + chunkSize, bytes.count)]))
            offset += chunkSize
        }
        return await inspection.finish(summary: MessageDataSummary(octets: bytes.count))
    }

    @Test(arguments: [
        ("From: alice@example.org\r\n", true),
        ("From: \"Alice A.\" <Alice@Example.ORG>\r\nSubject: hi\r\n", true),
        ("From: Info desk <info@example.org>\r\n", true),                         // an alias
        ("From: alice@example.org,\r\n info@example.org\r\n", true),              // several authors, all hers
        ("From: ceo@example.org\r\n", false),                                     // nobody's
        ("From: bob@example.org\r\n", false),                                     // another user's
        ("From: alice@example.org, bob@example.org\r\n", false),
        ("From: alice@example.org\r\nSender: bob@example.org\r\n", false),        // Sender: counts too
        ("From: (comment) alice@example.org (x)\r\n", true),
        ("Subject: no author\r\n", false),
        ("From: alice@example.org\r\nFrom: alice@example.org\r\n", false),        // RFC 5322: exactly one
        ("From: undisclosed:;\r\n", false),
        ("From: alice@example.org\r\nSender: <bob@example.org\r\n", false),    // an unreadable Sender: is not skipped
    ])
    func fromMustBeTheUsers(header: String, accepted: Bool) async throws {
        let verdict = try #require(await Self.verdict(header))
        #expect((verdict.disposition == .accept) == accepted, "\(header)")
        if !accepted {
            guard case .refuse(let reply) = verdict.disposition else { return }
            #expect(reply.code == .mailboxUnavailable && verdict.defense == "DM04")
        }
    }

    @Test func unauthenticatedSessionsAreNotInspected() async {
        #expect(await Self.verdict("From: ceo@example.org\r\n", login: nil) == nil)
    }

    @Test func theLoginIsComparedCaseInsensitively() async throws {
        let verdict = try #require(await Self.verdict("From: alice@example.org\r\n", login: "ALICE@example.org", chunkSize: 1))
        #expect(verdict.disposition == .accept)
    }
}
