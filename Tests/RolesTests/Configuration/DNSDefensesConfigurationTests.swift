import Defenses
import Roles
import Testing

/// `[dns]`, `[mx.dnsbl]` (with zone tables) and `[mx.sender_checks]` (docs/configuration.md).
struct DNSDefensesConfigurationTests {
    static let base = "[node]\nhostname = \"h\"\nspool = \"/sp\"\n[mx]\ndomains = [\"d.test\"]\n"

    @Test func offByDefault() throws {
        let configuration = try NodeConfiguration(toml: Self.base, file: "f")
        #expect(configuration.dns == nil)
        #expect(configuration.mx?.dnsDefenses.dnsLists == nil && configuration.mx?.dnsDefenses.senderChecks == nil)
    }

    @Test func everyKey() throws {
        let text = """
            [node]
            hostname = "h"
            [dns]
            servers = ["127.0.0.1:5353", "[::1]:53", "192.0.2.53"]
            timeout = 3
            attempts = 1
            [mx]
            domains = ["d.test"]
            trusted_upstreams = ["10.0.0.0/8"]
            [mx.dnsbl]
            zones = ["zen.example"]
            threshold = 2
            stage = "mail"
            on_unknown = "tempfail"
            name_zones = true
            time_limit = 5
            [mx.dnsbl.zones."dbl.example"]
            subjects = ["sender", "helo"]
            weight = 2
            [mx.dnsbl.zones."wl.example"]
            kind = "allow"
            codes = ["127.0.10.0/24"]
            ipv6 = false
            health_check = false
            [mx.sender_checks]
            iprev = false
            """
        let configuration = try NodeConfiguration(toml: text, file: "f")
        let dns = try #require(configuration.dns)
        #expect(dns.nameservers.map(\.description) == ["127.0.0.1:5353", "[::1]:53", "192.0.2.53:53"])
        #expect(dns.timeout == .seconds(3) && dns.attempts == 1)
        let settings = try #require(configuration.mx?.dnsDefenses)
        let lists = try #require(settings.dnsLists)
        #expect(lists.zones.map(\.name) == ["zen.example", "dbl.example", "wl.example"])
        #expect(lists.zones[0].subjects == [.clientIP] && lists.zones[0].weight == 1)
        #expect(lists.zones[1].subjects == [.mailFromDomain, .heloName] && lists.zones[1].weight == 2)
        #expect(lists.zones[2].kind == .allow && !lists.zones[2].ipv6 && !lists.zones[2].healthCheck)
        #expect(lists.zones[2].codes.map(\.description) == ["127.0.10.0/24"])
        #expect(lists.threshold == 2 && lists.timeLimit == .seconds(5))
        #expect(settings.dnsListPolicy.stage == .mailFrom && settings.dnsListPolicy.onUnknown == .tempfail)
        #expect(settings.dnsListPolicy.nameZonesInReply)
        #expect(settings.dnsListPolicy.trustedNetworks.map(\.description) == ["10.0.0.0/8"])
        #expect(settings.spf == nil)
        let spf = try #require(try NodeConfiguration(toml: Self.base + "[mx.spf]\non_fail = \"tag\"\n", file: "f").mx?.dnsDefenses.spf)
        #expect(spf.onFail == .tag && spf.onSoftfail == .tag && spf.onTemperror == .tempfail && spf.onPermerror == .tag)
        let checks = try #require(settings.senderChecks)
        #expect(checks.checkHELO && checks.checkSenderDomain && !checks.checkIPRev)
    }

