import Testing

@testable import Defenses

@Suite("DMARC record and From domain")
struct DMARCRecordTests {
    @Test func parsesEveryTag() throws {
        let record = try DMARCRecord.parse(
            "v=DMARC1; p=reject; sp=quarantine; np=reject; pct=20; adkim=s; aspf=r; rua=mailto:agg@example.com,mailto:x@y.example!10m; ruf=mailto:f@example.com; fo=1:d; rf=afrf; ri=3600")
        #expect(record.policy == .reject && record.subdomainPolicy == .quarantine && record.nonexistentPolicy == .reject)
        #expect(record.percentage == 20 && record.dkimAlignment == .strict && record.spfAlignment == .relaxed)
        #expect(record.aggregateReportURIs == ["mailto:agg@example.com", "mailto:x@y.example!10m"])
        #expect(record.failureReportURIs == ["mailto:f@example.com"])
        #expect(record.failureOptions == ["1", "d"] && record.reportFormats == ["afrf"] && record.reportInterval == 3600)
        #expect(record.ignored.isEmpty && !record.policyImplied)
    }

    @Test func defaults() throws {
        let record = try DMARCRecord.parse("v=DMARC1;p=none")
        #expect(record == DMARCRecord(policy: .none))
        #expect(record.text == "v=DMARC1; p=none")
        #expect(try DMARCRecord.parse(" v = DMARC1 ; P = Quarantine ; ").policy == .quarantine)
    }

    @Test func invalidValuesAreIgnored() throws {
        // RFC 7489 §6.3: invalid values of known tags fall back to defaults; unknown tags are ignored.
        let record = try DMARCRecord.parse("v=DMARC1; p=reject; sp=bogus; np=maybe; pct=150; adkim=x; aspf=; fo=9; rf=iodef; ri=-1; rua=nourl; future=1")
        #expect(record.policy == .reject && record.subdomainPolicy == nil && record.nonexistentPolicy == nil)
        #expect(record.percentage == 100 && record.dkimAlignment == .relaxed && record.spfAlignment == .relaxed)
        #expect(record.failureOptions == ["0"] && record.reportFormats == ["afrf"] && record.reportInterval == 86400)
        #expect(record.aggregateReportURIs.isEmpty)
        #expect(record.ignored.count == 10)
    }

    @Test func missingPolicy() throws {
        // §6.6.3: no valid p but a valid rua → p=none; neither → no policy.
        let implied = try DMARCRecord.parse("v=DMARC1; p=bogus; rua=mailto:a@example.com")
        #expect(implied.policy == .none && implied.policyImplied)
        #expect(throws: DMARCRecordError.self) { try DMARCRecord.parse("v=DMARC1; sp=reject") }
    }

    @Test(arguments: [
        "p=reject; v=DMARC1", "v=DMARC2; p=reject", "v=dmarc1; p=reject", "", "v=DMARC1; p=reject; p=none",
        "v=DMARC1; p reject", "v=DMARC1; p=reject; v=DMARC1", String(repeating: "v=DMARC1; p=none; ", count: 300),
    ])
    func syntaxErrorsGiveNoPolicy(_ text: String) {
        #expect(throws: DMARCRecordError.self) { try DMARCRecord.parse(text) }
    }

    @Test func recognisesDMARCRecords() {
        #expect(DMARCRecord.isDMARC("v=DMARC1; p=none"))
        #expect(DMARCRecord.isDMARC("  v = DMARC1"))
        #expect(!DMARCRecord.isDMARC("v=spf1 -all"))
        #expect(!DMARCRecord.isDMARC("v=DMARC10; p=none"))
    }

    @Test(arguments: [
        ("a@Example.COM", "example.com"),
        ("Alice <alice@mail.example.com>", "mail.example.com"),
        ("\"Smith, John\" <john@example.org>", "example.org"),
        ("john@example.org (John, \"the\" Smith)", "example.org"),
        ("a@example.com, b@EXAMPLE.com", "example.com"),
        ("Team: a@example.com, b@example.com;", "example.com"),
        ("=?utf-8?q?J=C3=B6rg?= <jorg@example.de.>", "example.de"),
        ("\"odd<name>\" <x@example.net>", "example.net"),
    ])
    func fromDomains(_ value: String, _ domain: String) {
        #expect(DMARCFromDomain.extract(from: DMARCInputs.header(from: value)) == .success(domain))
    }

    @Test(arguments: [
        "a@example.com, b@example.org", "undisclosed", "<>", "a@", "a@[192.0.2.1]", "Alice <alice@example.com",
        "(unterminated a@example.com", "Team: ;",
    ])
    func fromErrors(_ value: String) {
        #expect(throws: DMARCFromError.self) { try DMARCFromDomain.extract(from: DMARCInputs.header(from: value)).get() }
    }

    @Test func fromFieldCount() throws {
        let none = try MessageHeader.parse(Array("To: a@example.com\r\n".utf8))
        #expect(throws: DMARCFromError.self) { try DMARCFromDomain.extract(from: none).get() }
        let two = try MessageHeader.parse(Array("From: a@example.com\r\nFrom: a@example.com\r\n".utf8))
        #expect(throws: DMARCFromError.self) { try DMARCFromDomain.extract(from: two).get() }
        let many = "From: " + (0..<100).map { "u\($0)@example.com" }.joined(separator: ", ")
        #expect(throws: DMARCFromError.self) { try DMARCFromDomain.extract(from: MessageHeader.parse(Array(many.utf8))).get() }
    }
}
