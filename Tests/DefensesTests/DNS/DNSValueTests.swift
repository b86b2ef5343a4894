import Testing

@testable import Defenses

@Suite("IP addresses, names, server addresses, resolv.conf")
struct DNSValueTests {
    // MARK: - IP addresses

    @Test func ipv4ParsesOnlyDottedQuads() {
        #expect(IPv4Address("192.0.2.1")?.octets == [192, 0, 2, 1])
        #expect(IPv4Address("192.0.2.1")?.description == "192.0.2.1")
        for bad in ["", "192.0.2", "192.0.2.256", "1.2.3.4.5", "0x7f.0.0.1", " 1.2.3.4", "::1"] {
            #expect(IPv4Address(bad) == nil, "\(bad)")
        }
        #expect(IPv4Address("127.8.9.10")!.isLoopback)
        #expect(!IPv4Address("128.0.0.1")!.isLoopback)
    }

    @Test(arguments: [
        ("2001:db8::1", "2001:db8::1"),
        ("2001:0DB8:0:0:0:0:0:1", "2001:db8::1"),
        ("::", "::"),
        ("::1", "::1"),
        ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),  // RFC 5952 §4.2.3: the first of equal runs
        ("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"),  // RFC 5952 §4.2.2: one zero group stays
        ("fe80::", "fe80::"),
    ])
    func ipv6PrintsRFC5952(input: String, expected: String) throws {
        #expect(try #require(IPv6Address(input)).description == expected)
    }

    @Test func ipv6RefusesOtherText() {
        for bad in ["", "1.2.3.4", "2001:db8::1::2", "fe80::1%eth0", "12345::"] {
            #expect(IPv6Address(bad) == nil, "\(bad)")
        }
        #expect(IPv6Address("::1")!.isLoopback)
        #expect(IPv6Address("::ffff:127.0.0.1")!.isLoopback)
        #expect(!IPv6Address("2001:db8::1")!.isLoopback)
    }

    @Test func reversePointerNames() {
        #expect(IPAddress("192.0.2.10")?.reversePointerName == "10.2.0.192.in-addr.arpa")
        #expect(
            IPAddress("2001:db8::567:89ab")?.reversePointerName
                == "b.a.9.8.7.6.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa")  // RFC 3596 §2.5
    }

    // MARK: - Questions

    @Test func questionNamesAreNormalised() throws {
        #expect(try DNSQuestion(name: "Mail.Example.", type: .mx).name == "mail.example")
        #expect(try DNSQuestion(name: "bücher.example", type: .a).name == "xn--bcher-kva.example")
        #expect(try DNSQuestion(name: "BÜCHER.example", type: .a).name == "xn--bcher-kva.example")
        #expect(try DNSQuestion(name: "_dmarc.example", type: .txt).name == "_dmarc.example")
        #expect(try DNSQuestion(name: "1.2.0.192.zen.example", type: .a).name == "1.2.0.192.zen.example")
        #expect(try DNSQuestion(name: "\\065.example", type: .a).name == "a.example")
        #expect(try DNSQuestion(name: "x.example", type: .a) == DNSQuestion(name: "X.EXAMPLE.", type: .a))
    }

    @Test func badQuestionNamesAreRefused() {
        for bad in ["", "a..b", "a b.example", "tab\t.example", String(repeating: "x", count: 64) + ".example"] {
            #expect(throws: DNSError.self, "\(bad)") { try DNSQuestion(name: bad, type: .a) }
        }
        // IDNA refuses what cannot be a U-label.
        #expect(throws: DNSError.self) { try DNSQuestion(name: "a\u{00A0}b.example", type: .a) }
        #expect(DNSError.invalidName("x").isTemporary == false)
    }

    @Test func recordTypeNames() {
        #expect(DNSRecordType.mx.description == "MX")
        #expect(DNSRecordType.tlsa.rawValue == 52)
        #expect(DNSRecordType(rawValue: 99).description == "TYPE99")
    }

    @Test func errorClassification() {
        let negative = DNSNegativeAnswer(name: "x", type: .a, ttl: 5)
        #expect(DNSError.nxdomain(negative).isNotFound && !DNSError.nxdomain(negative).isTemporary)
        #expect(DNSError.noData(negative).isNotFound)
        #expect(DNSError.noData(negative).negativeAnswer == negative)
        for temporary: DNSError in [.serverFailure, .timeout, .responseCode(5), .network("x"), .cancelled] {
            #expect(temporary.isTemporary && !temporary.isNotFound)
        }
    }

    // MARK: - Server addresses and resolv.conf

    @Test func serverAddresses() {
        #expect(DNSServerAddress("192.0.2.53")?.description == "192.0.2.53:53")
        #expect(DNSServerAddress("127.0.0.1:5353")?.port == 5353)
        #expect(DNSServerAddress("2001:db8::53")?.description == "[2001:db8::53]:53")
        #expect(DNSServerAddress("[::1]:5353")?.description == "[::1]:5353")
        #expect(DNSServerAddress("[::1]")?.port == 53)
        for bad in ["", "dns.example", "127.0.0.1:0", "127.0.0.1:70000", "[::1]5353", "[::1", "1.2.3.4:x"] {
            #expect(DNSServerAddress(bad) == nil, "\(bad)")
        }
    }

    @Test func resolvConfServersAndOptions() {
        let configuration = DNSResolverConfiguration.parsingResolvConf(
            """
            # generated
            search example.net
            nameserver 192.0.2.53
            nameserver 2001:db8::53 ; trailing comment
            nameserver fe80::1%eth0
            nameserver not-an-address
            options ndots:2 timeout:3 attempts:4 trust-ad
            """)
        #expect(configuration.nameservers.map(\.description) == ["192.0.2.53:53", "[2001:db8::53]:53"])
        #expect(configuration.timeout == .seconds(3))
        #expect(configuration.attempts == 4)
        #expect(configuration.adTrust == .always)
    }

    @Test func resolvConfDefaults() {
        let empty = DNSResolverConfiguration.parsingResolvConf("")
        #expect(empty.nameservers.map(\.description) == ["127.0.0.1:53"])
        #expect(empty.timeout == .seconds(2) && empty.attempts == 2 && empty.adTrust == .loopbackOnly)
        #expect(empty.edns == .init(udpPayloadSize: 1232, dnssecOK: false))
        let clamped = DNSResolverConfiguration.parsingResolvConf("options timeout:99 attempts:0")
        #expect(clamped.timeout == .seconds(30) && clamped.attempts == 1)
        // The real file is readable or falls back; either way there is a server.
        #expect(!DNSResolverConfiguration.system().nameservers.isEmpty)
        #expect(DNSResolverConfiguration.system(path: "/nonexistent").nameservers.map(\.description) == ["127.0.0.1:53"])
    }

    @Test func adTrust() {
        let loopback = DNSServerAddress("127.0.0.53")!
        let remote = DNSServerAddress("192.0.2.53")!
        #expect(DNSResolverConfiguration.ADTrust.loopbackOnly.trusts(loopback))
        #expect(!DNSResolverConfiguration.ADTrust.loopbackOnly.trusts(remote))
        #expect(DNSResolverConfiguration.ADTrust.always.trusts(remote))
        #expect(!DNSResolverConfiguration.ADTrust.never.trusts(loopback))
        #expect(DNSResolverConfiguration.ADTrust.loopbackOnly.trusts(DNSServerAddress("[::1]:53")!))
    }
}
