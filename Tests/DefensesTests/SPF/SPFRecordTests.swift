import Testing

@testable import Defenses

@Suite("SPF record parsing and macros")
struct SPFRecordTests {
    // MARK: - Records (RFC 7208 §4.5, §4.6, §5, §6)

    @Test func versionSelection() {
        #expect(SPFRecord.isSPFv1(Array("v=spf1".utf8)))
        #expect(SPFRecord.isSPFv1(Array("V=SpF1 -all".utf8)))
        #expect(!SPFRecord.isSPFv1(Array("v=spf10".utf8)))
        #expect(!SPFRecord.isSPFv1(Array("v=spf1mx".utf8)))
        #expect(!SPFRecord.isSPFv1(Array("spf2.0/pra".utf8)))
    }

    @Test func parsesEveryMechanismAndModifier() throws {
        let record = try SPFRecord.parse(
            "v=spf1 +all -include:_spf.example.com ~a ?a:mail.example.com/24//64 mx//48 ptr ptr:example.org "
                + "ip4:192.0.2.0/24 ip6:2001:db8::/32 exists:%{i}.bl.example redirect=other.example exp=why.%{d} x-note=%{s}")
        #expect(record.directives.map(\.qualifier) == [.pass, .fail, .softfail, .neutral, .pass, .pass, .pass, .pass, .pass, .pass])
        guard case .a(let spec, let cidr) = record.directives[3].mechanism else {
            Issue.record("not a")
            return
        }
        #expect(spec?.source == "mail.example.com")
        #expect(cidr == SPFDualCIDR(ipv4: 24, ipv6: 64))
        #expect(record.directives[4].mechanism == .mx(nil, SPFDualCIDR(ipv4: 32, ipv6: 48)))
        #expect(record.directives[7].mechanism == .ip4(IPv4Address("192.0.2.0")!, prefix: 24))
        #expect(record.directives[8].mechanism == .ip6(IPv6Address("2001:db8::")!, prefix: 32))
        #expect(record.redirect?.source == "other.example")
        #expect(record.explanation?.source == "why.%{d}")
        #expect(record.unknownModifiers.map(\.name) == ["x-note"])
        #expect(record.directives.filter(\.mechanism.queriesDNS).count == 7)
    }

    @Test(arguments: [
        "v=spf1 -all.", "v=spf1 all:x", "v=spf1 a/33", "v=spf1 a//129", "v=spf1 a/024", "v=spf1 mx/24/64",
        "v=spf1 ip4:1.2.3", "v=spf1 ip4:01.2.3.4", "v=spf1 ip4:1.2.3.4//32", "v=spf1 ip6:::1/129", "v=spf1 ip6",
        "v=spf1 include", "v=spf1 include:", "v=spf1 exists:example.com/24", "v=spf1 a:example.-com",
        "v=spf1 a:abc.123", "v=spf1 a:museum", "v=spf1 ptr/0", "v=spf1 redirect=a.example redirect=b.example",
        "v=spf1 exp=", "v=spf1 1up=foo", "v=spf1 =all", "v=spf1 foo=%abc", "v=spf1 a:%{x}.example",
        "v=spf1 exists:%{r}.example", "v=spf1 exists:%{d0}.example", "v=spf1 a:b.example\t-all", "v=spf1 a:ü.example",
    ])
    func syntaxErrors(_ text: String) {
        #expect(throws: SPFSyntaxError.self) { try SPFRecord.parse(text) }
    }

    @Test(arguments: [
        "v=spf1", "v=spf1 ", "v=spf1  -all  ", "v=spf1 a:foo:bar/baz.example.com", "v=spf1 a:foo.xn--zckzah",
        "v=spf1 a:%{H}", "v=spf1 exists:%{l2r+-}.user.%{d2}", "v=spf1 moo.cow-far_out=man:dog/cat", "v=spf1 default=+",
        "v=spf1 include:o.example.com.", "v=spf1 a:mail.example...com",
    ])
    func validRecords(_ text: String) throws {
        _ = try SPFRecord.parse(text)
    }

