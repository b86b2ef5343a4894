import Testing

@testable import Defenses

@Suite("DMARC evaluation (RFC 7489)")
struct DMARCVerifierTests {
    struct Case: CustomStringConvertible, Sendable {
        var spfAligned: Bool
        var dkimAligned: Bool
        var spf: SPFResult
        var dkim: DKIMResult
        var p: DMARCPolicy
        var sp: DMARCPolicy?
        var subdomain: Bool
        var description: String {
            "spf=\(spf)\(spfAligned ? "(aligned)" : "") dkim=\(dkim)\(dkimAligned ? "(aligned)" : "") p=\(p) sp=\(sp?.rawValue ?? "-") \(subdomain ? "sub" : "org")"
        }
    }

    static let cases: [Case] = {
        var cases: [Case] = []
        for spfAligned in [true, false] {
            for dkimAligned in [true, false] {
                for spf in [SPFResult.pass, .fail] {
                    for dkim in [DKIMResult.pass, .fail] {
                        for p in DMARCPolicy.allCases {
                            for (sp, subdomain) in [(nil, false), (nil, true), (DMARCPolicy.none, true), (.reject, true), (.quarantine, false)] {
                                cases.append(Case(spfAligned: spfAligned, dkimAligned: dkimAligned, spf: spf, dkim: dkim, p: p, sp: sp, subdomain: subdomain))
                            }
                        }
                    }
                }
            }
        }
        return cases
    }()

    /// The table of the issue: aligned/unaligned × SPF pass/fail × DKIM pass/fail × p × subdomain policies.
    @Test(arguments: cases)
    func table(_ c: Case) async {
        var record = "v=DMARC1; p=\(c.p)"
        if let sp = c.sp { record += "; sp=\(sp)" }
        let verifier = DMARCInputs.verifier(["_dmarc.example.com": record])
        let from = c.subdomain ? "news.example.com" : "example.com"
        // Aligned identifiers sit in the organisation (relaxed), unaligned ones elsewhere.
        let spfDomain = c.spfAligned ? "bounce.example.com" : "example.net"
        let dkimDomain = c.dkimAligned ? "example.com" : "esp.example"
        let evaluation = await verifier.evaluate(
            fromDomain: from, spf: DMARCInputs.spf(c.spf, domain: spfDomain), dkim: [DMARCInputs.dkim(c.dkim, domain: dkimDomain)])
        let passes = (c.spfAligned && c.spf == .pass) || (c.dkimAligned && c.dkim == .pass)
        #expect(evaluation.result == (passes ? .pass : .fail))
        let applied = c.subdomain ? (c.sp ?? c.p) : c.p
        #expect(evaluation.requestedPolicy == applied)
        #expect(evaluation.policySource == (c.subdomain ? .subdomain : .domain))
        #expect(evaluation.disposition == (passes ? .none : DMARCDisposition(rawValue: applied.rawValue)!))
        #expect(evaluation.policyDomain == "example.com")
        #expect(evaluation.spfAligned == (c.spfAligned && c.spf == .pass))
        #expect(evaluation.dkimAligned == (c.dkimAligned && c.dkim == .pass))
    }

    @Test func strictAlignment() async {
        let verifier = DMARCInputs.verifier(["_dmarc.example.com": "v=DMARC1; p=reject; adkim=s; aspf=s"])
        let relaxedOnly = await verifier.evaluate(
            fromDomain: "example.com", spf: DMARCInputs.spf(.pass, domain: "bounce.example.com"), dkim: [DMARCInputs.dkim(.pass, domain: "mail.example.com")])
        #expect(relaxedOnly.result == .fail && relaxedOnly.disposition == .reject)
        #expect(relaxedOnly.spf?.aligned == false && relaxedOnly.dkim.first?.aligned == false)
        let exact = await verifier.evaluate(fromDomain: "Example.com.", spf: nil, dkim: [DMARCInputs.dkim(.pass, domain: "example.com")])
        #expect(exact.result == .pass)
    }

