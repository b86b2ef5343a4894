import Defenses
import Foundation
import SMTPCore
import Testing

@testable import Roles

/// `[outbound]`: defaults, every key read, errors as `file:line: key: problem`, one role per
/// process, and its place in ``NodeConfiguration/stages()``.
@Suite struct OutboundConfigurationTests {
    static let base = "[node]\nhostname = \"out.test\"\nspool = \"/tmp/x\"\n"

    @Test func defaults() throws {
        let configuration = try NodeConfiguration(toml: Self.base + "[outbound]\n", file: "f")
        let outbound = try #require(configuration.outbound)
        #expect(outbound.listen.map(\.description) == ["127.0.0.1:10027"])
        #expect(outbound.sessionProtocol == .smtp)
        #expect(outbound.acceptFrom.map(\.description) == ["127.0.0.0/8", "0:0:0:0:0:0:0:1/128"])
        #expect(outbound.trustedUpstreams.isEmpty)
        #expect(outbound.remotePort == 25)
        #expect(outbound.hostname == nil)
        #expect(outbound.tls == .opportunistic)
        #expect(outbound.addressOrder == .ipv4First)
        #expect(outbound.dkimKeys == nil)   // unsigned until keys are configured
        // No route needed: the mail exchangers are the next hops.
        #expect(configuration.hasNextHop)
        #expect(configuration.enabledRoles == ["outbound"])
    }

    @Test func everyKey() throws {
        let text = Self.base + """
            [outbound]
            listen = ["10.0.0.20:10027", "[::1]:10027"]
            protocol = "lmtp"
            accept_from = ["10.0.0.0/29"]
            trusted_upstreams = ["10.0.0.12"]
            port = 2525
            hostname = "mail-out.example.org"
            tls = "required"
            address_order = "ipv6-first"
            max_message_size = 1048576
            [outbound.dkim]
            keys = "/etc/mailnode/dkim"
            """
        let outbound = try #require(try NodeConfiguration(toml: text, file: "f").outbound)
        #expect(outbound.dkimKeys == "/etc/mailnode/dkim")
        #expect(outbound.listen.map(\.description) == ["10.0.0.20:10027", "[::1]:10027"])
        #expect(outbound.sessionProtocol == .lmtp)
        #expect(outbound.acceptFrom.map(\.description) == ["10.0.0.0/29"])
        #expect(outbound.trustedUpstreams.map(\.description) == ["10.0.0.12/32"])
        #expect(outbound.remotePort == 2525)
        #expect(outbound.hostname == "mail-out.example.org")
        #expect(outbound.tls == .required)
        #expect(outbound.addressOrder == .ipv6First)
        #expect(outbound.maxMessageSize == 1_048_576)
    }

