import Foundation
import Testing

@testable import Defenses

/// dkimpy's test vectors (Fixtures/dkim/dkimpy, EXPECTED.md) and the RFC examples through
/// ``MockResolver``. `DKIMConformanceTests/summary` prints the pass count.
@Suite("DKIM conformance (dkimpy vectors, RFC 6376 / RFC 8463 examples)")
struct DKIMConformanceTests {
    /// One static vector: file, expected result per signature (top first).
    struct Vector: Sendable, CustomTestStringConvertible {
        var file: String
        var expected: [DKIMResult]
        var testDescription: String { file }
    }

    static let vectors: [Vector] = [
        // RFC 8463 Appendix A: ed25519 (brisbane) and rsa (test) over the same message.
        Vector(file: "rfc6376.signed.msg", expected: [.pass, .pass]),
        Vector(file: "rfc6376.signed.rsa.msg", expected: [.pass]),
        // No t=, x= far in the future: must not crash; the signature does not verify.
        Vector(file: "rfc6376.signed.no_t.msg", expected: [.fail]),
        // Exim's ed25519 prototype, relaxed/relaxed.
        Vector(file: "ed25519test2.msg", expected: [.pass]),
        // Gmail, degenerate folding (Debian bug 711751).
        Vector(file: "test2.message", expected: [.pass]),
        // d=legitimate.com(.attacker.com: invalid d=.
        Vector(file: "test.message.baddomain", expected: [.permerror]),
    ]

    @Test(arguments: vectors)
    func staticVector(_ vector: Vector) async throws {
        let results = try await DKIMFixtures.verifier(try DKIMFixtures.resolver()).verify(message: try DKIMFixtures.message(vector.file))
        #expect(results.map(\.result) == vector.expected, "\(results)")
    }

    /// The same vectors with LF line ends as stored: the reader turns them into CRLF itself.
    @Test(arguments: vectors)
    func staticVectorWithLFInput(_ vector: Vector) async throws {
        let results = try await DKIMFixtures.verifier(try DKIMFixtures.resolver()).verify(message: try DKIMFixtures.bytes(vector.file))
        #expect(results.map(\.result) == vector.expected, "\(results)")
    }

    @Test func badDomainIsNeverLookedUp() async throws {
        let counting = CountingResolver(try DKIMFixtures.resolver())
        let results = try await DKIMFixtures.verifier(counting).verify(message: try DKIMFixtures.message("test.message.baddomain"))
        #expect(results.first?.reason?.contains("invalid domain") == true)
        #expect(await counting.count == 0)
    }

    @Test func corruptedKeyIsACleanPermerror() async throws {
        var dns = MockResolver()
        // One byte missing from the key, as in dkimpy's test.
        dns.addTXT(DKIMFixtures.key512.replacingOccurrences(of: "hvcNAQEB", with: "hvNAQEB"), at: "test._domainkey.football.example.com")
        let results = try await DKIMFixtures.verifier(dns).verify(message: try DKIMFixtures.message("rfc6376.signed.rsa.msg"))
        #expect(results.map(\.result) == [.permerror])
    }

    @Test func mboxMessageDoesNotPass() async throws {
        let results = try await DKIMFixtures.verifier(try DKIMFixtures.resolver()).verify(message: try DKIMFixtures.message("message.mbox"))
        #expect(results.count == 1)
        #expect(results.allSatisfy { $0.result != .pass })
    }

    // MARK: - Key records (test._domainkey.example.com variants)

    /// Signs test.message with test.private and verifies against a given key record.
    static func verifyTestMessage(record: String, key: String = "test.private") async throws -> DKIMVerification {
        let signer = DKIMSigner(domain: "example.com", selector: "test", key: try DKIMSigningKey(pem: try DKIMFixtures.text(key)))
        let message = try DKIMFixtures.message("test.message")
        let signed = try signer.sign(message: message).wireBytes + message
        var dns = MockResolver()
        dns.addTXT(record, at: "test._domainkey.example.com")
        let results = try await DKIMFixtures.verifier(dns).verify(message: signed)
        return try #require(results.first)
    }

