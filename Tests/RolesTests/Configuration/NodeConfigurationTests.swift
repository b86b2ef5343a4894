import Roles
import SMTPCore
import Testing

@Suite struct NodeConfigurationTests {
    static let full = """
    # a complete mx node
    [node]
    hostname = "mx.example.org"
    spool = "/var/spool/mailnode"

    [tls]
    certificate = "/etc/mailnode/tls/fullchain.pem"
    key = '/etc/mailnode/tls/privkey.pem'

    [mx]
    listen = ["0.0.0.0:25", "[::]:25"]
    domains = [
        "example.org",   # primary
        "example.net",
    ]
    max_message_size = 26_214_400
    max_recipients = 500
    bare_line_endings = "reject"
    proxy_protocol_trusted = ["10.0.0.0/8"]
    trusted_upstreams = ["10.0.1.0/24", "2001:db8::5"]

    [hops.antivirus]
    address = "10.0.0.12:2525"
    tls = "required"

    [hops.store]
    address = "127.0.0.1:24"
    protocol = "lmtp"
    tls = "none"

    [routes]
    "example.org" = "store"
    "*" = "antivirus"

    [retry]
    initial_delay = 60
    max_lifetime = 86400
    delay_warning = 0

    [dedup]
    retention = 864000
    max_entries = 50_000
    """

    @Test func completeFile() throws {
        let configuration = try NodeConfiguration(toml: Self.full, file: "mailnode.toml")
        #expect(configuration.hostname == "mx.example.org")
        #expect(configuration.tlsKeyPath == "/etc/mailnode/tls/privkey.pem")
        let mx = try #require(configuration.mx)
        #expect(mx.listen == [ListenAddress(host: "0.0.0.0", port: 25), ListenAddress(host: "::", port: 25)])
        #expect(mx.localDomains == ["example.org", "example.net"])
        #expect(mx.limits.maxMessageSize == 26_214_400)
        #expect(mx.limits.maxRecipients == 500)
        #expect(mx.proxyProtocolTrusted == [IPNetwork("10.0.0.0/8")!])
        let store = try #require(configuration.routing.routes["example.org"])
        #expect(store.sessionProtocol == .lmtp)
        #expect(store.port == 24)
        #expect(configuration.routing.defaultHop?.name == "antivirus")
        #expect(configuration.routing.defaultHop?.tls == .required)
        #expect(configuration.retry.initialDelay == 60)
        #expect(configuration.retry.maxLifetime == 86400)
        #expect(configuration.retry.maxDelay == RetryPolicy().maxDelay)
        #expect(configuration.retry.delayWarning == 0)   // off
        #expect(RetryPolicy().delayWarning == 4 * 3600)
        #expect(mx.trustedUpstreams == [IPNetwork("10.0.1.0/24")!, IPNetwork("2001:db8::5")!])
        #expect(configuration.dedup == DeliveredSetConfiguration(retention: .seconds(864_000), maxEntries: 50_000))
    }

    /// DM12/DM13 (node) and DM33 (mx) keys.
    @Test func connectionCapsAndDataRates() throws {
        let configuration = try NodeConfiguration(toml: """
        [node]
        hostname = "h"
        max_connections = 250
        max_connections_per_loop = 100

        [mx]
        domains = ["d.test"]
        min_data_rate = 2048
        data_rate_grace = 10
        max_data_rate = 1_048_576
        """, file: "f")
        #expect(configuration.connectionCaps == ConnectionCaps(maxConnections: 250, maxConnectionsPerEventLoop: 100))
        let limits = try #require(configuration.mx?.limits)
        #expect(limits.minDataRate == 2048)
        #expect(limits.dataRateGrace == 10)
        #expect(limits.maxDataRate == 1_048_576)
    }

    @Test func zeroSwitchesTheDataRateFloorAndCapOff() throws {
        let configuration = try NodeConfiguration(toml: "[node]\nhostname = \"h\"\n[mx]\ndomains = [\"d\"]\nmin_data_rate = 0\nmax_data_rate = 0\n",
                                                  file: "f")
        #expect(configuration.mx?.limits.minDataRate == 0)
        #expect(configuration.mx?.limits.maxDataRate == 0)
    }

    @Test func defaults() throws {
        let configuration = try NodeConfiguration(toml: "[node]\nhostname = \"h\"\n[mx]\ndomains = [\"d.test\"]\n", file: "f")
        #expect(configuration.spoolDirectory == "/var/spool/mailnode")
        #expect(configuration.mx?.listen == [ListenAddress(host: "127.0.0.1", port: 2525)])
        #expect(configuration.mx?.limits == SMTPLimits())
        #expect(configuration.mx?.limits.minDataRate == 500)
        #expect(configuration.mx?.limits.dataRateGrace == 30)
        #expect(configuration.mx?.limits.maxDataRate == 0)
        #expect(configuration.connectionCaps == ConnectionCaps(maxConnections: 1000, maxConnectionsPerEventLoop: 0))
        #expect(configuration.mx?.bareLineEndings == .reject)
        #expect(!configuration.hasNextHop)
        #expect(configuration.mx?.trustedUpstreams == [])   // an mx trusts no client's Mailnode-Id
        #expect(configuration.dedup.retention == .seconds(7 * 86_400))
        #expect(configuration.dedup.maxEntries == 1_000_000)
    }

