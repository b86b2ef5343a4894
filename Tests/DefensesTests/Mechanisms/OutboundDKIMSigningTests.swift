import Foundation
import NIOCore
import SMTPCore
import Testing

@testable import Defenses

/// ``OutboundDKIMSigning`` and ``DKIMSigningTable``: the outbound stage signs each message for
/// its From: domain (or the nearest parent with keys) with every key the table has for it, the
/// result verifies with our verifier, and a message without a key leaves unsigned.
@Suite struct OutboundDKIMSigningTests {
    /// A key directory with example.org (rsa + ed25519) and sub.example.org (ed25519).
    static func keyDirectory() throws -> (String, [String: DKIMSigningKey]) {
        let root = NSTemporaryDirectory() + "mailnode-dkimkeys-" + UUID().uuidString
        var keys: [String: DKIMSigningKey] = [:]
        for (domain, selector, type) in [("example.org", "a-rsa", DKIMKeyType.rsa), ("example.org", "b-ed", .ed25519), ("sub.example.org", "s1", .ed25519)] {
            try FileManager.default.createDirectory(atPath: root + "/" + domain, withIntermediateDirectories: true)
            let key = try DKIMSigningKey.generate(type)
            let path = root + "/" + domain + "/" + selector + ".pem"
            #expect(FileManager.default.createFile(atPath: path, contents: Data(key.pemRepresentation.utf8), attributes: [.posixPermissions: 0o600]))
            keys[selector + "._domainkey." + domain] = key
        }
        return (root, keys)
    }

    static func resolver(_ keys: [String: DKIMSigningKey]) -> MockResolver {
        var dns = MockResolver()
        for (name, key) in keys { dns.addTXT(key.keyRecord, at: name) }
        return dns
    }

    /// Runs one message through an inspection in small chunks; nil when it was not inspected.
    static func sign(_ message: String, table: DKIMSigningTable, chunkSize: Int = 5) async -> InspectionVerdict? {
        let metrics = DefenseMetrics()
        let envelope = Envelope(reversePath: .mailbox(Mailbox(localPart: "a", host: .domain("example.org"))), recipients: [])
        guard let inspection = await OutboundDKIMSigning(table: table, metrics: metrics).begin(envelope: envelope, session: SessionContext(sessionID: "s")) else {
            return nil
        }
        let bytes = Array(message.utf8)
        var offset = 0
        while offset < bytes.count {
            await inspection.update(ByteBuffer(bytes: bytes[offset..<min(offset + chunkSize, bytes.count)]))
            offset += chunkSize
        }
        return await inspection.finish(summary: MessageDataSummary(octets: bytes.count))
    }

    static let body = "To: bob@remote.test\r\nSubject: hello\r\nDate: Fri, 04 Dec 2026 05:00:00 +0000\r\n\r\nline one  \r\n\r\nline two\r\n\r\n\r\n"

    @Test func theTableIsReadFromDomainSelectorFiles() throws {
        let (root, _) = try Self.keyDirectory()
        var warnings: [String] = []
        let table = try DKIMSigningTable.load(directory: root, warnings: &warnings)
        #expect(warnings.isEmpty)
        #expect(table.domains == ["example.org", "sub.example.org"])
        #expect(table.signers["example.org"]?.map(\.selector) == ["a-rsa", "b-ed"])
        #expect(table.signers(forAuthorDomain: "Example.ORG")?.count == 2)
        #expect(table.signers(forAuthorDomain: "news.example.org")?.map(\.domain) == ["example.org", "example.org"])
        #expect(table.signers(forAuthorDomain: "deep.sub.example.org")?.map(\.selector) == ["s1"])
        #expect(table.signers(forAuthorDomain: "example.com") == nil)
        #expect(table.signers(forAuthorDomain: "org") == nil)
    }