    @Test func organisationalDomainFromThePublicSuffixList() async {
        let verifier = DMARCInputs.verifier(["_dmarc.example.co.uk": "v=DMARC1; p=quarantine; sp=reject"])
        let sub = await verifier.evaluate(
            fromDomain: "a.b.example.co.uk", spf: DMARCInputs.spf(.pass, domain: "other.co.uk"), dkim: [DMARCInputs.dkim(.pass, domain: "co.uk")])
        #expect(sub.organizationalDomain == "example.co.uk" && sub.policyDomain == "example.co.uk")
        #expect(sub.result == .fail && sub.requestedPolicy == .reject && sub.disposition == .reject)
        let aligned = await verifier.evaluate(fromDomain: "a.b.example.co.uk", spf: nil, dkim: [DMARCInputs.dkim(.pass, domain: "x.example.co.uk")])
        #expect(aligned.result == .pass)
        // A PRIVATE-section suffix: two github.io sites are different organisations.
        let pages = DMARCInputs.verifier(["_dmarc.alice.github.io": "v=DMARC1; p=reject"])
        let other = await pages.evaluate(fromDomain: "alice.github.io", spf: nil, dkim: [DMARCInputs.dkim(.pass, domain: "mallory.github.io")])
        #expect(other.result == .fail && other.disposition == .reject)
    }

    @Test func noRecordAnywhere() async {
        let evaluation = await DMARCInputs.verifier([:]).evaluate(fromDomain: "sub.example.org", spf: DMARCInputs.spf(.fail, domain: "x.test"), dkim: [])
        #expect(evaluation.result == .none && evaluation.disposition == .none && evaluation.record == nil)
        #expect(evaluation.trail.contains { $0.hasPrefix("_dmarc.sub.example.org TXT") })
        #expect(evaluation.trail.contains { $0.hasPrefix("_dmarc.example.org TXT") })
    }

    @Test func recordAtTheFromDomainWins() async {
        let verifier = DMARCInputs.verifier(["_dmarc.news.example.com": "v=DMARC1; p=none", "_dmarc.example.com": "v=DMARC1; p=reject"])
        let evaluation = await verifier.evaluate(fromDomain: "news.example.com", spf: nil, dkim: [])
        #expect(evaluation.policyDomain == "news.example.com" && evaluation.disposition == .none && evaluation.result == .fail)
    }

    @Test func dnsFailuresAndBadRecords() async {
        let timeout = DMARCInputs.verifier([:]) { $0.fail("_dmarc.example.com", with: .timeout) }
        let t = await timeout.evaluate(fromDomain: "example.com", spf: nil, dkim: [])
        #expect(t.result == .temperror && t.disposition == .none)
        let orgTimeout = DMARCInputs.verifier([:]) { $0.fail("_dmarc.example.com", with: .serverFailure) }
        #expect(await orgTimeout.evaluate(fromDomain: "a.example.com", spf: nil, dkim: []).result == .temperror)
        var two = MockResolver()
        two.addTXT("v=DMARC1; p=reject", at: "_dmarc.example.com")
        two.addTXT("v=DMARC1; p=none", at: "_dmarc.example.com")
        two.addTXT("some other text", at: "_dmarc.example.com")
        #expect(await DMARCVerifier(resolver: two).evaluate(fromDomain: "example.com", spf: nil, dkim: []).result == .permerror)
        let broken = DMARCInputs.verifier(["_dmarc.example.com": "v=DMARC1; sp=reject"])
        #expect(await broken.evaluate(fromDomain: "example.com", spf: nil, dkim: []).result == .permerror)
        let unrelated = DMARCInputs.verifier(["_dmarc.example.com": "v=spf1 -all"])
        #expect(await unrelated.evaluate(fromDomain: "example.com", spf: nil, dkim: []).result == .none)
    }

    @Test func fromHeaderProblemsArePermerror() async {
        let verifier = DMARCInputs.verifier(["_dmarc.example.com": "v=DMARC1; p=reject"])
        let two = await verifier.evaluate(header: DMARCInputs.header(from: "a@example.com, b@evil.test"), spf: nil, dkim: [])
        #expect(two.result == .permerror && two.reason?.contains("6.6.1") == true)
        let one = await verifier.evaluate(header: DMARCInputs.header(from: "A <a@Example.com>"), spf: nil, dkim: [DMARCInputs.dkim(.pass, domain: "example.com")])
        #expect(one.result == .pass && one.fromDomain == "example.com")
    }

