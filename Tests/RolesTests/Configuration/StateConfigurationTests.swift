import Roles
import Testing

/// `[state]`, `mx.max_connections_per_client`, `[mx.rate]` and `[mx.greylist]` (docs/configuration.md).
struct StateConfigurationTests {
    static let base = "[node]\nhostname = \"h\"\nspool = \"/sp\"\n[mx]\ndomains = [\"d.test\"]\n"

    @Test func defaults() throws {
        let configuration = try NodeConfiguration(toml: Self.base, file: "f")
        #expect("\(configuration.state.backend)" == "sqlite /sp/defenses/state.sqlite")
        #expect(configuration.state.purgeInterval == .seconds(3600))
        #expect(configuration.state.sqliteSync.rawValue == "normal")
        #expect(configuration.state.sqliteWriteBehind == .milliseconds(100))
        #expect(configuration.mx?.connectionLimit?.maxPerClient == 10)
        #expect(configuration.mx?.rateLimit == nil)
        #expect(configuration.mx?.greylisting == nil)
        #expect(configuration.mx?.badRecipientThrottle == nil)
        #expect(configuration.mx?.greetPause == nil)
        #expect(!configuration.needsStateStore)
    }

    @Test func statefulDefenses() throws {
        let text = Self.base + """
            trusted_upstreams = ["10.0.0.0/8"]
            max_connections_per_client = 4
            [mx.rate]
            window = 120
            max_connections = 30
            max_recipients = 0
            [mx.bad_rcpt]
            free = 1
            max_delay = 5
            [mx.greet_pause]
            pause = 3
            [mx.greylist]
            delay = 60
            auto_allowlist_after = 0
            spf_exempt = false
            [state]
            backend = "postgres"
            url = "postgres://mailnode:s3cret@db.example:5433/mail?sslmode=require"
            purge_interval = 600
            """
        let configuration = try NodeConfiguration(toml: text, file: "f")
        let mx = try #require(configuration.mx)
        #expect(mx.connectionLimit?.maxPerClient == 4)
        #expect(mx.connectionLimit?.trustedNetworks.map(\.description) == ["10.0.0.0/8"])
        #expect(mx.rateLimit?.window == .seconds(120))
        #expect(mx.rateLimit?.maxConnections == 30)
        #expect(mx.rateLimit?.maxMessages == 100)   // default kept
        #expect(mx.rateLimit?.maxRecipients == 0)
        #expect(mx.badRecipientThrottle?.free == 1)
        #expect(mx.badRecipientThrottle?.maxDelay == .seconds(5))
        #expect(mx.badRecipientThrottle?.disconnectAfter == 10)
        #expect(mx.greetPause?.pause == .seconds(3))
        #expect(mx.greetPause?.rememberTalker == .seconds(86_400))
        #expect(mx.greylisting?.delay == .seconds(60))
        #expect(mx.greylisting?.retryWindow == .seconds(2 * 86_400))
        #expect(mx.greylisting?.autoAllowlistAfter == 0)
        #expect(mx.greylisting?.exemptSPFPass == false)
        #expect(configuration.needsStateStore)
        #expect(configuration.state.purgeInterval == .seconds(600))
        let shown = "\(configuration.state.backend)"
        #expect(shown == "postgres postgres://mailnode:***@db.example:5433/mail?sslmode=require")
        #expect(!shown.contains("s3cret"))
        #expect(!configuration.state.usersInStore)   // users stay in their file unless asked
        let shared = try NodeConfiguration(toml: text + "\nusers = \"store\"\n", file: "f")
        #expect(shared.state.usersInStore)
    }

    @Test func sqliteSync() throws {
        let full = try NodeConfiguration(toml: Self.base + "[state]\nsync = \"full\"\n", file: "f")
        #expect(full.state.sqliteSync.rawValue == "full")
        let normal = try NodeConfiguration(toml: Self.base + "[state]\nbackend = \"sqlite\"\nsync = \"normal\"\n", file: "f")
        #expect(normal.state.sqliteSync.rawValue == "normal")
        let through = try NodeConfiguration(toml: Self.base + "[state]\nwrite_behind = 0\n", file: "f")
        #expect(through.state.sqliteWriteBehind == .zero)
        let slow = try NodeConfiguration(toml: Self.base + "[state]\nwrite_behind = 2000\n", file: "f")
        #expect(slow.state.sqliteWriteBehind == .seconds(2))
    }

    @Test func disabledTablesKeepTheirKeys() throws {
        let text = Self.base + "max_connections_per_client = 0\n[mx.greylist]\nenabled = false\ndelay = 60\n[mx.rate]\nenabled = false\nwindow = 5\n"
        let configuration = try NodeConfiguration(toml: text, file: "f")
        #expect(configuration.mx?.greylisting == nil)
        #expect(configuration.mx?.rateLimit == nil)
        #expect(configuration.mx?.connectionLimit == nil)
    }

    @Test(arguments: [
        (base + "[state]\nbackend = \"redis\"\n", "f:7: state.backend: must be sqlite, postgres or memory, got 'redis'"),
        (base + "[state]\nbackend = \"postgres\"\n", "f:6: state.url: is required with backend = \"postgres\" (postgres://user:password@host:5432/db)"),
        (base + "[state]\nbackend = \"postgres\"\nurl = \"mysql://u:pw@h/db\"\n",
         "f:8: state.url: is not a postgres://user[:password]@host[:port]/database[?sslmode=disable|prefer|require] URL"),
        (base + "[state]\nurl = \"postgres://u@h/db\"\n", "f:7: state.url: is for backend = \"postgres\""),
        (base + "[mx.greylist]\ndelay = \"5m\"\n", "f:7: mx.greylist.delay: expected an integer, got a string"),
        (base + "[mx.greylist]\ndelai = 5\n", "f:7: mx.greylist.delai: unknown key"),
        (base + "[mx.rate]\nenabled = \"yes\"\n", "f:7: mx.rate.enabled: expected true or false, got a string"),
        (base + "[state]\nusers = \"store\"\n", "f:7: state.users: \"store\" needs backend = \"postgres\" (the SQLite state file keeps no users)"),
        (base + "[state]\nbackend = \"postgres\"\nurl = \"postgres://u@h/db\"\nusers = \"ldap\"\n", "f:9: state.users: must be file or store, got 'ldap'"),
        (base + "[state]\nsync = \"off\"\n", "f:7: state.sync: must be normal or full, got 'off'"),
        (base + "[state]\nbackend = \"memory\"\nsync = \"full\"\n", "f:8: state.sync: is for backend = \"sqlite\""),
        (base + "[state]\nbackend = \"memory\"\nwrite_behind = 50\n", "f:8: state.write_behind: is for backend = \"sqlite\""),
        (base + "[state]\nwrite_behind = 60000\n", "f:7: state.write_behind: 60000 is out of range 0...10000"),
    ])
    func errors(text: String, expected: String) {
        do {
            _ = try NodeConfiguration(toml: text, file: "f")
            Issue.record("no error for \(text)")
        } catch {
            #expect("\(error)" == expected)
            #expect(!"\(error)".contains("pw@"))
        }
    }
}