    @Test func badKeyDirectoriesAreErrorsAndLooseModesWarnings() throws {
        let (root, _) = try Self.keyDirectory()
        chmod(root + "/example.org/a-rsa.pem", 0o644)
        var warnings: [String] = []
        _ = try DKIMSigningTable.load(directory: root, warnings: &warnings)
        #expect(warnings.count == 1 && warnings[0].contains("a-rsa.pem") && warnings[0].contains("644"))
        #expect(FileManager.default.createFile(atPath: root + "/example.org/broken.pem", contents: Data("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n".utf8)))
        #expect(throws: DKIMKeyError.self) { try DKIMSigningTable.load(directory: root, warnings: &warnings) }
        #expect(throws: DKIMKeyError.self) { try DKIMSigningTable.load(directory: root + "/missing", warnings: &warnings) }
        let flat = NSTemporaryDirectory() + "mailnode-dkimflat-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: flat, withIntermediateDirectories: true)
        #expect(FileManager.default.createFile(atPath: flat + "/example.org.pem", contents: Data("x".utf8)))
        #expect(throws: DKIMKeyError.self) { try DKIMSigningTable.load(directory: flat, warnings: &warnings) }
    }

    @Test(arguments: [1, 5, 4096])
    func signaturesForTheAuthorDomainVerify(chunkSize: Int) async throws {
        let (root, keys) = try Self.keyDirectory()
        var warnings: [String] = []
        let table = try DKIMSigningTable.load(directory: root, warnings: &warnings)
        let message = "From: Alice <alice@example.org>\r\n" + Self.body
        let verdict = try #require(await Self.sign(message, table: table, chunkSize: chunkSize))
        #expect(verdict.disposition == .accept)
        #expect(verdict.prepend.components(separatedBy: "DKIM-Signature:").count == 3)   // dual signing
        // What the stage stores: the signatures, (its Received field,) the message.
        let stored = Array((verdict.prepend + "Received: from upstream by out.test; Fri, 04 Dec 2026 05:00:01 +0000\r\n" + message).utf8)
        let results = try await DKIMVerifier(resolver: Self.resolver(keys)).verify(message: stored)
        #expect(results.map(\.result) == [.pass, .pass])
        #expect(Set(results.compactMap { $0.signature?.selector }) == ["a-rsa", "b-ed"])
        #expect(results.allSatisfy { $0.signature?.domain == "example.org" })
    }

    @Test func aSubdomainAuthorIsSignedByItsParentsKeysAndItsOwnWin() async throws {
        let (root, keys) = try Self.keyDirectory()
        var warnings: [String] = []
        let table = try DKIMSigningTable.load(directory: root, warnings: &warnings)
        for (author, selectors) in [("news.example.org", ["a-rsa", "b-ed"]), ("x.sub.example.org", ["s1"])] {
            let message = "From: n@\(author)\r\n" + Self.body
            let verdict = try #require(await Self.sign(message, table: table))
            let results = try await DKIMVerifier(resolver: Self.resolver(keys)).verify(message: Array((verdict.prepend + message).utf8))
            #expect(results.map(\.result) == selectors.map { _ in .pass }, "\(author)")
            #expect(results.compactMap { $0.signature?.selector }.sorted() == selectors)
        }
    }

    @Test(arguments: [
        "From: someone@other.example\r\n" + OutboundDKIMSigningTests.body,          // no key for the domain
        "Subject: no author\r\n\r\nbody\r\n",                                          // no From:
        "From: a@example.org\r\nFrom: b@example.org\r\n\r\nbody\r\n",                  // two From: fields
    ])
    func withoutAKeyTheMessageLeavesUnsigned(message: String) async throws {
        let (root, _) = try Self.keyDirectory()
        var warnings: [String] = []
        let verdict = try #require(await Self.sign(message, table: try DKIMSigningTable.load(directory: root, warnings: &warnings)))
        #expect(verdict.disposition == .accept)
        #expect(verdict.prepend.isEmpty)
    }

    @Test func aHeaderOnlyMessageIsSignedWithTheEmptyBodyHash() async throws {
        let (root, keys) = try Self.keyDirectory()
        var warnings: [String] = []
        let message = "From: alice@example.org\r\nSubject: header only\r\n"
        let verdict = try #require(await Self.sign(message, table: try DKIMSigningTable.load(directory: root, warnings: &warnings)))
        let results = try await DKIMVerifier(resolver: Self.resolver(keys)).verify(message: Array((verdict.prepend + message).utf8))
        #expect(results.map(\.result) == [.pass, .pass])
    }

    @Test func anEmptyTableInspectsNothing() async {
        #expect(await Self.sign("From: alice@example.org\r\n\r\nx\r\n", table: DKIMSigningTable()) == nil)
    }
}
