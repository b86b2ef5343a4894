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

    @Test func embeddedCopyMatchesTheDataFile() throws {
        let text = try String(contentsOf: DNSFixtures.root.appendingPathComponent("Data/publicsuffix/public_suffix_list.dat"), encoding: .utf8)
        let parsed = PublicSuffixList(parsing: text)
        // The embedded copy also holds A-label forms of Unicode rules; every rule of the file is in it.
        #expect(parsed.ruleCount == 9506)
        #expect(Self.psl.ruleCount > parsed.ruleCount)
        for name in ["a.b.example.co.uk", "alice.github.io", "x.city.kawasaki.jp", "foo.bar.ck", "shop.example.公司.cn"] {
            #expect(parsed.registrableDomain(of: name) == Self.psl.registrableDomain(of: name), "\(name)")
        }
        #expect(PublicSuffixList(parsing: text, sections: .icann).registrableDomain(of: "alice.github.io") == "github.io")
    }
}
