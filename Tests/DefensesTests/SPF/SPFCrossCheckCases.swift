import Foundation

@testable import Defenses

/// The generated world of the pyspf cross-check (``SPFCrossCheckTests``): zone files for
/// `Tests/interop/dns_server.py` and the cases, every policy against every client address.
///
/// Deterministic: the same policies, hosts and clients in the same order on every run, so a
/// mismatch names a case that can be replayed (`mailnode check spf --dns … --ip … --mail-from …`).
/// The policies cover every mechanism (`all ip4 ip6 a mx ptr include exists`), both modifiers,
/// the qualifiers and default results, CIDR lengths, macros with transformers, the RFC 7208
/// §4.6.4 limits (10 DNS terms, 2 void look-ups, 10 MX), syntax errors, record selection and
/// DNS failures (SERVFAIL through `behaviours.conf`).
enum SPFCrossCheckCases {
    /// One case: `check_host()` for the MAIL FROM identity (`sender` empty: the null sender, so
    /// `postmaster@<helo>`).
    struct Case: Codable, Hashable {
        var id: String
        var ip: String
        var sender: String
        var helo: String
        /// Compare the `exp=` explanation too (policies with an `exp=` of their own).
        var comparesExplanation: Bool
    }

    /// A domain `<name>.xc.test` with its TXT records (each an array of character-strings).
    struct Policy {
        var name: String
        var records: [[String]]
        /// The local-part of the sender (`%{l}`).
        var localPart = "alice"
        /// Extra zone lines the policy needs (owner names relative to `xc.test.`).
        var extra: [String] = []
        var comparesExplanation = false

        init(_ name: String, _ record: String, localPart: String = "alice", extra: [String] = [], comparesExplanation: Bool = false) {
            self.init(name, records: [[record]], localPart: localPart, extra: extra, comparesExplanation: comparesExplanation)
        }

        init(_ name: String, records: [[String]], localPart: String = "alice", extra: [String] = [], comparesExplanation: Bool = false) {
            self.name = name
            self.records = records
            self.localPart = localPart
            self.extra = extra
            self.comparesExplanation = comparesExplanation
        }

        var domain: String { "\(name).\(SPFCrossCheckCases.origin)" }
    }

    static let origin = "xc.test"

    /// Clients: listed in some policies, in a listed network, outside everything; IPv4 and IPv6.
    static let clients = ["192.0.2.1", "192.0.2.2", "192.0.2.200", "198.51.100.1", "2001:db8::1", "2001:db8:1::5"]

    static let helo = "helo.xc.test"

    /// Hosts and names the policies point at.
    static let hosts = [
        "helo         A      192.0.2.1",
        "h1           A      192.0.2.1",
        "h2           A      192.0.2.2",
        "h2           A      192.0.2.3",
        "h6           AAAA   2001:db8::1",
        "h46          A      192.0.2.4",
        "h46          AAAA   2001:db8:1::4",
        "alias        CNAME  h1.xc.test.",
        "mx1          MX     10 h1.xc.test.",
        "mx1          MX     20 h2.xc.test.",
        "mx6          MX     10 h6.xc.test.",
        "mxnull       MX     0 .",
        "mxnoaddr     MX     10 noaddr.xc.test.",
        "noaddr       TXT    \"a name without addresses\"",
        "explain      TXT    \"%{i} is not one of %{d}'s senders\"",
        "notspf       TXT    \"not an SPF record\"",
        "onlya        A      192.0.2.1",
        "deny         TXT    \"v=spf1 -all\"",
    ]
        + (1...3).map { "mx3          MX     \($0) m\($0).xc.test." }
        + (1...11).map { "mx11         MX     \($0) m\($0).xc.test." }
        + (1...11).map { "m\($0)          A      192.0.2.\(100 + $0)" }
        + (1...11).map { "inc\($0)         TXT    \"v=spf1 -all\"" }

    static let includes10 = (1...10).map { "include:inc\($0).xc.test" }.joined(separator: " ")
    static let includes11 = (1...11).map { "include:inc\($0).xc.test" }.joined(separator: " ")