    @Test(arguments: [
        ("badversion.txt", "unsupported version"), ("badk.txt", "unknown key type"), ("test_bad.txt", "RSA"),
        ("test_tlsrpt.txt", "not for email"),
    ])
    func badKeyRecords(_ file: String, _ reason: String) async throws {
        let verification = try await Self.verifyTestMessage(record: try DKIMFixtures.text(file))
        #expect(verification.result == .permerror)
        #expect(verification.reason?.contains(reason) == true, "\(verification)")
    }

    @Test func recordWithoutKeyTypeMeansRSA() async throws {
        let verification = try await Self.verifyTestMessage(record: try DKIMFixtures.text("test2.txt"), key: "test2.private")
        #expect(verification.result == .pass, "\(verification)")
    }

    @Test func keyBelow1024BitsIsRefused() async throws {
        let verification = try await Self.verifyTestMessage(record: DKIMFixtures.key512)
        #expect(verification.result == .permerror)
        #expect(verification.reason?.contains("512 bits") == true, "\(verification)")
    }

    /// dkimpy's rsavariants: SPKI and bare RSAPublicKey in p=, PKCS#1 and PKCS#8 private keys.
    @Test(arguments: [
        ("1024_testkey.key", "1024_testkey_wo_markers.pub.txt"), ("1024_testkey.key", "1024_testkey_wo_markers.pub.rsa.txt"),
        ("2048_testkey.key", "2048_testkey_wo_markers.pub.txt"), ("2048_testkey.key", "2048_testkey_wo_markers.pub.rsa.txt"),
        ("2048_testkey_PKCS8.key", "2048_testkey_PKCS8.key.pub.txt"),
    ])
    func rsaKeyVariants(_ key: String, _ record: String) async throws {
        let verification = try await Self.verifyTestMessage(record: try DKIMFixtures.text(record), key: key)
        #expect(verification.result == .pass, "\(verification)")
    }

    // MARK: - RFC 6376 Appendix A

    /// RFC 6376 Appendix A.2/A.3 with the Appendix C key. The printed body has two spaces after
    /// "game."; the published bh= is that of the body with ONE space (erratum, see
    /// CanonicalizationTests). Even with one space the printed b= does not verify against the
    /// Appendix C key (dkimpy 1.1.4 says the same): the RFC example was never a working vector,
    /// so RFC 8463's (above) is the one that must pass.
    @Test func rfc6376AppendixA() async throws {
        let signed = """
            DKIM-Signature: v=1; a=rsa-sha256; s=brisbane; d=example.com;
                 c=simple/simple; q=dns/txt; i=joe@football.example.com;
                 h=Received : From : To : Subject : Date : Message-ID;
                 bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;
                 b=AuUoFEfDxTDkHlLXSZEpZj79LICEps6eda7W3deTVFOk4yAUoqOB
                 4nujc7YopdG5dWLSdNg6xNAZpOPr+kHxt1IrE+NahM6L/LbvaHut
                 KVdkLLkpVaVVQPzeRDI009SO2Il5Lu7rDNH6mZckBdrIx0orEtZV
                 4bmp/YzhwvcubU4=;
            Received: from client1.football.example.com  [192.0.2.1]
                 by submitserver.example.com with SUBMISSION;
                 Fri, 11 Jul 2003 21:01:54 -0700 (PDT)
            From: Joe SixPack <joe@football.example.com>
            To: Suzie Q <suzie@shopping.example.net>
            Subject: Is dinner ready?
            Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)
            Message-ID: <20030712040037.46341.5F8J@football.example.com>

            Hi.

            We lost the game. Are you hungry yet?

            Joe.

            """
        var dns = MockResolver()
        dns.addTXT(
            "v=DKIM1; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDwIRP/UC3SBsEmGqZ9ZJW3/DkMoGeLnQg1fWn7/zYtIxN2SnFCjxOCKG9v3b4jYfcTNh5ijSsq631uBItLa7od+v/RtdC2UzJ1lWT947qR+Rcac2gbto/NMqJ0fzfVjH4OuKhitdY9tf6mcwGjaNBcWToIMmPSPDdQPNUYckcQ2QIDAQAB",
            at: "brisbane._domainkey.example.com")
        let results = try await DKIMFixtures.verifier(dns).verify(message: Array(signed.utf8))
        #expect(results.map(\.result) == [.fail])
        #expect(results.first?.reason == "signature did not verify", "the body hash matches; only the signature is wrong")
    }

