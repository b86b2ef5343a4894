import Defenses
import Foundation
import SMTPCore
import Testing

@testable import Roles

/// ``NodeConfiguration/stages()``: several roles in one process, each with its own spool, chained
/// over their listeners; the mx checks recipients against the store's users.
@Suite struct StagesTests {
    static let base = "[node]\nhostname = \"node.test\"\nspool = \"/srv/spool\"\n[tls]\ncertificate = \"/c.pem\"\nkey = \"/k.pem\"\n"
    static let mx = "[mx]\nlisten = \"0.0.0.0:25\"\ndomains = [\"example.org\", \"Example.NET\"]\n"

    static func hops(_ routing: RoutingTable) -> [String] {
        (routing.routes.map { "\($0.key)=\($0.value)" } + (routing.defaultHop.map { ["*=\($0)"] } ?? [])).sorted()
    }

    @Test func oneRoleIsTheConfigurationUnchanged() throws {
        let configuration = try NodeConfiguration(toml: Self.base + Self.mx + "[hops.up]\naddress = \"10.0.0.2:25\"\n[routes]\n\"*\" = \"up\"\n",
                                                  file: "f")
        let stages = configuration.stages()
        #expect(stages.map(\.role) == ["mx"])
        #expect(stages[0].configuration.spoolDirectory == "/srv/spool")
        #expect(Self.hops(stages[0].configuration.routing) == ["*=up(smtp://10.0.0.2:25)"])
        #expect(stages[0].configuration.mx?.recipientDirectory == nil)   // no store here: nothing to check against
    }

    @Test func wholeChain() throws {
        let text = Self.base + Self.mx + """
            [submission]
            listen = "0.0.0.0:587"
            [antivirus]
            listen = "127.0.0.1:10025"
            [store]
            listen = "127.0.0.1:10024"
            [metrics]
            listen = "127.0.0.1:9125"
            [hops.smarthost]
            address = "192.0.2.7:25"
            [routes]
            "*" = "smarthost"
            """
        let configuration = try NodeConfiguration(toml: text, file: "f")
        #expect(configuration.enabledRoles == ["mx", "submission", "antivirus", "store"])
        let stages = configuration.stages()
        #expect(stages.map(\.role) == ["mx", "submission", "antivirus", "store"])
        // Own spools, one table each.
        #expect(stages.map(\.configuration.spoolDirectory) == ["mx", "submission", "antivirus", "store"].map { "/srv/spool/stages/" + $0 })
        #expect(stages.allSatisfy { $0.configuration.enabledRoles == [$0.role] })
        // The entry stages hand everything to antivirus, antivirus local domains to the store, the rest to [routes].
        #expect(Self.hops(stages[0].configuration.routing) == ["*=antivirus(smtp://127.0.0.1:10025)"])
        #expect(Self.hops(stages[1].configuration.routing) == ["*=antivirus(smtp://127.0.0.1:10025)"])
        #expect(Self.hops(stages[2].configuration.routing) == [
            "*=smarthost(smtp://192.0.2.7:25)", "example.net=store(lmtp://127.0.0.1:10024)", "example.org=store(lmtp://127.0.0.1:10024)",
        ])
        #expect(stages[0].configuration.routing.defaultHop?.tls == NextHop.HopTLS.none)
        #expect(!stages[3].configuration.hasNextHop)
        // Receiving stages trust their upstream's hop address (dedup of retried hand-offs).
        #expect(stages[2].configuration.antivirus?.trustedUpstreams.map(\.description) == ["127.0.0.1/32"])
        #expect(stages[3].configuration.store?.trustedUpstreams.map(\.description) == ["127.0.0.1/32"])
        // DM19 at the mx against the store's users, for the mx's domains.
        let directory = try #require(stages[0].configuration.mx?.recipientDirectory)
        #expect(directory.usersPath == "/srv/spool/defenses/users.sqlite" && directory.domains == ["example.org", "example.net"])
        // One metrics listener for the shared counters; the state store file is the node's.
        #expect(stages.map { $0.configuration.metricsListen != nil } == [true, false, false, false])
        #expect(Set(stages.map { "\($0.configuration.state.backend)" }).count == 1)
    }

    @Test func withoutAntivirusTheEntryStagesRouteLikeTheLastOne() throws {
        let text = Self.base + Self.mx + "[submission]\n[store]\nlisten = \"0.0.0.0:0\"\n[routes]\n\"example.org\" = \"archive\"\n"
            + "[hops.archive]\naddress = \"10.9.9.9:24\"\nprotocol = \"lmtp\"\n"
        let stages = try NodeConfiguration(toml: text, file: "f").stages()
        #expect(stages.map(\.role) == ["mx", "submission", "store"])
        // A route the file gives for a local domain wins; a wildcard store listener is reached on loopback.
        let expected = ["example.net=store(lmtp://127.0.0.1:0)", "example.org=archive(lmtp://10.9.9.9:24)"]
        #expect(Self.hops(stages[0].configuration.routing) == expected)
        #expect(Self.hops(stages[1].configuration.routing) == expected)
        // Port 0 is resolved once the store listens.
        let resolved = NodeChain.resolving(stages[0].configuration.routing, ports: ["store": 40_001])
        #expect(Self.hops(resolved) == ["example.net=store(lmtp://127.0.0.1:40001)", "example.org=archive(lmtp://10.9.9.9:24)"])
    }

    @Test func recipientChecksTheOperatorTurnedOffStayOff() throws {
        let off = try NodeConfiguration(toml: Self.base + Self.mx + "[mx.recipients]\nenabled = false\n[store]\n", file: "f").stages()
        #expect(off[0].configuration.mx?.recipientDirectory == nil)
        // Configured addresses are kept; the store's users are added to them.
        let both = try NodeConfiguration(toml: Self.base + Self.mx + "[mx.recipients]\naddresses = [\"@example.net\"]\ndomains = [\"example.net\"]\n[store]\n",
                                         file: "f").stages()
        let directory = try #require(both[0].configuration.mx?.recipientDirectory)
        #expect(directory.domains == ["example.net"] && directory.addresses.count == 1)
        #expect(directory.usersPath == "/srv/spool/defenses/users.sqlite")
        // mx.recipients.users alone is a complete directory.
        let users = try NodeConfiguration(toml: Self.base + Self.mx + "[mx.recipients]\nusers = \"/u.sqlite\"\n", file: "f")
        #expect(users.mx?.recipientDirectory?.usersPath == "/u.sqlite")
    }

    @Test func recipientDirectoriesAnswerTogether() async throws {
        struct Fixed: RecipientDirectory {
            let answer: RecipientLookup
            func lookup(_ mailbox: Mailbox) async -> RecipientLookup { answer }
        }
        let mailbox = Mailbox(localPart: "a", host: .domain("example.org"))
        #expect(await RecipientDirectories([Fixed(answer: .unknown), Fixed(answer: .exists)]).lookup(mailbox) == .exists)
        #expect(await RecipientDirectories([Fixed(answer: .unavailable("down")), Fixed(answer: .exists)]).lookup(mailbox) == .exists)
        #expect(await RecipientDirectories([Fixed(answer: .unavailable("down")), Fixed(answer: .unknown)]).lookup(mailbox) == .unavailable("down"))
        #expect(await RecipientDirectories([Fixed(answer: .unknown), Fixed(answer: .unknown)]).lookup(mailbox) == .unknown)
    }
}