    static let policies: [Policy] = [
        // all and the qualifiers, the default result
        Policy("deny-all", "v=spf1 -all"),
        Policy("soft-all", "v=spf1 ~all"),
        Policy("neutral-all", "v=spf1 ?all"),
        Policy("pass-all", "v=spf1 +all"),
        Policy("empty", "v=spf1"),
        Policy("qualifiers", "v=spf1 -ip4:192.0.2.1 ~ip4:192.0.2.2 ?ip6:2001:db8::/32 +all"),
        // ip4, ip6, CIDR
        Policy("ip4-net", "v=spf1 ip4:192.0.2.0/24 -all"),
        Policy("ip4-host", "v=spf1 ip4:192.0.2.1 ~all"),
        Policy("ip4-cidr30", "v=spf1 ip4:192.0.2.0/30 ?all"),
        Policy("ip6-net", "v=spf1 ip6:2001:db8::/32 -all"),
        Policy("ip6-host", "v=spf1 ip6:2001:db8::1 ip4:192.0.2.2 -all"),
        Policy("ip6-cidr48", "v=spf1 ip6:2001:db8:1::/48 ~all"),
        // a
        Policy("a-self", "v=spf1 a -all", extra: ["a-self A 192.0.2.2"]),
        Policy("a-host", "v=spf1 a:h2.xc.test -all"),
        Policy("a-cidr", "v=spf1 a:h1.xc.test/31 -all"),
        Policy("a-dual", "v=spf1 a:h46.xc.test/24//64 -all"),
        Policy("a-cname", "v=spf1 a:alias.xc.test -all"),
        Policy("a-aaaa", "v=spf1 a:h6.xc.test ~all"),
        Policy("a-void2", "v=spf1 a:nx1.xc.test a:nx2.xc.test ip4:192.0.2.2 -all"),
        Policy("a-void3", "v=spf1 a:nx1.xc.test a:nx2.xc.test a:nx3.xc.test ip4:192.0.2.2 -all"),
        Policy("a-servfail", "v=spf1 a:servfail.xc.test -all"),
        Policy("a-servfail-late", "v=spf1 ip4:192.0.2.1 a:servfail.xc.test -all"),
        // mx
        Policy("mx-host", "v=spf1 mx:mx1.xc.test -all"),
        Policy("mx-self", "v=spf1 mx -all", extra: ["mx-self MX 10 h6.xc.test."]),
        Policy("mx-cidr", "v=spf1 mx:mx1.xc.test/30 ~all"),
        Policy("mx-null", "v=spf1 mx:mxnull.xc.test ip4:192.0.2.2 -all"),
        Policy("mx-noaddr", "v=spf1 mx:mxnoaddr.xc.test ip4:192.0.2.2 -all"),
        Policy("mx-eleven", "v=spf1 mx:mx11.xc.test -all"),
        Policy("mx-none", "v=spf1 mx:onlya.xc.test ip4:192.0.2.2 -all"),
        Policy("mx-v4-hosts", "v=spf1 mx:mx3.xc.test ~all"),
        // ptr and %{p}
        Policy("ptr-domain", "v=spf1 ptr:xc.test -all"),
        Policy("ptr-self", "v=spf1 ptr -all"),
        Policy("p-macro", "v=spf1 exists:%{p}.pm.xc.test -all", extra: ["h1.xc.test.pm A 127.0.0.2"]),
        // include
        Policy("include-pass", "v=spf1 include:ip4-net.xc.test -all"),
        Policy("include-soft", "v=spf1 include:ip4-host.xc.test ?all"),
        Policy("include-none", "v=spf1 include:nothere.xc.test -all"),
        Policy("include-perm", "v=spf1 include:a-void3.xc.test -all"),
        Policy("include-temp", "v=spf1 include:servfail.xc.test -all"),
        Policy("include-two", "v=spf1 include:deny.xc.test include:ip6-net.xc.test ~all"),
        // redirect
        Policy("redirect", "v=spf1 redirect=ip4-net.xc.test"),
        Policy("redirect-none", "v=spf1 redirect=nothere.xc.test"),
        Policy("redirect-ignored", "v=spf1 ip4:198.51.100.0/24 redirect=ip4-net.xc.test ~all"),
        Policy("redirect-after", "v=spf1 ip4:198.51.100.0/24 redirect=ip6-net.xc.test"),
        Policy("redirect-chain", "v=spf1 redirect=redirect.xc.test"),
        // exists and macros (RFC 7208 §7)
        Policy("exists-ir", "v=spf1 exists:%{ir}.ex.xc.test -all", extra: ["1.2.0.192.ex A 127.0.0.2"]),
        Policy("exists-i", "v=spf1 exists:%{i}.ip.xc.test -all", extra: ["192.0.2.2.ip A 127.0.0.2"]),
        Policy("exists-v", "v=spf1 exists:%{v}.%{ir}.vx.xc.test -all",
               extra: ["in-addr.1.2.0.192.vx A 127.0.0.2", "ip6.\(nibbles("2001:db8::1")).vx A 127.0.0.2"]),
        Policy("exists-l", "v=spf1 exists:%{l}.users.xc.test -all", extra: ["alice.users A 127.0.0.2"]),
        Policy("exists-l-miss", "v=spf1 exists:%{l}.users.xc.test -all", localPart: "bob"),
        Policy("exists-l-upper", "v=spf1 exists:%{L}.users.xc.test -all"),
        Policy("exists-l1r", "v=spf1 exists:%{l1r-}.lp.xc.test -all", localPart: "foo-bar", extra: ["foo.lp A 127.0.0.2"]),
        Policy("exists-s", "v=spf1 exists:%{s}.sx.xc.test -all", localPart: "carol", extra: ["carol.exists-s.xc.test.sx A 127.0.0.2"]),
        Policy("exists-o", "v=spf1 exists:%{o}.ox.xc.test -all", extra: ["exists-o.xc.test.ox A 127.0.0.2"]),
        Policy("exists-d2", "v=spf1 exists:%{d2}.dom.xc.test -all", extra: ["xc.test.dom A 127.0.0.2"]),
        Policy("exists-dr", "v=spf1 exists:%{d1r}.dr.xc.test -all", extra: ["exists-dr.dr A 127.0.0.2"]),
        Policy("exists-h", "v=spf1 exists:%{h}.hx.xc.test ip4:192.0.2.2 -all", extra: ["helo.xc.test.hx A 127.0.0.2"]),
        Policy("exists-escapes", "v=spf1 exists:%{l}%%%-%_.esc.xc.test -all", localPart: "dave"),
        Policy("exists-void", "v=spf1 exists:nx1.xc.test exists:nx2.xc.test exists:nx3.xc.test +all"),
        // the DNS-term limit (§4.6.4): 10 is fine, the 11th is permerror
        Policy("limit-10", "v=spf1 \(includes10) -all"),
        Policy("limit-11", "v=spf1 \(includes11) -all"),
        Policy("limit-mixed", "v=spf1 a:h1.xc.test mx:mx6.xc.test include:ip4-host.xc.test exists:%{ir}.ex.xc.test ptr:xc.test a:h2.xc.test a:h46.xc.test mx:mx1.xc.test a:alias.xc.test a:h6.xc.test include:deny.xc.test -all"),
        // explanations (§6.2)
        Policy("exp", "v=spf1 ip4:192.0.2.1 exp=explain.xc.test -all", comparesExplanation: true),
        Policy("exp-missing", "v=spf1 ip4:192.0.2.1 exp=nothere.xc.test -all"),
        // record syntax and selection (§4.5, §4.6)
        Policy("two-records", records: [["v=spf1 -all"], ["v=spf1 +all"]]),
        Policy("split-strings", records: [["v=spf1 ip4:192.0.2.0/24", " ip6:2001:db8::/32", " -all"]]),
        Policy("other-txt", records: [["not SPF"], ["v=spf1 ip4:192.0.2.2 -all"]]),
        Policy("bad-cidr", "v=spf1 ip4:192.0.2.0/33 -all"),
        Policy("bad-mechanism", "v=spf1 foo:bar.xc.test -all"),
        Policy("bad-macro", "v=spf1 exists:%{z}.xc.test -all"),
        Policy("bad-domain", "v=spf1 a:xc.test.123 -all"),
        Policy("unknown-modifier", "v=spf1 foo=bar ip4:192.0.2.1 -all"),
        Policy("version-only-prefix", "v=spf10 ip4:192.0.2.1 -all"),
    ]

