import Testing

@testable import Defenses

@Suite("Authentication-Results (RFC 8601)")
struct AuthenticationResultsTests {
    static let dkimMessage = Array("From: a@example.com\r\nTo: b@example.org\r\nSubject: hi\r\n\r\nbody\r\n".utf8)

    @Test func rendersOneResinfoPerLine() {
        var results = AuthenticationResults(authservID: "mx.example.net")
        results.append(AuthenticationResult(method: "spf", result: "pass", properties: [AuthenticationProperty("smtp", "mailfrom", "example.org")]))
        results.append(AuthenticationResult(method: "DKIM", result: "FAIL", reason: "body hash did not verify", properties: [AuthenticationProperty("header", "d", "example.com")]))
        #expect(results.fieldValue == " mx.example.net;\r\n\tspf=pass smtp.mailfrom=example.org;\r\n\tdkim=fail reason=\"body hash did not verify\" header.d=example.com")
        #expect(results.singleLine == "Authentication-Results: mx.example.net; spf=pass smtp.mailfrom=example.org; dkim=fail reason=\"body hash did not verify\" header.d=example.com")
        #expect(AuthenticationResults(authservID: "mx.example.net").singleLine == "Authentication-Results: mx.example.net; none")
    }

    @Test func commentsAndValuesAreEscaped() {
        let result = AuthenticationResult(method: "dmarc", result: "fail", comment: "p=reject (really)", properties: [AuthenticationProperty("header", "from", "a b\r\n")])
        #expect(result.text == "dmarc=fail (p=reject \\(really\\)) header.from=\"a b??\"")
    }

    @Test func roundTrip() throws {
        var results = AuthenticationResults(authservID: "mx.example.net", version: 1)
        results.append(AuthenticationResult(method: "spf", result: "pass", properties: [AuthenticationProperty("smtp", "mailfrom", "user@example.org")]))
        results.append(AuthenticationResult(method: "dkim", result: "pass", properties: [
            AuthenticationProperty("header", "d", "example.com"), AuthenticationProperty("header", "b", "Ab/+9x=Q"),
        ]))
        results.append(AuthenticationResult(method: "dmarc", result: "fail", reason: "no aligned pass", comment: "p=reject dis=reject", properties: [AuthenticationProperty("header", "from", "example.com")]))
        let parsed = try AuthenticationResults.parse(results.fieldValue)
        #expect(parsed == results)
    }

    @Test func parsesRFCExamplesAndVariants() throws {
        // RFC 8601 Appendix B.4 (folded, comments) and variants seen in the wild.
        let b4 = try AuthenticationResults.parse(" example.com;\r\n          spf=pass smtp.mailfrom=example.net\r\n")
        #expect(b4.authservID == "example.com" && b4.results.map(\.text) == ["spf=pass smtp.mailfrom=example.net"])
        let b6 = try AuthenticationResults.parse("""
             example.com;
                      dkim=pass (good signature) header.d=mail-router.example.net;
                      dkim=fail (bad signature) header.d=newyork.example.com
            """)
        #expect(b6.results.count == 2)
        #expect(b6.results[0].comment == "good signature" && b6.results[1]["header", "d"] == "newyork.example.com")
        let none = try AuthenticationResults.parse("(comment) EXAMPLE.org (v) 1; none")
        #expect(none.authservID == "EXAMPLE.org" && none.version == 1 && none.results.isEmpty)
        let mixed = try AuthenticationResults.parse("mx.google.com;\r\n       dkim=pass header.i=@example.com header.s=20230601 header.b=Xy/Z+ab1;\r\n       spf=pass (google.com: domain of a@example.com designates 192.0.2.1 as permitted sender) smtp.mailfrom=a@example.com;\r\n       dmarc=pass (p=REJECT sp=REJECT dis=NONE) header.from=example.com")
        #expect(mixed.results.map(\.method) == ["dkim", "spf", "dmarc"])
        #expect(mixed.results[0]["HEADER", "B"] == "Xy/Z+ab1")
        #expect(mixed.results[2].comment == "p=REJECT sp=REJECT dis=NONE")
        let versioned = try AuthenticationResults.parse("host; auth/1=pass (cram-md5) smtp.auth=sender@example.net; iprev=pass policy.iprev=192.0.2.200")
        #expect(versioned.results[0].methodVersion == 1 && versioned.results[1]["policy", "iprev"] == "192.0.2.200")
    }