    @Test func topLabels() {
        for good in ["com", "xn--zckzah", "a1", "1a", "12-34"] { #expect(SPFRecord.isTopLabel(good[...]), "\(good)") }
        for bad in ["123", "-com", "com-", "", "c_m"] { #expect(!SPFRecord.isTopLabel(bad[...]), "\(bad)") }
    }

    // MARK: - Macros (RFC 7208 §7.4 examples)

    private func expand(_ text: String, ip: String = "192.0.2.3", context: SPFMacroString.Context = .domainSpec) async throws -> String {
        var evaluation = SPFEvaluation(
            resolver: MockResolver(), configuration: SPFConfiguration(receivingHost: "mx.example.org", now: { 1_700_000_000 }),
            ip: IPAddress(ip)!, sender: SPFSender("strong-bad@email.example.com"), helo: "mail.example.org")
        let string = try SPFMacroString.parse(text[...], context: context)
        return try await evaluation.expand(string, domain: "email.example.com")
    }

    @Test func rfc7208Section7Point4Examples() async throws {
        let examples: [(String, String)] = [
            ("%{s}", "strong-bad@email.example.com"),
            ("%{o}", "email.example.com"),
            ("%{d}", "email.example.com"),
            ("%{d4}", "email.example.com"),
            ("%{d3}", "email.example.com"),
            ("%{d2}", "example.com"),
            ("%{d1}", "com"),
            ("%{dr}", "com.example.email"),
            ("%{d2r}", "example.email"),
            ("%{l}", "strong-bad"),
            ("%{l-}", "strong.bad"),
            ("%{lr}", "strong-bad"),
            ("%{lr-}", "bad.strong"),
            ("%{l1r-}", "strong"),
            ("%{ir}.%{v}._spf.%{d2}", "3.2.0.192.in-addr._spf.example.com"),
            ("%{lr-}.lp._spf.%{d2}", "bad.strong.lp._spf.example.com"),
            ("%{lr-}.lp.%{ir}.%{v}._spf.%{d2}", "bad.strong.lp.3.2.0.192.in-addr._spf.example.com"),
            ("%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}", "3.2.0.192.in-addr.strong.lp._spf.example.com"),
            ("%{d2}.trusted-domains.example.net", "example.com.trusted-domains.example.net"),
        ]
        for (macro, expected) in examples {
            #expect(try await expand(macro) == expected, "\(macro)")
        }
        #expect(
            try await expand("%{ir}.%{v}._spf.%{d2}", ip: "2001:db8::cb01")
                == "1.0.B.C.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.B.D.0.1.0.0.2.ip6._spf.example.com")
    }

    @Test func escapesAndExplanationMacros() async throws {
        #expect(try await expand("a%%b%_c%-d") == "a%b c%20d")
        #expect(try await expand("%{S}") == "strong-bad%40email.example.com")
        #expect(try await expand("%{h}") == "mail.example.org")
        #expect(try await expand("%{c} %{r} %{t}", context: .explanation) == "192.0.2.3 mx.example.org 1700000000")
        #expect(try await expand("%{c}", ip: "2001:db8::cb01", context: .explanation) == "2001:db8::cb01")
        #expect(try await expand("%{p}") == "unknown")  // no PTR record
    }

    @Test func domainNamesForQueries() {
        #expect(SPFEvaluation.checkableDomain("example.com.") == "example.com")
        #expect(SPFEvaluation.checkableDomain("localhost") == nil)
        #expect(SPFEvaluation.checkableDomain("[192.0.2.1]") == nil)
        #expect(SPFEvaluation.checkableDomain("a..example") == nil)
        #expect(SPFEvaluation.checkableDomain(String(repeating: "a", count: 64) + ".example") == nil)
        #expect(SPFEvaluation.checkableDomain("bücher.example") == "xn--bcher-kva.example")
        // RFC 7208 §7.3: labels go from the left until the name fits 253 characters.
        let long = (0..<30).map { _ in "abcdefghi" }.joined(separator: ".") + ".example"
        let truncated = SPFEvaluation.truncated(long)
        #expect(truncated.map { $0.count <= 253 && long.hasSuffix($0) } == true)
        #expect(SPFEvaluation.queryName("a b\\c.example") == "a\\032b\\092c.example")
        #expect(SPFEvaluation.unmapped(IPAddress("::ffff:192.0.2.1")!) == IPAddress("192.0.2.1"))
        #expect(SPFEvaluation.prefixMatches([192, 0, 2, 100], [192, 0, 2, 0], 25))
        #expect(!SPFEvaluation.prefixMatches([192, 0, 2, 200], [192, 0, 2, 0], 25))
        #expect(SPFEvaluation.prefixMatches([10, 0, 0, 1], [192, 0, 2, 0], 0))
    }
}