    /// Sender domains without a usable policy.
    static let bareDomains = ["notspf.xc.test", "onlya.xc.test", "nothere.xc.test", "servfail.xc.test"]

    /// The zone files (file name → text) and `behaviours.conf`.
    static func files() -> [String: String] {
        var zone = [
            "; Generated by Tests/DefensesTests/SPF/SPFCrossCheckCases.swift for the pyspf cross-check.",
            "$ORIGIN xc.test.",
            "$TTL 300",
            "@            3600 IN SOA ns.xc.test. hostmaster.xc.test. 1 3600 600 86400 60",
            "@            NS     ns.xc.test.",
            "ns           A      192.0.2.53",
        ]
        zone += hosts
        for policy in policies {
            for record in policy.records {
                zone.append("\(policy.name) TXT \(record.map { "\"\($0)\"" }.joined(separator: " "))")
            }
            zone += policy.extra
        }
        // Reverse names: 192.0.2.1 and 2001:db8::1 validate (h1, h6); 192.0.2.2 has a second
        // name without addresses; the other clients have none (NXDOMAIN).
        let reverse = [
            "; Generated by Tests/DefensesTests/SPF/SPFCrossCheckCases.swift for the pyspf cross-check.",
            "$ORIGIN arpa.",
            "$TTL 300",
            "@            3600 IN SOA ns.xc.test. hostmaster.xc.test. 1 3600 600 86400 60",
            "\(IPAddress("192.0.2.1")!.reversePointerName). PTR h1.xc.test.",
            "\(IPAddress("192.0.2.2")!.reversePointerName). PTR h2.xc.test.",
            "\(IPAddress("192.0.2.2")!.reversePointerName). PTR noaddr.xc.test.",
            "\(IPAddress("2001:db8::1")!.reversePointerName). PTR h6.xc.test.",
        ]
        return [
            "xc.zone": zone.joined(separator: "\n") + "\n",
            "xc-reverse.zone": reverse.joined(separator: "\n") + "\n",
            "behaviours.conf": "servfail.xc.test servfail\n",
        ]
    }

    /// Every policy against every client, the bare domains too, then the null sender with a few
    /// policies as HELO names and IPv4-mapped IPv6 clients.
    static func cases() -> [Case] {
        var cases: [Case] = []
        // The id names the case: "<policy> <client>", "helo <policy> <client>" for the null sender.
        func add(_ id: String, _ ip: String, _ sender: String, helo: String = helo, explanation: Bool = false) {
            cases.append(Case(id: id, ip: ip, sender: sender, helo: helo, comparesExplanation: explanation))
        }
        for policy in policies {
            for client in clients {
                add("\(policy.name) \(client)", client, "\(policy.localPart)@\(policy.domain)", explanation: policy.comparesExplanation)
            }
        }
        for domain in bareDomains {
            for client in clients.prefix(2) { add("\(domain) \(client)", client, "alice@\(domain)") }
        }
        for name in ["ip4-net", "ip6-host", "a-self", "mx-host", "exists-h", "include-temp"] {
            for client in ["192.0.2.2", "2001:db8::1"] { add("helo \(name) \(client)", client, "", helo: "\(name).\(origin)") }
        }
        for name in ["ip4-net", "ip4-host", "a-host", "exists-ir", "ptr-domain"] {
            add("\(name) ::ffff:192.0.2.1", "::ffff:192.0.2.1", "alice@\(name).\(origin)")
        }
        return cases
    }

    /// The 32 nibbles of an IPv6 address, reversed and dot-separated (`%{ir}` of RFC 7208 §7.3).
    static func nibbles(_ text: String) -> String {
        let name = IPAddress(text)!.reversePointerName
        return String(name.dropLast(".ip6.arpa".count))
    }
}
