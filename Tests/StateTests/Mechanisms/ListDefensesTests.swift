import Defenses
import MailnodeTesting
import Foundation
import NIOCore
import SMTPCore
import Testing

/// DM18 local block lists, DM27 spam traps, DM21 allow lists: parsing, matching and transcripts.
@Suite("DM18/DM21/DM27 list defenses")
struct ListDefensesTests {
    static let relay = RelayControl(.init(localDomains: ["local.example"]))

    static func session(_ ip: String) throws -> SessionContext {
        SessionContext(sessionID: "t-\(ip)", remoteAddress: try SocketAddress(ipAddress: ip, port: 40000))
    }

    static func mailbox(_ text: String) -> Mailbox {
        let parts = text.split(separator: "@")
        return Mailbox(localPart: String(parts[0]), host: .domain(String(parts[1])))
    }

    @Test("address patterns: exact address, domain, subdomains, any")
    func patterns() throws {
        let address = try #require(AddressPattern("Spammer@Example.COM"))
        #expect(address.matches(Self.mailbox("spammer@example.com")))
        #expect(!address.matches(Self.mailbox("other@example.com")))
        let domain = try #require(AddressPattern("example.com"))
        #expect(domain.matches(Self.mailbox("x@example.com")) && domain.matches(Self.mailbox("x@EXAMPLE.com")))
        #expect(!domain.matches(Self.mailbox("x@sub.example.com")))
        #expect(AddressPattern("@example.com") == domain)
        let subdomains = try #require(AddressPattern("*.example.com"))
        #expect(subdomains.matches(Self.mailbox("x@a.b.example.com")))
        #expect(!subdomains.matches(Self.mailbox("x@example.com")) && !subdomains.matches(Self.mailbox("x@badexample.com")))
        #expect(AddressPattern(".example.com") == subdomains)
        #expect(try #require(AddressPattern("*")).matches(ReversePath.null))
        #expect(!domain.matches(ReversePath.null))
        #expect(AddressPattern("") == nil && AddressPattern("a b") == nil && AddressPattern("user@") == nil)
    }

    @Test("list file: kinds, comments, bad lines reported by number and skipped")
    func parse() {
        let (entries, problems) = AccessListEntries.parse("""
            # local block list
            192.0.2.0/24
            client 2001:db8::/32   # a network
            sender spammer@bulk.example
            sender *.bulk.example
            helo localhost.localdomain
            sender
            client not-an-address
            colour blue

            """)
        #expect(entries.networks == [IPNetwork("192.0.2.0/24"), IPNetwork("2001:db8::/32")].compactMap { $0 })
        #expect(entries.senders.map(\.description) == ["spammer@bulk.example", "*.bulk.example"])
        #expect(entries.heloNames.map(\.description) == ["localhost.localdomain"])
        #expect(problems.map(\.line) == [7, 8, 9])
    }