    /// Every bad file yields one error naming the line and the key.
    @Test(arguments: [
        ("[node]\nhostname = \"h\"\nspool = 5\n", "f:3: node.spool: expected a string, got an integer"),
        ("[node]\nhostname = \"h\"\n[mx]\ndomains = [\"d\"]\nlisten = [\"nowhere\"]\n", "f:5: mx.listen: 'nowhere' is not host:port"),
        ("[node]\nhostname = \"h\"\n[mx]\ndomains = [\"d\"]\nmax_recipients = 0\n", "f:5: mx.max_recipients: 0 is out of range 1...100000"),
        ("[node]\nhostname = \"h\"\n[mx]\ndomains = [\"d\"]\nbare_line_endings = \"maybe\"\n", "f:5: mx.bare_line_endings: must be reject, accept or normalize, got 'maybe'"),
        ("[node]\nhostname = \"h\"\nhost_name = \"typo\"\n", "f:3: node.host_name: unknown key"),
        ("[node]\nhostname = \"h\"\n[nodes]\n", "f:3: nodes: unknown table"),
        ("[node]\nspool = \"/x\"\n", "f:1: node.hostname: is required"),
        ("[node]\nhostname = \"h\"\n[mx]\nlisten = [\"1.2.3.4:25\"]\n", "f:3: mx.domains: is required (the domains this node accepts mail for)"),
        ("[node]\nhostname = \"h\"\n[routes]\n\"*\" = \"nowhere\"\n", "f:4: routes.*: no hop named 'nowhere' (define [hops.nowhere])"),
        ("[node]\nhostname = \"h\"\n[hops.x]\nprotocol = \"smtp\"\n", "f:3: hops.x.address: is required"),
        ("[node]\nhostname = \"h\"\n[hops.x]\naddress = \"a:1\"\nprotocol = \"uucp\"\n", "f:5: hops.x.protocol: must be smtp or lmtp, got 'uucp'"),
        ("[node]\nhostname = \"h\"\n[tls]\ncertificate = \"/c\"\n", "f:3: tls.key: is required with tls.certificate"),
        ("[node]\nhostname = \"h\"\nhostname = \"again\"\n", "f:3: key 'node.hostname' defined twice"),
        ("[node]\nhostname = \"h\n", "f:2: unterminated string"),
        ("[node]\nhostname = \"h\"\nx.y = 1\n", "f:3: dotted keys are not supported; use a [table]"),
        ("[node]\nhostname = \"h\"\nratio = 1.5\n", "f:3: invalid number '1.5' (only integers are supported)"),
        ("[node]\nhostname = { a = 1 }\n", "f:2: inline tables are not supported; use a [table]"),
        ("[mx]\ndomains = [\"a\",\n\"b\"\n", "f:2: unterminated array"),
        ("[node]\nhostname = \"h\"\n[mx]\ndomains = [\"d\"]\ntrusted_upstreams = [\"10.0.0.300/8\"]\n",
         "f:5: mx.trusted_upstreams: '10.0.0.300/8' is not an address or CIDR network"),
        ("[node]\nhostname = \"h\"\n[dedup]\nretention = 60\n", "f:4: dedup.retention: 60 is out of range 3600...7776000"),
        ("[node]\nhostname = \"h\"\nmax_connections = 0\n", "f:3: node.max_connections: 0 is out of range 1...1000000"),
        ("[node]\nhostname = \"h\"\nmax_connections_per_loop = -1\n", "f:3: node.max_connections_per_loop: -1 is out of range 0...1000000"),
        ("[node]\nhostname = \"h\"\n[mx]\ndomains = [\"d\"]\nmin_data_rate = -5\n", "f:5: mx.min_data_rate: -5 is out of range 0...100000000"),
        ("[node]\nhostname = \"h\"\n[mx]\ndomains = [\"d\"]\ndata_rate_grace = 0\n", "f:5: mx.data_rate_grace: 0 is out of range 1...3600"),
        ("[node]\nhostname = \"h\"\n[mx]\ndomains = [\"d\"]\nmax_data_rate = 100\n",
         "f:5: mx.max_data_rate: 100 is too low: 0 (unlimited) or at least 1024 octets per second"),
        ("[node]\nhostname = \"h\"\n[mx]\ndomains = [\"d\"]\nmin_data_rate = \"fast\"\n", "f:5: mx.min_data_rate: expected an integer, got a string"),
        ("[node]\nhostname = \"h\"\n[dedup]\nmax_entries = \"many\"\n", "f:4: dedup.max_entries: expected an integer, got a string"),
    ])
    func errorsNameLineAndKey(text: String, expected: String) {
        #expect(throws: (any Error).self) { try NodeConfiguration(toml: text, file: "f") }
        do {
            _ = try NodeConfiguration(toml: text, file: "f")
        } catch {
            #expect("\(error)" == expected)
        }
    }

    @Test func tomlValues() throws {
        let document = try TOMLDocument(parsing: """
        a = "tab\\there \\u00e9 \\"q\\""
        b = 'C:\\raw'
        c = -1_000
        d = true
        e = [1, [2, 3], "x"]   # nested
        "quoted key" = false
        """)
        let values = Dictionary(uniqueKeysWithValues: document.entries.map { ($0.dottedKey, $0.value) })
        #expect(values["a"] == .string("tab\there é \"q\""))
        #expect(values["b"] == .string("C:\\raw"))
        #expect(values["c"] == .integer(-1000))
        #expect(values["d"] == .boolean(true))
        #expect(values["e"] == .array([.integer(1), .array([.integer(2), .integer(3)]), .string("x")]))
        #expect(values["quoted key"] == .boolean(false))
    }

    @Test func listenAddresses() {
        #expect(ListenAddress("[2001:db8::1]:587") == ListenAddress(host: "2001:db8::1", port: 587))
        #expect(ListenAddress("mx.example.org:25")?.description == "mx.example.org:25")
        #expect(ListenAddress("[::1]:25")?.description == "[::1]:25")
        #expect(ListenAddress("host:99999") == nil)
        #expect(ListenAddress(":25") == nil)
        #expect(ListenAddress("nocolon") == nil)
    }
}
