import Defenses
import Roles
import Testing

/// `[submission]` (docs/configuration.md).
struct SubmissionConfigurationTests {
    static let base = "[node]\nhostname = \"h\"\nspool = \"/sp\"\n[tls]\ncertificate = \"/c.pem\"\nkey = \"/k.pem\"\n"

    @Test func defaults() throws {
        let configuration = try NodeConfiguration(toml: Self.base + "[submission]\n", file: "f")
        let submission = try #require(configuration.submission)
        #expect(submission.listen.map(\.description) == ["127.0.0.1:5587"] && submission.listenTLS.isEmpty)
        #expect(submission.usersPath == "/sp/defenses/users.sqlite")
        #expect(submission.authentication.maxFailuresPerUser == 10 && submission.authentication.window == .seconds(900))
        #expect(!submission.allowNullSender)
        #expect(submission.senderVolume?.maxMessages == 200)   // on by default for users
        #expect(submission.connectionLimit?.maxPerClient == 10)
        #expect(submission.localDomains.isEmpty && submission.badRecipientThrottle == nil)   // no [mx] in this file
        let withMX = try NodeConfiguration(toml: Self.base + "[mx]\ndomains = [\"Example.org\"]\n[submission]\n", file: "f")
        #expect(withMX.submission?.localDomains == ["example.org"])
        let explicit = try NodeConfiguration(toml: Self.base + "[mx]\ndomains = [\"example.org\"]\n[submission]\nlocal_domains = []\n"
            + "[submission.bad_rcpt]\nfree = 3\ndisconnect_after = 5\n", file: "f")
        #expect(explicit.submission?.localDomains.isEmpty == true)
        #expect(explicit.submission?.badRecipientThrottle?.free == 3 && explicit.submission?.badRecipientThrottle?.disconnectAfter == 5)
        #expect(configuration.needsStateStore)
    }

    @Test func everyKey() throws {
        let text = Self.base + """
            [submission]
            listen = ["0.0.0.0:587"]
            listen_tls = ["0.0.0.0:465", "[::]:465"]
            users = "/etc/mailnode/users.sqlite"
            auth_max_failures_per_user = 5
            auth_max_failures_per_client = 7
            auth_window = 600
            allow_null_sender = true
            max_message_size = 10485760
            max_recipients = 50
            max_connections_per_client = 0
            [submission.rate]
            max_connections = 30
            [submission.sender_rate]
            max_messages = 20
            """
        let submission = try #require(try NodeConfiguration(toml: text, file: "f").submission)
        #expect(submission.listenTLS.map(\.description) == ["0.0.0.0:465", "[::]:465"])
        #expect(submission.usersPath == "/etc/mailnode/users.sqlite")
        #expect(submission.authentication.maxFailuresPerUser == 5 && submission.authentication.maxFailuresPerClient == 7)
        #expect(submission.allowNullSender && submission.limits.maxRecipients == 50 && submission.connectionLimit == nil)
        #expect(submission.senderVolume?.maxMessages == 20 && submission.senderVolume?.maxRecipients == 1000)
        #expect(submission.rateLimit?.maxConnections == 30 && submission.rateLimit?.exemptAuthenticated == false)
        let off = try NodeConfiguration(toml: Self.base + "[submission]\n[submission.sender_rate]\nenabled = false\nmax_messages = 3\n", file: "f")
        #expect(off.submission?.senderVolume == nil)
    }

    @Test func errors() {
        #expect {
            _ = try NodeConfiguration(toml: "[node]\nhostname = \"h\"\n[submission]\n", file: "f")
        } throws: { "\($0)" == "f:3: tls.certificate: is required by [submission]: AUTH and mail submission only over TLS" }
        #expect {
            _ = try NodeConfiguration(toml: Self.base + "[submission]\nauth_window = 5\n", file: "f")
        } throws: { "\($0)" == "f:8: submission.auth_window: 5 is out of range 60...86400" }
        #expect {
            _ = try NodeConfiguration(toml: Self.base + "[submission]\nrelay = true\n", file: "f")
        } throws: { "\($0)" == "f:8: submission.relay: unknown key" }
    }
}