    @Test(arguments: [(0, DMARCDisposition.reject, false), (49, .reject, false), (50, .quarantine, true), (99, .quarantine, true)])
    func percentageSampling(_ draw: Int, _ disposition: DMARCDisposition, _ sampledOut: Bool) async {
        let verifier = DMARCInputs.verifier(["_dmarc.example.com": "v=DMARC1; p=reject; pct=50"], sample: draw)
        let evaluation = await verifier.evaluate(fromDomain: "example.com", spf: nil, dkim: [])
        #expect(evaluation.result == .fail && evaluation.disposition == disposition && evaluation.sampledOut == sampledOut)
        let quarantine = DMARCInputs.verifier(["_dmarc.example.com": "v=DMARC1; p=quarantine; pct=50"], sample: draw)
        #expect(await quarantine.evaluate(fromDomain: "example.com", spf: nil, dkim: []).disposition == (sampledOut ? .none : .quarantine))
        let zero = DMARCInputs.verifier(["_dmarc.example.com": "v=DMARC1; p=reject; pct=0"], sample: draw)
        #expect(await zero.evaluate(fromDomain: "example.com", spf: nil, dkim: []).disposition == .quarantine)
    }

    @Test func nonexistentSubdomainsGetNP() async {
        let verifier = DMARCInputs.verifier(["_dmarc.example.com": "v=DMARC1; p=none; sp=quarantine; np=reject"]) { dns in
            dns.add(.a(IPv4Address("192.0.2.7")!), at: "www.example.com")
        }
        let ghost = await verifier.evaluate(fromDomain: "ghost.example.com", spf: nil, dkim: [])
        #expect(ghost.policySource == .nonexistent && ghost.disposition == .reject)
        let real = await verifier.evaluate(fromDomain: "www.example.com", spf: nil, dkim: [])
        #expect(real.policySource == .subdomain && real.disposition == .quarantine)
        let failing = DMARCInputs.verifier(["_dmarc.example.com": "v=DMARC1; p=none; np=reject"]) { $0.fail("ghost.example.com", with: .timeout) }
        #expect(await failing.evaluate(fromDomain: "ghost.example.com", spf: nil, dkim: []).disposition == .none)
    }

    @Test func nullSenderUsesTheHELODomain() async throws {
        let verifier = DMARCInputs.verifier(["_dmarc.example.com": "v=DMARC1; p=reject"])
        let helo = DMARCInputs.spf(.pass, domain: "mail.example.com", identity: .helo)
        let evaluation = await verifier.evaluate(fromDomain: "example.com", spf: helo, dkim: [])
        #expect(evaluation.result == .pass && evaluation.spf?.domain == "mail.example.com")
        let record = try #require(DMARCAggregateRecord(evaluation, sourceIP: IPAddress("192.0.2.1")!, spf: helo, envelopeFrom: ""))
        #expect(record.envelopeFrom == "" && record.spfScope == "helo" && record.spfAligned)
    }

    @Test func authenticationResultsAndReports() async throws {
        let verifier = DMARCInputs.verifier(["_dmarc.example.com": "v=DMARC1; p=reject; sp=quarantine; pct=50; rua=mailto:r@example.com"], sample: 70)
        let spf = DMARCInputs.spf(.pass, domain: "example.net")
        let evaluation = await verifier.evaluate(fromDomain: "example.com", spf: spf, dkim: [DMARCInputs.dkim(.fail, domain: "example.com")])
        #expect(AuthenticationResult.dmarc(evaluation).text
            == "dmarc=fail (p=reject sp=quarantine pct=50 dis=quarantine) header.from=example.com policy.dmarc=quarantine")
        let store = InMemoryDMARCReportStore(capacity: 2)
        let record = try #require(DMARCAggregateRecord(evaluation, sourceIP: IPAddress("192.0.2.1")!, spf: spf, date: 1000))
        #expect(record.headerFrom == "example.com" && record.envelopeFrom == "example.net" && record.policyDomain == "example.com")
        #expect(record.disposition == .quarantine && !record.dkimAligned && !record.spfAligned && record.overrideReasons == ["sampled_out"])
        #expect(record.dkim.map(\.domain) == ["example.com"] && record.dkim.first?.selector == "sel" && record.spfScope == "mfrom")
        await store.append(record)
        var later = record
        later.date = 2000
        await store.append(later)
        var other = record
        other.policyDomain = "other.example"
        other.date = 3000
        await store.append(other)
        #expect(await store.all.count == 2)
        #expect(await store.dropped == 1)
        #expect(await store.records(policyDomain: "example.com", from: 0, to: 5000).map(\.date) == [2000])
        #expect(await store.policyDomains(from: 0, to: 5000) == ["example.com", "other.example"])
        await store.removeRecords(before: 2500)
        #expect(await store.all.map(\.date) == [3000])
        // No record, nothing to report.
        let none = await DMARCInputs.verifier([:]).evaluate(fromDomain: "example.org", spf: nil, dkim: [])
        #expect(DMARCAggregateRecord(none, sourceIP: IPAddress("192.0.2.1")!) == nil)
    }
}
