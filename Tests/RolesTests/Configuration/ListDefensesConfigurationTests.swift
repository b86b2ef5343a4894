import Defenses
import Foundation
import Roles
import Testing

/// `mx.max_recipients_hard`, `[mx.blocklist]`, `[mx.allowlist]`, `[mx.spam_traps]`, `[mx.sender_rate]`
/// (docs/configuration.md).
struct ListDefensesConfigurationTests {
    static let base = "[node]\nhostname = \"h\"\nspool = \"/sp\"\n[mx]\ndomains = [\"d.test\"]\n"

    @Test func offByDefault() throws {
        let mx = try #require(try NodeConfiguration(toml: Self.base, file: "f").mx)
        #expect(mx.limits.hardRecipientLimit == 0)
        #expect(mx.blocklist == nil && mx.allowlist == nil && mx.spamTraps == nil && mx.senderVolume == nil)
    }

    @Test func everyKey() throws {
        let listFile = NSTemporaryDirectory() + "mailnode-list-\(UUID().uuidString).txt"
        try "192.0.2.0/24\n".write(toFile: listFile, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: listFile) }
        let text = Self.base + """
            max_recipients = 100
            max_recipients_hard = 500
            trusted_upstreams = ["10.0.0.0/8"]
            [mx.blocklist]
            clients = ["198.51.100.0/24"]
            senders = ["*.bulk.example", "spammer@x.example"]
            helo = ["localhost"]
            file = "\(listFile)"
            reload_interval = 10
            dynamic = false
            [mx.allowlist]
            clients = ["203.0.113.5"]
            senders = ["partner.example"]
            [mx.allowlist.recipients]
            "Alice@d.test" = ["*.family.example"]
            [mx.spam_traps]
            addresses = ["trap@d.test", "*@traps.d.test"]
            block_for = 3600
            [mx.sender_rate]
            window = 600
            max_messages = 20
            """
        let configuration = try NodeConfiguration(toml: text, file: "f")
        let mx = try #require(configuration.mx)
        #expect(mx.limits.hardRecipientLimit == 500)
        let block = try #require(mx.blocklist)
        #expect(block.entries.networks.map(\.description) == ["198.51.100.0/24"])
        #expect(block.entries.senders.map(\.description) == ["*.bulk.example", "spammer@x.example"])
        #expect(block.entries.heloNames.map(\.description) == ["localhost"])
        #expect(block.file == listFile && block.reloadInterval == .seconds(10) && !block.checkDynamic)
        #expect(block.trustedNetworks.map(\.description) == ["10.0.0.0/8"])
        let allow = try #require(mx.allowlist)
        #expect(allow.entries.networks.map(\.description) == ["203.0.113.5/32"])
        #expect(allow.perRecipient["alice@d.test"]?.map(\.description) == ["*.family.example"])
        #expect(mx.spamTraps?.addresses.map(\.description) == ["trap@d.test", "traps.d.test"])
        #expect(mx.spamTraps?.blockFor == .seconds(3600))
        #expect(mx.senderVolume?.window == .seconds(600) && mx.senderVolume?.maxMessages == 20 && mx.senderVolume?.maxRecipients == 1000)
        #expect(configuration.needsStateStore)
    }

    @Test func recipientDirectory() throws {
        let text = Self.base + "[mx.recipients]\naddresses = [\"alice@d.test\", \"@lists.d.test\"]\n"
        let mx = try #require(try NodeConfiguration(toml: text, file: "f").mx)
        let directory = try #require(mx.recipientDirectory)
        #expect(directory.addresses.map(\.description) == ["alice@d.test", "lists.d.test"])
        #expect(directory.domains == ["d.test"])   // every mx.domains by default
        #expect(directory.file == nil && directory.reloadInterval == .seconds(30))
    }

    /// DM26 (docs/configuration.md `[mx.hashcash]`): off by default, defaults 20 bits / 7 days / tag.
    @Test func hashcash() throws {
        #expect(try NodeConfiguration(toml: Self.base, file: "f").mx?.hashcash == nil)
        let plain = try NodeConfiguration(toml: Self.base + "trusted_upstreams = [\"10.0.0.0/8\"]\n[mx.hashcash]\n", file: "f")
        let postage = try #require(plain.mx?.hashcash)
        #expect(postage.requiredBits == 20 && postage.maxAge == .seconds(7 * 86_400) && postage.action == .tag)
        #expect(postage.trustedNetworks.map(\.description) == ["10.0.0.0/8"])
        #expect(plain.needsStateStore, "spent stamps live in the state store")
        let tuned = try #require(try NodeConfiguration(toml: Self.base + "[mx.hashcash]\nbits = 24\nmax_age = 86400\naction = \"require\"\n",
                                                       file: "f").mx?.hashcash)
        #expect(tuned.requiredBits == 24 && tuned.maxAge == .seconds(86_400) && tuned.action == .require)
        #expect(try NodeConfiguration(toml: Self.base + "[mx.hashcash]\nenabled = false\nbits = 24\n", file: "f").mx?.hashcash == nil)
    }

    @Test func disabledTablesKeepTheirKeys() throws {
        let text = Self.base + "[mx.spam_traps]\nenabled = false\naddresses = [\"trap@d.test\"]\n[mx.allowlist]\nenabled = false\n"
            + "clients = [\"192.0.2.1\"]\n[mx.allowlist.recipients]\n\"a@d.test\" = [\"b.example\"]\n"
        let mx = try #require(try NodeConfiguration(toml: text, file: "f").mx)
        #expect(mx.spamTraps == nil && mx.allowlist == nil)
    }

    @Test(arguments: [
        ("max_recipients_hard = 10", "f:6: mx.max_recipients_hard: 10 is below mx.max_recipients (1000); the hard limit must not be the smaller"),
        ("[mx.blocklist]\nfile = \"/nonexistent/block.txt\"", "f:7: mx.blocklist.file: cannot read '/nonexistent/block.txt'"),
        ("[mx.blocklist]\nsenders = [\"a b\"]", "f:7: mx.blocklist.senders: 'a b' is not an address, domain or *.domain"),
        ("[mx.blocklist]\nhelo = [\"u@h.example\"]", "f:7: mx.blocklist.helo: 'u@h.example' is an address; a host name or *.domain is expected"),
        ("[mx.spam_traps]\nblock_for = 600", "f:6: mx.spam_traps.addresses: is required (the trap addresses)"),
        ("[mx.allowlist]\n[mx.allowlist.recipients]\n\"nobody\" = [\"x.example\"]", "f:8: mx.allowlist.recipients.nobody: 'nobody' is not a recipient address"),
        ("[mx.recipients]\nreload_interval = 5", "f:6: mx.recipients.addresses: is required unless mx.recipients.file or mx.recipients.users is given (an empty directory would refuse everyone)"),
        ("[mx.recipients]\naddresses = [\"a@d.test\"]\ndomains = [\"x.test\"]", "f:8: mx.recipients.domains: 'x.test' is not one of mx.domains"),
        ("[mx.sender_rate]\nwindow = 5", "f:7: mx.sender_rate.window: 5 is out of range 60...604800"),
        ("[mx.blocklist]\nnetworks = [\"192.0.2.1\"]", "f:7: mx.blocklist.networks: unknown key"),
        ("[mx.hashcash]\naction = \"reject\"", "f:7: mx.hashcash.action: must be tag or require, got 'reject'"),
        ("[mx.hashcash]\nbits = 0", "f:7: mx.hashcash.bits: 0 is out of range 1...40"),
        ("[mx.hashcash]\nmax_age = 60", "f:7: mx.hashcash.max_age: 60 is out of range 3600...31536000"),
    ])
    func errorsNameTheKeyAndLine(snippet: String, message: String) {
        #expect {
            _ = try NodeConfiguration(toml: Self.base + snippet, file: "f")
        } throws: { "\($0)" == message }
    }
}

