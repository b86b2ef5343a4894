import Foundation
import Testing

@testable import Defenses

@Suite("Public Suffix List")
struct PublicSuffixListTests {
    static let psl = PublicSuffixList.embedded

    @Test(arguments: [
        ("a.b.example.co.uk", "example.co.uk", "co.uk"),
        ("example.co.uk", "example.co.uk", "co.uk"),
        ("Mail.Example.COM.", "example.com", "com"),
        ("www.example.com", "example.com", "com"),
        // *.ck with !www.ck: the exception makes www.ck registrable.
        ("foo.bar.ck", "foo.bar.ck", "bar.ck"),
        ("www.ck", "www.ck", "ck"),
        ("a.www.ck", "www.ck", "ck"),
        // *.kawasaki.jp with !city.kawasaki.jp.
        ("a.b.kawasaki.jp", "a.b.kawasaki.jp", "b.kawasaki.jp"),
        ("city.kawasaki.jp", "city.kawasaki.jp", "kawasaki.jp"),
        ("x.city.kawasaki.jp", "city.kawasaki.jp", "kawasaki.jp"),
        // PRIVATE section.
        ("alice.github.io", "alice.github.io", "github.io"),
        ("www.bob.blogspot.com", "bob.blogspot.com", "blogspot.com"),
        // Unlisted TLD: the default rule "*".
        ("a.b.example.invalidtld", "example.invalidtld", "invalidtld"),
        // IDN rules, matched in A-label form (公司.cn).
        ("shop.example.xn--55qx5d.cn", "example.xn--55qx5d.cn", "xn--55qx5d.cn"),
        ("shop.example.公司.cn", "example.公司.cn", "公司.cn"),
    ])
    func registrableDomains(_ name: String, _ registrable: String, _ suffix: String) {
        #expect(Self.psl.registrableDomain(of: name) == registrable)
        #expect(Self.psl.publicSuffix(of: name) == suffix)
    }

    @Test func suffixesHaveNoRegistrableDomain() {
        for name in ["com", "co.uk", "github.io", "bar.ck", "b.kawasaki.jp"] {
            #expect(Self.psl.registrableDomain(of: name) == nil, "\(name)")
            #expect(Self.psl.organizationalDomain(of: name) == name, "\(name)")
        }
        #expect(Self.psl.registrableDomain(of: "") == nil)
        #expect(Self.psl.registrableDomain(of: "a..example.com") == nil)
        #expect(Self.psl.registrableDomain(of: String(repeating: "a.", count: 200) + "com") == nil)
    }

    @Test func icannSectionOnly() {
        let icann = PublicSuffixList.embeddedICANN
        #expect(icann.registrableDomain(of: "alice.github.io") == "github.io")
        #expect(icann.registrableDomain(of: "a.b.example.co.uk") == "example.co.uk")
        #expect(icann.ruleCount < Self.psl.ruleCount)
    }

    @Test func embeddedCopyMatchesTheDataFile() async throws {
        let text = try String(contentsOf: DNSFixtures.root.appendingPathComponent("Data/publicsuffix/public_suffix_list.dat"), encoding: .utf8)
        let parsed = try await offThePool { PublicSuffixList(parsing: text) }   // seconds of CPU in a debug build
        // The embedded copy also holds A-label forms of Unicode rules; every rule of the file is in it.
        #expect(parsed.ruleCount == 9506)
        #expect(Self.psl.ruleCount > parsed.ruleCount)
        for name in ["a.b.example.co.uk", "alice.github.io", "x.city.kawasaki.jp", "foo.bar.ck", "shop.example.公司.cn"] {
            #expect(parsed.registrableDomain(of: name) == Self.psl.registrableDomain(of: name), "\(name)")
        }
        #expect(PublicSuffixList(parsing: text, sections: .icann).registrableDomain(of: "alice.github.io") == "github.io")
    }
}

extension PublicSuffixListTests {
    /// The list's own vectors (`Fixtures/psl/test_psl.txt`, CC0): `checkPublicSuffix(name, expected)`.
    @Test func officialVectors() throws {
        let text = try String(contentsOf: DNSFixtures.root.appendingPathComponent("Fixtures/psl/test_psl.txt"), encoding: .utf8)
        var checked = 0
        var failures: [String] = []
        for line in text.split(separator: "\n") where line.hasPrefix("checkPublicSuffix(") {
            let arguments = line.dropFirst("checkPublicSuffix(".count).prefix { $0 != ")" }.split(separator: ",").map {
                $0.trimmingCharacters(in: .whitespaces)
            }
            guard arguments.count == 2 else { continue }
            func unquote(_ text: String) -> String? { text == "null" ? nil : String(text.dropFirst().dropLast()) }
            guard let name = unquote(arguments[0]) else { continue }  // null input: not a String here
            let expected = unquote(arguments[1])
            let got = Self.psl.registrableDomain(of: name)
            if got != expected { failures.append("\(name): \(got ?? "null"), expected \(expected ?? "null")") }
            checked += 1
        }
        #expect(checked == 77)
        #expect(failures.isEmpty, "\(failures)")
    }
}
