import Defenses
import Foundation
import MailStore
import SMTPCore
import Testing

@testable import Roles

/// `[store]`: defaults, every key read, errors as `file:line: key: problem`, one role per process.
@Suite struct StoreConfigurationTests {
    static let base = "[node]\nhostname = \"store.test\"\nspool = \"/tmp/x\"\n"
    static let tls = "[tls]\ncertificate = \"/c.pem\"\nkey = \"/k.pem\"\n"

    @Test func defaults() throws {
        let configuration = try NodeConfiguration(toml: Self.base + Self.tls + "[store]\n", file: "f")
        let store = try #require(configuration.store)
        #expect(store.listen.map(\.description) == ["127.0.0.1:10024"] && store.sessionProtocol == .lmtp)
        #expect(store.acceptFrom.map(\.description) == ["127.0.0.0/8", "0:0:0:0:0:0:0:1/128"] && store.trustedUpstreams.isEmpty)
        #expect(store.path == "/tmp/x/store" && store.usersPath == "/tmp/x/defenses/users.sqlite")
        #expect(store.maxMessageSize == 52_428_800)
        #expect(store.quota == QuotaLimits() && store.quota.isUnlimited && store.quota.warningPercent == 90)
        #expect(store.pop3Listen.map(\.description) == ["127.0.0.1:1110"] && store.pop3sListen.map(\.description) == ["127.0.0.1:1995"])
        #expect(store.pop3Limits == POP3Limits() && store.authentication == DirectoryAuthenticator.Configuration())
        #expect(store.imapListen.isEmpty && store.imapsListen.isEmpty && !store.servesIMAP)
        #expect(store.imapLimits == IMAPLimits() && store.imapLimits.idleTimeout == 1800 && store.imapLimits.maxAppendSize == 52_428_800)
        #expect(configuration.needsStateStore)   // POP3 login lockout
        #expect(try NodeConfiguration(toml: Self.base, file: "f").store == nil)
    }

    @Test func everyKey() throws {
        let text = Self.base + Self.tls + """
            [store]
            listen = ["10.0.0.14:24", "[::1]:24"]
            protocol = "smtp"
            accept_from = ["10.0.0.13"]
            trusted_upstreams = ["10.0.0.13"]
            path = "/srv/mail"
            users = "/srv/users.sqlite"
            max_message_size = 1048576
            quota_bytes = 1_000_000
            quota_messages = 500
            quota_warning_percent = 75
            pop3_listen = []
            pop3s_listen = "0.0.0.0:995"
            pop3_idle_timeout = 900
            imap_listen = "0.0.0.0:143"
            imaps_listen = ["0.0.0.0:993", "[::]:993"]
            imap_idle_timeout = 3600
            auth_max_failures_per_user = 5
            auth_max_failures_per_client = 7
            auth_window = 600

            """
        let store = try #require(try NodeConfiguration(toml: text, file: "f").store)
        #expect(store.listen.map(\.description) == ["10.0.0.14:24", "[::1]:24"] && store.sessionProtocol == .smtp)
        #expect(store.acceptFrom.count == 1 && store.trustedUpstreams.count == 1)
        #expect(store.path == "/srv/mail" && store.usersPath == "/srv/users.sqlite" && store.maxMessageSize == 1_048_576)
        #expect(store.quota == QuotaLimits(bytes: 1_000_000, messages: 500, warningPercent: 75))
        #expect(store.pop3Listen.isEmpty && store.pop3sListen.map(\.description) == ["0.0.0.0:995"])
        #expect(store.pop3Limits.idleTimeout == 900)
        #expect(store.imapListen.map(\.description) == ["0.0.0.0:143"] && store.imapsListen.count == 2 && store.servesIMAP)
        #expect(store.imapLimits.idleTimeout == 3600 && store.imapLimits.maxAppendSize == 1_048_576)
        #expect(store.authentication == DirectoryAuthenticator.Configuration(maxFailuresPerUser: 5, maxFailuresPerClient: 7, window: .seconds(600)))
    }

    @Test(arguments: [
        ("[store]\n", "f:4: tls.certificate: is required by [store]: POP3 only over TLS (or set pop3_listen = [] and pop3s_listen = [])"),
        ("[store]\npop3_listen = []\npop3s_listen = []\nprotocol = \"http\"\n", "f:7: store.protocol: must be lmtp or smtp, got 'http'"),
        ("[store]\npop3_listen = []\npop3s_listen = []\nquota_warning_percent = 0\n", "f:7: store.quota_warning_percent: 0 is out of range 1...100"),
        ("[store]\npop3_listen = []\npop3s_listen = []\naccept_from = []\n", "f:7: store.accept_from: is empty: no stage could deliver to this one"),
        ("[store]\npop3_listen = []\npop3s_listen = []\npop3_idle_timeout = 60\n", "f:7: store.pop3_idle_timeout: 60 is out of range 600...86400"),
        ("[store]\npop3_listen = []\npop3s_listen = []\nquota = 5\n", "f:7: store.quota: unknown key"),
        ("[store.quota]\n", "f:4: store.quota: unknown table"),
        ("[store]\npop3_listen = []\npop3s_listen = []\nimaps_listen = \"127.0.0.1:993\"\n",
         "f:4: tls.certificate: is required by [store]: IMAP only over TLS (or set imap_listen = [] and imaps_listen = [])"),
        ("[store]\npop3_listen = []\npop3s_listen = []\nimap_idle_timeout = 600\n", "f:7: store.imap_idle_timeout: 600 is out of range 1800...86400"),
    ])
    func errors(table: String, message: String) {
        #expect(throws: ConfigurationError.self) { try NodeConfiguration(toml: Self.base + table, file: "f") }
        do {
            _ = try NodeConfiguration(toml: Self.base + table, file: "f")
        } catch {
            #expect(error.description == message)
        }
    }

    /// An LMTP-only store needs no certificate; one process runs one role.
    @Test func lmtpOnlyAndOneRolePerProcess() throws {
        let text = Self.base + "[mx]\ndomains = [\"example.test\"]\n[store]\npop3_listen = []\npop3s_listen = []\n"
        let configuration = try NodeConfiguration(toml: text, file: "f")
        #expect(configuration.store?.servesPOP3 == false)
        let store = configuration.running(role: "store")
        #expect(store.store != nil && store.mx == nil && !store.needsStateStore)
        #expect(configuration.running(role: "mx").store == nil)
    }
}