struct EnvelopeRulesConfigurationTests {
    @Test func rulesAndBadPatterns() throws {
        let base = ListDefensesConfigurationTests.base
        let mx = try #require(try NodeConfiguration(toml: base + "[mx.rules]\nreject_helo = ['^localhost$']\nreject_sender = ['\\.top$']\n", file: "f").mx)
        #expect(mx.envelopeRules?.helo.map(\.pattern) == ["^localhost$"] && mx.envelopeRules?.sender.map(\.pattern) == [#"\.top$"#])
        #expect {
            _ = try NodeConfiguration(toml: base + "[mx.rules]\nreject_sender = ['(oops']\n", file: "f")
        } throws: { "\($0)" == "f:7: mx.rules.reject_sender: '(oops' is not a valid regular expression" }
    }

    @Test func headerAndBodyRules() throws {
        let base = ListDefensesConfigurationTests.base
        let mx = try #require(try NodeConfiguration(toml: base + """
            [mx.rules]
            reject_header = ['^Subject:.*viagra', '^X-Mailer: bulk']
            reject_body = ['click here']
            body_scan_limit = 65536

            """, file: "f").mx)
        let content = try #require(mx.contentRules)
        #expect(content.header.map(\.pattern) == ["^Subject:.*viagra", "^X-Mailer: bulk"])
        #expect(content.body.map(\.pattern) == ["click here"])
        #expect(content.bodyScanLimit == 65536)
        #expect(content.maxLineOctets == 998)

        let envelopeOnly = try #require(try NodeConfiguration(toml: base + "[mx.rules]\nreject_helo = ['^x$']\n", file: "f").mx)
        #expect(envelopeOnly.envelopeRules != nil && envelopeOnly.contentRules == nil, "no message stage without header or body rules")
        let defaults = try #require(try NodeConfiguration(toml: base + "[mx.rules]\nreject_body = ['x']\n", file: "f").mx)
        #expect(defaults.contentRules?.bodyScanLimit == 1024 * 1024)
        let off = try #require(try NodeConfiguration(toml: base + "[mx.rules]\nenabled = false\nreject_body = ['x']\nbody_scan_limit = 5\n", file: "f").mx)
        #expect(off.contentRules == nil && off.envelopeRules == nil)
    }

    @Test(arguments: [
        ("[mx.rules]\nreject_header = ['^Subject:', '[a-']\n", "f:7: mx.rules.reject_header: '[a-' is not a valid regular expression"),
        ("[mx.rules]\n\nreject_body = ['(?<name']\n", "f:8: mx.rules.reject_body: '(?<name' is not a valid regular expression"),
        ("[mx.rules]\nreject_body = ['x']\nbody_scan_limit = -1\n", "f:8: mx.rules.body_scan_limit: -1 is out of range 0...1073741824"),
        ("[mx.rules]\nreject_bodies = ['x']\n", "f:7: mx.rules.reject_bodies: unknown key"),
    ])
    func badContentRulesNameFileLineAndKey(snippet: String, message: String) {
        #expect {
            _ = try NodeConfiguration(toml: ListDefensesConfigurationTests.base + snippet, file: "f")
        } throws: { "\($0)" == message }
    }
}