    @Test(arguments: ["", "  ", "; spf=pass", "host; spf", "host; spf=", "host; =pass", "host; spf=pass smtp", "host; spf=pass (open", "host; spf=pass smtp.mailfrom=\"x"])
    func refusesBrokenFields(_ value: String) {
        #expect(throws: AuthenticationResultsError.self) { try AuthenticationResults.parse(value) }
    }

    @Test func boundedOnHostileInput() {
        let deep = "host; spf=pass " + String(repeating: "(", count: 1000) + String(repeating: ")", count: 1000)
        #expect(throws: AuthenticationResultsError.self) { try AuthenticationResults.parse(deep) }
        let many = "host" + String(repeating: "; spf=pass", count: 500)
        #expect(throws: AuthenticationResultsError.self) { try AuthenticationResults.parse(many) }
    }

    @Test func removesOnlyFieldsClaimingOurID() throws {
        let header = try MessageHeader.parse(Array("""
            Authentication-Results: MX.Example.NET.; dkim=pass header.d=bank.example\r
            Authentication-Results: (forged) mx.example.net;\r
            \tspf=pass\r
            Authentication-Results: "mx.example.net"; garbage that does not parse ((\r
            authentication-results: relay.example.org; spf=fail smtp.mailfrom=x.example\r
            Authentication-Results: mx.example.net.evil.test; dkim=pass\r
            ARC-Authentication-Results: i=1; mx.example.net; spf=pass\r
            From: a@example.com\r

            """.utf8))
        let filter = ForgedAuthenticationResults(authservID: "mx.example.net")
        let (kept, removed) = filter.removing(from: header)
        #expect(removed == 3)
        #expect(kept.fields.map(\.name) == ["authentication-results", "Authentication-Results", "ARC-Authentication-Results", "From"])
        #expect(kept.fields[1].value.hasPrefix("mx.example.net.evil.test"))
    }

    @Test func spfAndDKIMFragments() async throws {
        var dns = MockResolver()
        let key = try DKIMSigningKey.generate(.ed25519)
        dns.addTXT(key.keyRecord, at: "sel._domainkey.example.com")
        let signed = try DKIMSigner(domain: "example.com", selector: "sel", key: key).sign(message: Self.dkimMessage)
        let verifications = try await DKIMVerifier(resolver: dns).verify(message: signed.wireBytes + Self.dkimMessage)
        let result = AuthenticationResult.dkim(verifications[0])
        let b = try #require(DKIMSignature.parse(signed).tags["b"]).filter { !" \t\r\n".contains($0) }
        #expect(result.text == "dkim=pass header.d=example.com header.i=@example.com header.s=sel header.a=ed25519-sha256 header.b=\(b.prefix(8))")
        let broken = try await DKIMVerifier(resolver: dns).verify(message: signed.wireBytes + Self.dkimMessage + Array("x".utf8))
        #expect(AuthenticationResult.dkim(broken[0]).text.hasPrefix("dkim=fail reason=\"body hash did not verify\" header.d=example.com"))
        var none = AuthenticationResults(authservID: "mx")
        none.append(dkim: [])
        #expect(none.singleLine == "Authentication-Results: mx; dkim=none")

        let check = SPFCheck(
            result: .permerror, identity: .mailFrom, clientIP: IPAddress("192.0.2.1")!, domain: "example.org",
            sender: SPFSender("user@example.org"), helo: "mail.example.org", problem: "two records")
        #expect(AuthenticationResult.spf(check).text == "spf=permerror reason=\"two records\" smtp.mailfrom=example.org")
        #expect(check.authenticationResultsFragment == AuthenticationResult.spf(check).text)
    }
}