    @Test func authenticationDefaultsAndEveryKey() throws {
        let plain = try #require(try NodeConfiguration(toml: Self.base + "[mx.authentication]\n", file: "f").mx?.dnsDefenses.authentication)
        #expect(plain.authservID.isEmpty)   // the node's hostname, filled in by the node
        #expect(plain.verifyDKIM && plain.verifyARC && plain.evaluateDMARC)
        #expect(plain.onReject == .reject && plain.onQuarantine == .tag && plain.onTemperror == .tag)
        #expect(plain.trustedARCSealers.isEmpty && plain.maxARCBody == 10 * 1024 * 1024)
        let text = Self.base + """
            trusted_upstreams = ["10.0.0.0/8"]
            [mx.authentication]
            authserv_id = "mx.example.org"
            dkim = false
            arc = false
            dmarc = true
            on_reject = "tag"
            on_quarantine = "reject"
            on_temperror = "tempfail"
            trusted_arc_sealers = ["Lists.Example.net"]
            max_arc_body = 1000
            dmarc_records = "/var/lib/mailnode/dmarc"
            dmarc_record_days = 7

            """
        let auth = try #require(try NodeConfiguration(toml: text, file: "f").mx?.dnsDefenses.authentication)
        #expect(auth.authservID == "mx.example.org" && !auth.verifyDKIM && !auth.verifyARC && auth.evaluateDMARC)
        #expect(auth.onReject == .tag && auth.onQuarantine == .reject && auth.onTemperror == .tempfail)
        #expect(auth.trustedARCSealers == ["lists.example.net"] && auth.maxARCBody == 1000)
        #expect(auth.trustedNetworks.map(\.description) == ["10.0.0.0/8"])
        let records = try #require(try NodeConfiguration(toml: text, file: "f").mx?.dnsDefenses.dmarcRecords)
        #expect(records.path(spool: "/s") == "/var/lib/mailnode/dmarc" && records.retentionDays == 7)
        let defaults = try #require(try NodeConfiguration(toml: Self.base + "[mx.authentication]\n", file: "f").mx?.dnsDefenses.dmarcRecords)
        #expect(defaults.path(spool: "/s") == "/s/dmarc" && defaults.retentionDays == 31)
        let none = try #require(try NodeConfiguration(toml: Self.base + "[mx.authentication]\ndmarc_records = \"\"\n", file: "f").mx)
        #expect(none.dnsDefenses.dmarcRecords.path(spool: "/s") == nil)
        let off = try NodeConfiguration(toml: Self.base + "[mx.authentication]\nenabled = false\ndkim = true\n", file: "f")
        #expect(off.mx?.dnsDefenses.authentication == nil)
    }

    @Test(arguments: [
        ("[dns]\nservers = [\"dns.example\"]", "f:7: dns.servers: 'dns.example' is not an address or address:port"),
        ("[dns]\ntimeout = 60", "f:7: dns.timeout: 60 is out of range 1...30"),
        ("[mx.dnsbl]\nzones = [\"a.example\"]\nstage = \"data\"", "f:8: mx.dnsbl.stage: must be connect, mail or rcpt, got 'data'"),
        ("[mx.dnsbl]\nthreshold = 1", "f:6: mx.dnsbl.zones: is required (zones = [\"bl.example\"] or [mx.dnsbl.zones.\"bl.example\"] tables)"),
        ("[mx.dnsbl]\nzones = [\"a.example\"]\n[mx.dnsbl.zones.\"a.example\"]", "f:7: mx.dnsbl.zones: zone 'a.example' is named twice"),
        ("[mx.dnsbl]\n[mx.dnsbl.zones.\"a.example\"]\nsubjects = [\"body\"]", "f:8: mx.dnsbl.zones.a.example.subjects: 'body' is not client, helo or sender"),
        ("[mx.dnsbl]\n[mx.dnsbl.zones.\"a.example\"]\ncodes = [\"10.0.0.1/99\"]", "f:8: mx.dnsbl.zones.a.example.codes: '10.0.0.1/99' is not a 127.x.y.z address or network"),
        ("[mx.sender_checks]\nspf = true", "f:7: mx.sender_checks.spf: unknown key"),
        ("[mx.spf]\non_fail = \"bounce\"", "f:7: mx.spf.on_fail: must be reject, tempfail, tag or ignore, got 'bounce'"),
        ("[mx.spf]\non_temperror = \"reject\"", "f:7: mx.spf.on_temperror: a DNS failure never refuses for good: tempfail, tag or ignore"),
        ("[mx.authentication]\non_temperror = \"reject\"", "f:7: mx.authentication.on_temperror: a DNS failure never refuses for good: tempfail, tag or ignore"),
        ("[mx.authentication]\non_reject = \"bounce\"", "f:7: mx.authentication.on_reject: must be reject, tempfail, tag or ignore, got 'bounce'"),
        ("[mx.authentication]\nauthserv_id = \"a b\"", "f:7: mx.authentication.authserv_id: must be a host name without spaces or ';', got 'a b'"),
        ("[mx.authentication]\nverify = true", "f:7: mx.authentication.verify: unknown key"),
        ("[mx.authentication]\ndmarc_record_days = 0", "f:7: mx.authentication.dmarc_record_days: 0 is out of range 1...366"),
    ])
    func errorsNameTheKeyAndLine(snippet: String, message: String) {
        #expect {
            _ = try NodeConfiguration(toml: Self.base + snippet, file: "f")
        } throws: { "\($0)" == message }
    }
}
