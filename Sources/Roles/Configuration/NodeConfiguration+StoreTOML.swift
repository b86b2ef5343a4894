import Defenses
import MailStore
import SMTPCore

/// The `[store]` table (docs/configuration.md, docs/store.md).
extension ConfigurationReader {
    mutating func readStore(spool: String, hasTLS: Bool) throws(ConfigurationError) -> StoreRoleConfiguration {
        let table = ["store"]
        var store = StoreRoleConfiguration(path: try string(table + ["path"]) ?? spool + "/store",
                                           usersPath: try string(table + ["users"]) ?? spool + "/defenses/users.sqlite")
        if let listen = try listenOneOrMany(table + ["listen"]) {
            guard !listen.isEmpty else { throw fail(table + ["listen"], "needs at least one address") }
            store.listen = listen
        }
        if let text = try string(table + ["protocol"]) {
            guard let value = SessionProtocol(rawValue: text) else { throw fail(table + ["protocol"], "must be lmtp or smtp, got '\(text)'") }
            store.sessionProtocol = value
        }
        if let networks = try networks(table + ["accept_from"]) {
            guard !networks.isEmpty else { throw fail(table + ["accept_from"], "is empty: no stage could deliver to this one") }
            store.acceptFrom = networks
        }
        if let networks = try networks(table + ["trusted_upstreams"]) { store.trustedUpstreams = networks }
        if let value = try integer(table + ["max_message_size"], range: 1024...(1 << 32)) { store.maxMessageSize = value }
        store.imapLimits.maxAppendSize = store.maxMessageSize
        if let value = try integer(table + ["quota_bytes"], range: 0...(1 << 50)) { store.quota.bytes = Int64(value) }
        if let value = try integer(table + ["quota_messages"], range: 0...1_000_000_000) { store.quota.messages = Int64(value) }
        if let value = try integer(table + ["quota_warning_percent"], range: 1...100) { store.quota.warningPercent = value }
        if let listen = try listenOneOrMany(table + ["pop3_listen"]) { store.pop3Listen = listen }
        if let listen = try listenOneOrMany(table + ["pop3s_listen"]) { store.pop3sListen = listen }
        // RFC 1939 §3: an autologout timer of at least 10 minutes.
        if let value = try integer(table + ["pop3_idle_timeout"], range: 600...86_400) { store.pop3Limits.idleTimeout = Int64(value) }
        if let listen = try listenOneOrMany(table + ["imap_listen"]) { store.imapListen = listen }
        if let listen = try listenOneOrMany(table + ["imaps_listen"]) { store.imapsListen = listen }
        // RFC 9051 §5.4: an inactivity autologout timer of at least 30 minutes.
        if let value = try integer(table + ["imap_idle_timeout"], range: 1800...86_400) { store.imapLimits.idleTimeout = Int64(value) }
        if let value = try integer(table + ["auth_max_failures_per_user"], range: 1...1000) { store.authentication.maxFailuresPerUser = value }
        if let value = try integer(table + ["auth_max_failures_per_client"], range: 1...10_000) { store.authentication.maxFailuresPerClient = value }
        if let value = try seconds(table + ["auth_window"], range: 60...86_400) { store.authentication.window = value }
        if store.servesPOP3, !hasTLS {
            throw ConfigurationError(file: file, line: document.tables[table], key: "tls.certificate",
                                     message: "is required by [store]: POP3 only over TLS (or set pop3_listen = [] and pop3s_listen = [])")
        }
        if store.servesIMAP, !hasTLS {
            throw ConfigurationError(file: file, line: document.tables[table], key: "tls.certificate",
                                     message: "is required by [store]: IMAP only over TLS (or set imap_listen = [] and imaps_listen = [])")
        }
        return store
    }
}
