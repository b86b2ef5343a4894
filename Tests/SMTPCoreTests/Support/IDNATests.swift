import Testing

@testable import SMTPCore

@Suite struct IDNATests {
    static let pairs: [(unicode: String, ascii: String)] = [
        ("bücher.example", "xn--bcher-kva.example"),
        ("münchen.de", "xn--mnchen-3ya.de"),
        ("例え.テスト", "xn--r8jz45g.xn--zckzah"),
        ("παράδειγμα.δοκιμή", "xn--hxajbheg2az3al.xn--jxalpdlp"),
        ("example.org", "example.org"),
    ]

    @Test(arguments: zip(pairs.map(\.unicode), pairs.map(\.ascii)))
    func convertsBothWays(_ unicode: String, _ ascii: String) throws {
        #expect(try IDNA.toASCII(unicode) == ascii)
        #expect(try IDNA.toUnicode(ascii) == unicode)
    }

    @Test func usesNonTransitionalProcessing() throws {
        // Transitional processing (IDNA2003 compatibility) would give "fass.de".
        #expect(try IDNA.toASCII("faß.de") == "xn--fa-hia.de")
    }

    @Test func lowerCases() throws {
        #expect(try IDNA.toASCII("Example.ORG") == "example.org")
        #expect(try IDNA.toASCII("BÜCHER.Example") == "xn--bcher-kva.example")
        #expect(try IDNA.toASCII("XN--BCHER-KVA.EXAMPLE") == "xn--bcher-kva.example")
        #expect(try IDNA.toUnicode("XN--BCHER-KVA.Example") == "bücher.example")
    }

    @Test func keepsUnderscoreAndTheRootDot() throws {
        #expect(try IDNA.toASCII("_dmarc.Example.org") == "_dmarc.example.org")
        #expect(try IDNA.toASCII("bücher.example.") == "xn--bcher-kva.example.")
    }

    @Test func rejectsALabelOf64Octets() {
        #expect(throws: IDNAError(code: -206)) { try IDNA.toASCII(String(repeating: "a", count: 64) + ".example") }
        #expect(throws: Never.self) { try IDNA.toASCII(String(repeating: "a", count: 63) + ".example") }
    }

    static let invalid = [
        "xn--abc-.example", "xn--zz.example", "-leading.example", "trailing-.example",
        "", ".", "a..example", ".example", "a b.example", "tab\t.example", "nul\u{0}.example",
        "a\u{200D}b.example",  // ZERO WIDTH JOINER outside its CONTEXTJ rule
    ]

    @Test(arguments: invalid)
    func rejectsInvalidNames(_ name: String) {
        #expect(throws: IDNAError.self) { try IDNA.toASCII(name) }
    }

    @Test func rejectsInvalidALabelsWhenDecoding() {
        #expect(throws: IDNAError.self) { try IDNA.toUnicode("xn--abc-.example") }
        #expect(throws: IDNAError.self) { try IDNA.toUnicode("a..example") }
    }

    @Test func errorCarriesLibidn2Message() {
        do {
            _ = try IDNA.toASCII("xn--abc-.example")
            Issue.record("accepted")
        } catch {
            #expect(error.code == -202)
            #expect(error.message == "string contains invalid punycode data")
        }
    }

    @Test func convertsMailHostDomainsOnly() throws {
        #expect(try MailHost.domain("Bücher.example").asciiDomain() == .domain("xn--bcher-kva.example"))
        #expect(try MailHost.ipv4("192.0.2.1").asciiDomain() == .ipv4("192.0.2.1"))
        #expect(try MailHost.ipv6("2001:db8::1").asciiDomain() == .ipv6("2001:db8::1"))
        #expect(try MailHost.general(tag: "x", content: "y").asciiDomain() == .general(tag: "x", content: "y"))
        #expect(throws: IDNAError.self) { try MailHost.domain("xn--zz.example").asciiDomain() }
    }

    @Test func convertsMailboxDomainButNotLocalPart() throws {
        let mailbox = Mailbox(localPart: "Üser", host: .domain("bücher.example"))
        #expect(try mailbox.withASCIIDomain() == Mailbox(localPart: "Üser", host: .domain("xn--bcher-kva.example")))
        #expect(throws: IDNAError.self) {
            try Mailbox(localPart: "a", host: .domain(String(repeating: "ü", count: 64))).withASCIIDomain()
        }
    }

    /// The libidn2-free path for plain ASCII names gives what libidn2 gives, on random names
    /// of the characters and shapes around its edges (hyphens at label ends and in positions 3–4,
    /// underscores, upper case, long labels, a root dot); names it declines still convert.
    @Test func plainASCIIFastPathAgreesWithLibidn2() {
        var generator = SystemRandomNumberGenerator()
        let characters = Array("abcXYZ019-_")
        var taken = 0
        for round in 0..<5_000 {
            let labels = (0..<Int.random(in: 1...4, using: &generator)).map { _ in
                let length = Int.random(in: 0...10, using: &generator) == 0 ? Int.random(in: 60...66, using: &generator)
                    : Int.random(in: 1...6, using: &generator)
                var label = String((0..<length).map { _ in characters.randomElement(using: &generator)! })
                if Int.random(in: 0...8, using: &generator) == 0, label.count >= 4 {
                    label = String(label.prefix(2)) + "--" + label.dropFirst(4)
                }
                return label
            }
            let name = labels.joined(separator: ".") + (Int.random(in: 0...5, using: &generator) == 0 ? "." : "")
            let fast = IDNA.plainASCII(name)
            if fast != nil { taken += 1 }
            let slow = try? IDNA.libidn2ToASCII(name)
            if let fast {
                #expect(fast == slow, "round \(round): \(name)")
                if fast != slow { return }
            }
            #expect((try? IDNA.toASCII(name)) == slow, "\(name)")
        }
        #expect(taken > 1_000)   // the fast path is exercised, not only its refusals
    }
}