    // MARK: - Signing inputs, round trip through our own verifier

    struct SigningCase: Sendable, CustomTestStringConvertible {
        var file: String
        var key: String
        var domain: String
        var selector: String
        var testDescription: String { "\(file) \(key)" }
    }

    static let signingCases: [SigningCase] = [
        SigningCase(file: "test.message", key: "test.private", domain: "example.com", selector: "test"),
        SigningCase(file: "rfc6376.msg", key: "test.private", domain: "football.example.com", selector: "test"),
        SigningCase(file: "rfc6376.msg", key: "rfc8032_7_1.key", domain: "football.example.com", selector: "brisbane"),
        SigningCase(file: "ed25519test.msg", key: "ed25519test.key", domain: "example.net", selector: "test"),
        SigningCase(file: "rfc6376.w1258.msg", key: "test.private", domain: "example.com", selector: "test"),
        SigningCase(file: "test_extra.message", key: "test.private", domain: "example.com", selector: "test"),
        SigningCase(file: "message.mbox", key: "test.private", domain: "example.com", selector: "test"),
    ]

    @Test(arguments: signingCases)
    func signAndVerifyEveryCanonicalization(_ signingCase: SigningCase) async throws {
        let message = try DKIMFixtures.message(signingCase.file)
        let dns = try DKIMFixtures.resolver()
        for header in Canonicalization.allCases {
            for body in Canonicalization.allCases {
                var signer = DKIMSigner(
                    domain: signingCase.domain, selector: signingCase.selector, key: try DKIMSigningKey(pem: try DKIMFixtures.text(signingCase.key)))
                signer.headerCanonicalization = header
                signer.bodyCanonicalization = body
                let signed = try signer.sign(message: message).wireBytes + message
                let results = try await DKIMFixtures.verifier(dns).verify(message: signed)
                // message.mbox already carries a signature (kitterman.com, no key here).
                #expect(results.first?.result == .pass, "\(header)/\(body): \(results)")
            }
        }
    }

    @Test func messageWithoutFromCannotBeSigned() throws {
        let signer = DKIMSigner(domain: "example.com", selector: "test", key: try DKIMSigningKey(pem: try DKIMFixtures.text("test.private")))
        #expect(throws: DKIMSigningError.self) { try signer.sign(message: try DKIMFixtures.message("test_nofrom.message")) }
    }

    /// RFC 8463 Appendix A's message signed by us with the RFC 8032 test key: same body hash as
    /// the published signature, and our signature verifies with the published key record.
    @Test func rfc8463MessageSignedByUs() async throws {
        var signer = DKIMSigner(domain: "football.example.com", selector: "brisbane", key: try DKIMSigningKey(pem: try DKIMFixtures.text("rfc8032_7_1.key")))
        signer.headerCanonicalization = .simple
        signer.bodyCanonicalization = .simple
        let published = try DKIMFixtures.message("rfc6376.signed.msg")
        var reader = MessageReader()
        _ = try reader.feed(published)
        let original = try DKIMSignature.parse(try #require(reader.header).fields(named: "DKIM-Signature")[0])
        let message = try DKIMFixtures.message("rfc6376.msg")
        let field = try signer.sign(message: message)
        #expect(try DKIMSignature.parse(field).bodyHash == original.bodyHash)
        let results = try await DKIMFixtures.verifier(try DKIMFixtures.resolver()).verify(message: field.wireBytes + message)
        #expect(results.map(\.result) == [.pass])
    }
}