    @Test(arguments: [
        ("accept_from = []", "f:5: outbound.accept_from: is empty: no stage could hand mail to this one"),
        ("tls = \"dane\"", "f:5: outbound.tls: must be opportunistic, required, verify or none, got 'dane'"),
        ("port = 0", "f:5: outbound.port: 0 is out of range 1...65535"),
        ("address_order = \"v6\"", "f:5: outbound.address_order: must be one of ipv4-first, ipv6-first, ipv4-only, ipv6-only, got 'v6'"),
        ("hostname = \"a b\"", "f:5: outbound.hostname: 'a b' is not a host name"),
        ("protocol = \"http\"", "f:5: outbound.protocol: must be smtp or lmtp, got 'http'"),
        ("smarthost = \"x:25\"", "f:5: outbound.smarthost: unknown key"),
    ])
    func errors(line: String, expected: String) throws {
        #expect {
            _ = try NodeConfiguration(toml: Self.base + "[outbound]\n" + line + "\n", file: "f")
        } throws: { error in
            "\(error)" == expected
        }
    }

    @Test func theDKIMTableNeedsItsKeys() {
        #expect {
            _ = try NodeConfiguration(toml: Self.base + "[outbound]\n[outbound.dkim]\n", file: "f")
        } throws: { error in
            "\(error)".contains("outbound.dkim.keys: is required")
        }
        #expect(throws: ConfigurationError.self) {
            _ = try NodeConfiguration(toml: Self.base + "[outbound]\n[outbound.dkim]\nkeys = \"/k\"\nselector = \"s\"\n", file: "f")
        }
    }

    @Test func subtablesAreUnknown() {
        #expect(throws: ConfigurationError.self) {
            _ = try NodeConfiguration(toml: Self.base + "[outbound]\n[outbound.tls]\nmode = \"x\"\n", file: "f")
        }
    }

    @Test func otherRolesDropTheTable() throws {
        let configuration = try NodeConfiguration(toml: Self.base + "[outbound]\n[antivirus]\n", file: "f")
        #expect(configuration.running(role: "antivirus").outbound == nil)
        #expect(configuration.running(role: "outbound").antivirus == nil)
        #expect(configuration.running(role: "outbound").outbound != nil)
        // Only the outbound role looks up mail exchangers: without routes, another role has no next hop.
        #expect(!configuration.running(role: "antivirus").hasNextHop)
    }

    /// The exit stage sends what has no route of its own to the outbound stage instead of the
    /// file's default; the outbound stage keeps the domain routes (its bounces to local senders
    /// reach the store) and has no default (everything else by MX).
    @Test func theOutboundStageIsTheExitForNonLocalMail() throws {
        let text = StagesTests.base + StagesTests.mx + """
            [submission]
            listen = "0.0.0.0:587"
            [antivirus]
            listen = "127.0.0.1:10025"
            [outbound]
            listen = "127.0.0.1:10027"
            [store]
            listen = "127.0.0.1:10024"
            [hops.smarthost]
            address = "192.0.2.7:25"
            [hops.partner]
            address = "192.0.2.8:25"
            [routes]
            "*" = "smarthost"
            "partner.example" = "partner"
            """
        let configuration = try NodeConfiguration(toml: text, file: "f")
        let stages = configuration.stages()
        #expect(stages.map(\.role) == ["mx", "submission", "antivirus", "outbound", "store"])
        #expect(stages.allSatisfy { $0.configuration.enabledRoles == [$0.role] })
        #expect(stages[3].configuration.spoolDirectory == "/srv/spool/stages/outbound")
        #expect(StagesTests.hops(stages[2].configuration.routing) == [
            "*=outbound(smtp://127.0.0.1:10027)", "example.net=store(lmtp://127.0.0.1:10024)",
            "example.org=store(lmtp://127.0.0.1:10024)", "partner.example=partner(smtp://192.0.2.8:25)",
        ])
        // Smarthost mode: the file's default route is the outbound stage's, not the MX look-up.
        #expect(StagesTests.hops(stages[3].configuration.routing) == [
            "*=smarthost(smtp://192.0.2.7:25)",
            "example.net=store(lmtp://127.0.0.1:10024)", "example.org=store(lmtp://127.0.0.1:10024)",
            "partner.example=partner(smtp://192.0.2.8:25)",
        ])
        #expect(stages[3].configuration.hasNextHop)
        // The outbound stage accepts and trusts the antivirus stage's hop address.
        #expect(stages[3].configuration.outbound?.trustedUpstreams.map(\.description) == ["127.0.0.1/32"])
        #expect(stages[3].configuration.outbound?.acceptFrom.contains { $0.description == "127.0.0.1/32" } == true)
    }

    /// One file for several machines: the mx's default route leads to the outbound stage; the
    /// outbound stage run from the same file must not route to itself (a loop ended only by the
    /// hop count), so it delivers by MX.
    @Test func theOutboundRoleNeverRoutesToItself() throws {
        let text = Self.base + """
            [outbound]
            listen = ["10.0.0.20:10027", "0.0.0.0:2600"]
            [hops.out]
            address = "10.0.0.20:10027"
            [hops.wild]
            address = "10.9.9.9:2600"
            [hops.partner]
            address = "192.0.2.8:25"
            [routes]
            "*" = "out"
            "other.example" = "wild"
            "partner.example" = "partner"
            """
        let configuration = try NodeConfiguration(toml: text, file: "f")
        let alone = configuration.running(role: "outbound")
        #expect(StagesTests.hops(alone.routing) == ["partner.example=partner(smtp://192.0.2.8:25)"])
        #expect(alone.hasNextHop)
        // Any other role keeps the route to the outbound stage.
        #expect(configuration.running(role: "mx").routing.defaultHop?.name == "out")
    }

    @Test func withoutAntivirusTheEntryStagesHandToOutbound() throws {
        let text = StagesTests.base + StagesTests.mx + "[outbound]\nlisten = \"127.0.0.1:0\"\n"
        let stages = try NodeConfiguration(toml: text, file: "f").stages()
        #expect(stages.map(\.role) == ["mx", "outbound"])
        #expect(StagesTests.hops(stages[0].configuration.routing) == ["*=outbound(smtp://127.0.0.1:0)"])
        #expect(StagesTests.hops(stages[1].configuration.routing).isEmpty)
    }

    @Test func theFilesMxIsThisHostForTheMXLoopCheck() throws {
        let text = Self.base + """
            [mx]
            listen = ["0.0.0.0:25", "[2001:db8::25]:25", "127.0.0.1:2525"]
            domains = ["example.org"]
            [outbound]
            hostname = "mail.out.test"
            """
        let configuration = try NodeConfiguration(toml: text, file: "f")
        let outbound = try #require(configuration.running(role: "outbound").outbound)
        #expect(outbound.ownListeners.map(\.description) == ["0.0.0.0:25", "[2001:db8::25]:25", "127.0.0.1:2525"])
        let interfaces = ["127.0.0.1", "198.51.100.4", "::1", "2001:db8::4"].compactMap(IPAddress.init)
        let own = MailNode.ownHost(outbound, node: configuration, interfaces: interfaces)
        // Port 25 listeners only: the IPv4 wildcard gives the interfaces' IPv4 addresses.
        #expect(own.addresses == ["127.0.0.1", "198.51.100.4", "2001:db8::25"])
        #expect(own.names == ["out.test", "mail.out.test"])
        // An outbound stage delivering to another port (tests) or without an mx in the file: no check.
        var other = outbound
        other.remotePort = 2626
        #expect(MailNode.ownHost(other, node: configuration, interfaces: interfaces) == .init())
        #expect(try NodeConfiguration(toml: Self.base + "[outbound]\n", file: "f").running(role: "outbound").outbound?.ownListeners == [])
    }

    @Test func tlsPolicyTableCAFileAndVerifiedHops() throws {
        let text = Self.base + """
            [tls]
            ca_file = "/etc/hostname"
            [hops.relay]
            address = "relay.example.net:587"
            tls = "verify"
            tls_name = "smtp.relay.example.net"
            [routes]
            "*" = "relay"
            [outbound]
            tls = "verify"
            [outbound.tls_policy]
            "bank.example" = "verify"
            ".partner.example" = "encrypt"
            "legacy.example" = "may"
            "lab.example" = "none"
            "signed.example" = "dane-only"
            "maybe.example" = "dane"
            """
        let configuration = try NodeConfiguration(toml: text, file: "f")
        let outbound = try #require(configuration.outbound)
        #expect(outbound.tls == .verify)
        #expect(outbound.tlsPolicy.entries == ["bank.example": .verify, ".partner.example": .encrypt,
                                               "legacy.example": .may, "lab.example": TLSPolicyTable.Level.none,
                                               "signed.example": .daneOnly, "maybe.example": .dane])
        #expect(configuration.tlsCAFilePath == "/etc/hostname")
        let relay = try #require(configuration.routing.defaultHop)
        #expect(relay.tls == .verify && relay.tlsServerName == "smtp.relay.example.net")
        #expect(try NodeConfiguration(toml: Self.base + "[outbound]\n", file: "f").outbound?.tlsPolicy.isEmpty == true)
        #expect(outbound.mtaSTS && !outbound.tlsNoDowngrade && outbound.maxConnectionsPerHost == 10)
        #expect(try NodeConfiguration(toml: Self.base + "[outbound]\nmax_connections_per_host = 4\n", file: "f").outbound?.maxConnectionsPerHost == 4)
        #expect(try NodeConfiguration(toml: Self.base + "[outbound]\ntls_no_downgrade = true\n", file: "f").outbound?.tlsNoDowngrade == true)
        #expect(try NodeConfiguration(toml: Self.base + "[outbound]\nmta_sts = false\n", file: "f").outbound?.mtaSTS == false)
        #expect(outbound.dane && outbound.tlsRequiredHeader)
        #expect(try NodeConfiguration(toml: Self.base + "[outbound]\ntls_required_header = false\n", file: "f").outbound?.tlsRequiredHeader == false)
        #expect(try NodeConfiguration(toml: Self.base + "[outbound]\ndane = false\n", file: "f").outbound?.dane == false)
    }

    @Test(arguments: [
        ("[outbound]\n[outbound.tls_policy]\n\"a.example\" = \"strict\"", "f:6: outbound.tls_policy.a.example: must be none, may, encrypt, verify, dane or dane-only, got 'strict'"),
        ("[outbound]\n[outbound.tls_policy]\n\"*\" = \"verify\"", "f:6: outbound.tls_policy.*: '*' is not a domain (use \".example.org\" for its subdomains)"),
        ("[outbound]\ntls = \"strict\"", "f:5: outbound.tls: must be opportunistic, required, verify or none, got 'strict'"),
        ("[tls]\nca_file = \"/nonexistent/ca.pem\"", "f:5: tls.ca_file: cannot read '/nonexistent/ca.pem'"),
    ])
    func tlsPolicyErrors(text: String, message: String) throws {
        #expect(throws: ConfigurationError.self) { _ = try NodeConfiguration(toml: Self.base + text + "\n", file: "f") }
        do {
            _ = try NodeConfiguration(toml: Self.base + text + "\n", file: "f")
        } catch {
            #expect("\(error)" == message)
        }
    }

    @Test func smarthostCredentialsComeFromAPrivateFile() throws {
        let directory = NSTemporaryDirectory() + "mailnode-auth-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let secret = directory + "/relay.auth"
        _ = FileManager.default.createFile(atPath: secret, contents: Data("user@example.net:pa:ss word\n".utf8), attributes: [.posixPermissions: 0o600])
        func file(_ tls: String, _ path: String) -> String {
            Self.base + "[hops.relay]\naddress = \"relay.example.net:587\"\ntls = \"\(tls)\"\nauth_file = \"\(path)\"\n[routes]\n\"*\" = \"relay\"\n[outbound]\n"
        }
        let configuration = try NodeConfiguration(toml: file("verify", secret), file: "f")
        let credentials = try #require(configuration.hopCredentials["relay"])
        #expect(credentials.username == "user@example.net" && credentials.password == "pa:ss word")
        #expect(!"\(configuration.hopCredentials)".contains("pa:ss"))   // redacted wherever it is printed
        // The outbound stage of a chained file keeps them (smarthost mode).
        #expect(configuration.running(role: "outbound").hopCredentials["relay"] == credentials)

        func message(_ text: String) -> String {
            do { _ = try NodeConfiguration(toml: text, file: "f"); return "accepted" } catch { return "\(error)" }
        }
        #expect(message(file("none", secret)) == "f:7: hops.relay.auth_file: AUTH needs TLS: set hops.relay.tls to required or verify")
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: secret)
        #expect(message(file("required", secret)) == "f:7: hops.relay.auth_file: '\(secret)' is readable by others (mode 644): chmod 600 it")
        _ = FileManager.default.createFile(atPath: secret, contents: Data("no colon here\n".utf8), attributes: [.posixPermissions: 0o400])
        try FileManager.default.setAttributes([.posixPermissions: 0o400], ofItemAtPath: secret)
        #expect(message(file("required", secret)) == "f:7: hops.relay.auth_file: '\(secret)' must hold one line username:password")
        #expect(message(file("required", directory + "/missing")) == "f:7: hops.relay.auth_file: cannot read '\(directory)/missing'")
    }

    @Test func requireTLSIsOfferedOnlyWhenEveryHopUsesTLS() throws {
        let hop = { (tls: NextHop.HopTLS) in NextHop(name: "next", host: "10.0.0.2", port: 25, tls: tls) }
        #expect(MailNode.carriesRequireTLS(RoutingTable()))                                  // a last stage (store)
        #expect(MailNode.carriesRequireTLS(RoutingTable(defaultHop: hop(.verify))))
        #expect(MailNode.carriesRequireTLS(RoutingTable(routes: ["a.example": hop(.required)], defaultHop: hop(.verify))))
        #expect(!MailNode.carriesRequireTLS(RoutingTable(routes: ["a.example": hop(.none)], defaultHop: hop(.verify))))
        #expect(!MailNode.carriesRequireTLS(RoutingTable(defaultHop: hop(.opportunistic))))
        // A plaintext hop on this host carries it (nothing on the network to see it).
        let local = { (host: String) in NextHop(name: "next", host: host, port: 10025, tls: .none) }
        #expect(MailNode.carriesRequireTLS(RoutingTable(defaultHop: local("127.0.0.1"))))
        #expect(MailNode.carriesRequireTLS(RoutingTable(defaultHop: local("::1"))))
        #expect(MailNode.carriesRequireTLS(RoutingTable(defaultHop: local("localhost"))))
        #expect(!MailNode.carriesRequireTLS(RoutingTable(defaultHop: local("128.0.0.1"))))
        // mailnode up / --role all: the chained stages hand over in plaintext on loopback, and do carry it.
        let chained = try NodeConfiguration(toml: Self.base + "[mx]\ndomains = [\"example.org\"]\n[outbound]\n", file: "f").stages()
        #expect(!chained.isEmpty && chained.allSatisfy { MailNode.carriesRequireTLS($0.configuration.routing) })
    }
}