    @Test("transcript: listed client refused at the greeting, listed HELO and sender refused")
    func staticEntries() async throws {
        let (entries, _) = AccessListEntries.parse("sender *.bulk.example\nhelo bad.example\n")
        let other = try LocalBlocklist(.init(entries: entries))
        try await LiveServer.with(hooks: HookChain([other, Self.relay])) { server async throws in
            let client = try await RawClient.connect(port: server.port)
            #expect(try await client.reply()?.code.rawValue == 220)
            let helo = try await client.exchange("EHLO bad.example")
            #expect(helo?.code.rawValue == 550 && helo?.enhancedCode == EnhancedStatusCode(5, 7, 1))
            #expect(try await client.command("EHLO good.example") == 250)
            let mail = try await client.exchange("MAIL FROM:<x@mx1.bulk.example>")
            #expect(mail?.code.rawValue == 550 && mail?.enhancedCode == EnhancedStatusCode(5, 7, 1))
            #expect(try await client.command("MAIL FROM:<x@bulk.example>") == 250)   // the domain itself is not listed
            await client.close()
        }
        let blockLoopback = try LocalBlocklist(.init(entries: AccessListEntries(networks: [try #require(IPNetwork("127.0.0.0/8"))])))
        try await LiveServer.with(hooks: blockLoopback) { server async throws in
            let client = try await RawClient.connect(port: server.port)
            let greeting = try await client.reply()
            #expect(greeting?.code.rawValue == 554 && greeting?.enhancedCode == EnhancedStatusCode(5, 7, 1))
            try await client.waitForClose()
        }
        // A trusted network is never blocked.
        let trusted = try LocalBlocklist(.init(entries: AccessListEntries(networks: [try #require(IPNetwork("127.0.0.0/8"))]),
                                               trustedNetworks: [try #require(IPNetwork("127.0.0.1/32"))]))
        #expect(await trusted.connected(try Self.session("127.0.0.1")) == .continue)
        #expect(await trusted.connected(try Self.session("127.0.0.2")) == .disconnect(LocalBlocklist.clientRefusal))
    }

    @Test("the list file is read again when it changes, and kept when it disappears")
    func reload() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mailnode-lists-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("block.txt").path
        try "192.0.2.1\n".write(toFile: path, atomically: true, encoding: .utf8)
        let block = try LocalBlocklist(.init(file: path, reloadInterval: .milliseconds(1)))
        #expect(await block.connected(try Self.session("192.0.2.1")) == .disconnect(LocalBlocklist.clientRefusal))
        #expect(await block.connected(try Self.session("192.0.2.2")) == .continue)
        // Replaced (a new inode, as `mv` does): the next look-up after the interval sees it.
        try "192.0.2.2\n".write(toFile: path, atomically: true, encoding: .utf8)
        try await Task.sleep(for: .milliseconds(20))
        #expect(await block.connected(try Self.session("192.0.2.2")) == .disconnect(LocalBlocklist.clientRefusal))
        #expect(await block.connected(try Self.session("192.0.2.1")) == .continue)
        try FileManager.default.removeItem(atPath: path)
        try await Task.sleep(for: .milliseconds(20))
        #expect(await block.connected(try Self.session("192.0.2.2")) == .disconnect(LocalBlocklist.clientRefusal))
        // A file that cannot be read at start is an error, not an empty list.
        #expect(throws: (any Error).self) { try LocalBlocklist(.init(file: directory.appendingPathComponent("missing").path)) }
    }

    @Test("transcript: a spam-trap hit refuses the session's message and blocks the client's next connection",
          arguments: StoreBackend.allCases)
    func trapBlocksNextConnection(backend: StoreBackend) async throws {
        try await backend.withStore { store async throws in
            let traps = SpamTrap(.init(addresses: [try #require(AddressPattern("trap@local.example"))], blockFor: .seconds(600)),
                                 store: store)
            let block = try LocalBlocklist(.init(), store: store)
            try await LiveServer.with(hooks: HookChain([block, Self.relay, traps])) { server async throws in
                let first = try await RawClient.connect(port: server.port)
                #expect(try await first.reply()?.code.rawValue == 220)
                #expect(try await first.command("EHLO spam.example") == 250)
                #expect(try await first.command("MAIL FROM:<x@spam.example>") == 250)
                #expect(try await first.command("RCPT TO:<user@local.example>") == 250)
                let trap = try await first.exchange("RCPT TO:<TRAP@local.example>")
                #expect(trap?.code.rawValue == 550 && trap?.enhancedCode == EnhancedStatusCode(5, 1, 1))
                #expect(try await first.command("RCPT TO:<other@local.example>") == 554)
                #expect(try await first.command("DATA") == 554)   // the real recipient does not get it either
                #expect(try await first.command("QUIT") == 221)
                await first.close()
                #expect(server.receiver.messages.isEmpty)
                #expect(try await store.record(LocalBlocklist.dynamicKey(client: "127.0.0.1/32"), at: Date())?.value == "trap:TRAP@local.example")

                let second = try await RawClient.connect(port: server.port)
                let greeting = try await second.reply()
                #expect(greeting?.code.rawValue == 554)
                try await second.waitForClose()
            }
        }
    }

    @Test("the dynamic block expires with its record")
    func dynamicBlockExpires() async throws {
        let store = MemoryStateStore()
        let clock = TestClock()
        let traps = SpamTrap(.init(addresses: [try #require(AddressPattern("trap@local.example"))], blockFor: .seconds(600)),
                             store: store, now: clock.function)
        let block = try LocalBlocklist(.init(), store: store, now: clock.function)
        let client = try Self.session("198.51.100.7")
        let trap = EnvelopeRecipient(path: .mailbox(Self.mailbox("trap@local.example")))
        #expect(await traps.rcptTo(trap, envelope: Envelope(reversePath: .null), session: client) == .reply(SpamTrap.trapReply))
        #expect(await block.connected(try Self.session("198.51.100.7")) == .disconnect(LocalBlocklist.clientRefusal))
        #expect(await block.connected(try Self.session("198.51.100.8")) == .continue)
        clock.advance(601)
        #expect(await block.connected(try Self.session("198.51.100.7")) == .continue)
        // Authenticated and trusted sessions never trip a trap.
        var user = try Self.session("198.51.100.9")
        user.authenticatedUser = "alice"
        #expect(await traps.rcptTo(trap, envelope: Envelope(reversePath: .null), session: user) == .continue)
    }

    @Test("allow list: client, sender and per-recipient entries skip the wrapped checks, nothing else")
    func allowList() async throws {
        let greylist = Greylisting(.init(autoAllowlistAfter: 0), store: MemoryStateStore())
        let allow = try AllowList(.init(
            entries: AccessListEntries(networks: [try #require(IPNetwork("192.0.2.0/24"))], senders: [try #require(AddressPattern("partner.example"))]),
            perRecipient: ["Alice@local.example": [try #require(AddressPattern("*.family.example"))]]))
        let gate = AllowListGate(allow, wrapping: greylist)
        let chain = HookChain([Self.relay, gate])
        func rcpt(_ from: String?, _ to: String, ip: String) async throws -> HookDecision {
            let path: ReversePath = from.map { .mailbox(Self.mailbox($0)) } ?? .null
            return await chain.rcptTo(EnvelopeRecipient(path: .mailbox(Self.mailbox(to))), envelope: Envelope(reversePath: path),
                                      session: try Self.session(ip))
        }
        #expect(try await rcpt("x@anywhere.example", "bob@local.example", ip: "192.0.2.9") == .continue)           // client
        #expect(try await rcpt("x@partner.example", "bob@local.example", ip: "203.0.113.1") == .continue)         // sender
        #expect(try await rcpt("x@home.family.example", "alice@local.example", ip: "203.0.113.1") == .continue)  // alice's own entry
        #expect(try await rcpt("x@home.family.example", "bob@local.example", ip: "203.0.113.1") == .reply(Greylisting.deferral))
        #expect(try await rcpt("x@stranger.example", "alice@local.example", ip: "203.0.113.1") == .reply(Greylisting.deferral))
        // Relay control is outside the gate: an allow-listed client still cannot relay.
        #expect(try await rcpt("x@partner.example", "someone@elsewhere.example", ip: "192.0.2.9") != .continue)
        // The message skips only when every recipient trusts the sender.
        let from: ReversePath = .mailbox(Self.mailbox("x@home.family.example"))
        let onlyAlice = Envelope(reversePath: from, recipients: [EnvelopeRecipient(path: .mailbox(Self.mailbox("alice@local.example")))])
        #expect(allow.allows(message: onlyAlice, session: try Self.session("203.0.113.1")) != nil)
        var both = onlyAlice
        both.recipients.append(EnvelopeRecipient(path: .mailbox(Self.mailbox("bob@local.example"))))
        #expect(allow.allows(message: both, session: try Self.session("203.0.113.1")) == nil)
    }
}

/// DM23 regular expressions on the envelope.
@Suite("DM23 envelope rules")
struct EnvelopeRulesTests {
    @Test func patternsRefuseHeloSenderRecipient() async throws {
        let rules = EnvelopeRules(.init(helo: [try #require(EnvelopeRules.Rule(#"^\[?[0-9.]+\]?$"#))],
                                        sender: [try #require(EnvelopeRules.Rule(#"@[^@]*\.(top|xyz)$"#)), try #require(EnvelopeRules.Rule("^$"))],
                                        recipient: [try #require(EnvelopeRules.Rule("^noreply-"))]))
        #expect(EnvelopeRules.Rule("([unclosed") == nil)
        var smtp = PolicyHarness(hooks: HookChain([RelayControl(.init(localDomains: ["d.example"])), rules]))
        #expect(await smtp.start()?.code.rawValue == 220)
        #expect(await smtp.command("HELO [192.0.2.1]")?.code.rawValue == 550)
        #expect(await smtp.command("HELO mail.example.org")?.code.rawValue == 250)
        #expect(await smtp.command("MAIL FROM:<win@prize.XYZ>")?.code.rawValue == 550)   // case-insensitive
        #expect(await smtp.command("MAIL FROM:<>")?.code.rawValue == 550)                // the empty sender pattern
        #expect(await smtp.command("MAIL FROM:<a@example.org>")?.code.rawValue == 250)
        #expect(await smtp.command("RCPT TO:<noreply-x@d.example>")?.code.rawValue == 550)
        #expect(await smtp.command("RCPT TO:<Postmaster>")?.code.rawValue == 250)
        #expect(await smtp.command("RCPT TO:<bob@d.example>")?.code.rawValue == 250)
        #expect(smtp.transcript.contains("S: 550 5.7.1 Rejected by local policy"))
    }
}
