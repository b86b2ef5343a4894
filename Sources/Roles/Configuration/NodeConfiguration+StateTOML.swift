import Defenses
import SMTPCore
import StatePostgres
import StateSQLite

/// The keys of the state store and of the stateful mx defenses (docs/configuration.md).
extension ConfigurationReader {
    mutating func boolean(_ path: [String]) throws(ConfigurationError) -> Bool? {
        guard let entry = entry(path) else { return nil }
        used.insert(path)
        guard case .boolean(let value) = entry.value else { throw fail(path, "expected true or false, got \(entry.value.typeName)") }
        return value
    }

    mutating func seconds(_ path: [String], range: ClosedRange<Int>) throws(ConfigurationError) -> Duration? {
        try integer(path, range: range).map { .seconds($0) }
    }

    /// `[state] backend = "sqlite"|"postgres"|"memory"`, `path`, `url`, `sync`, `write_behind`, `purge_interval`.
    mutating func readState(spool: String) throws(ConfigurationError) -> StateConfiguration {
        let name = try string(["state", "backend"]) ?? "sqlite"
        let path = try string(["state", "path"])
        let url = try string(["state", "url"])
        let backend: StateConfiguration.Backend
        switch name {
        case "sqlite":
            if url != nil { throw fail(["state", "url"], "is for backend = \"postgres\"") }
            backend = .sqlite(path: path ?? StateConfiguration.defaultPath(spool: spool))
        case "postgres":
            if path != nil { throw fail(["state", "path"], "is for backend = \"sqlite\"") }
            guard let url else {
                throw ConfigurationError(file: file, line: document.tables[["state"]], key: "state.url",
                                         message: "is required with backend = \"postgres\" (postgres://user:password@host:5432/db)")
            }
            // The message never repeats the URL: it may hold a password.
            guard let configuration = PostgresStateConfiguration(url: url) else {
                throw fail(["state", "url"], "is not a postgres://user[:password]@host[:port]/database[?sslmode=disable|prefer|require] URL")
            }
            backend = .postgres(configuration)
        case "memory":
            if path != nil || url != nil { throw fail(["state", path != nil ? "path" : "url"], "is not used with backend = \"memory\"") }
            backend = .memory
        default:
            throw fail(["state", "backend"], "must be sqlite, postgres or memory, got '\(name)'")
        }
        var state = StateConfiguration(backend: backend)
        if let interval = try seconds(["state", "purge_interval"], range: 60...86_400) { state.purgeInterval = interval }
        if let sync = try string(["state", "sync"]) {
            guard case .sqlite = state.backend else { throw fail(["state", "sync"], "is for backend = \"sqlite\"") }
            guard let value = SQLiteStateSync(rawValue: sync) else { throw fail(["state", "sync"], "must be normal or full, got '\(sync)'") }
            state.sqliteSync = value
        }
        if let milliseconds = try integer(["state", "write_behind"], range: 0...10_000) {
            guard case .sqlite = state.backend else { throw fail(["state", "write_behind"], "is for backend = \"sqlite\"") }
            state.sqliteWriteBehind = .milliseconds(milliseconds)
        }
        if let users = try string(["state", "users"]) {
            switch users {
            case "file": state.usersInStore = false
            case "store":
                guard case .postgres = state.backend else {
                    throw fail(["state", "users"], "\"store\" needs backend = \"postgres\" (the SQLite state file keeps no users)")
                }
                state.usersInStore = true
            default: throw fail(["state", "users"], "must be file or store, got '\(users)'")
            }
        }
        return state
    }

    /// DM10 `mx.max_connections_per_client`, DM11 `[mx.rate]`, DM36 `[mx.bad_rcpt]`, DM32 `[mx.greet_pause]`,
    /// DM22 `[mx.greylist]`.
    mutating func readStatefulDefenses(into mx: inout MXRoleConfiguration) throws(ConfigurationError) {
        if let limit = try integer(["mx", "max_connections_per_client"], range: 0...100_000) {
            mx.connectionLimit = limit == 0 ? nil : ClientConnectionLimit.Configuration(maxPerClient: limit)
        }
        mx.connectionLimit?.trustedNetworks = mx.trustedUpstreams

        if document.tables[["mx", "rate"]] != nil, try boolean(["mx", "rate", "enabled"]) ?? true {
            var rate = ClientRateLimit.Configuration(trustedNetworks: mx.trustedUpstreams)
            if let window = try seconds(["mx", "rate", "window"], range: 1...86_400) { rate.window = window }
            if let value = try integer(["mx", "rate", "max_connections"], range: 0...10_000_000) { rate.maxConnections = value }
            if let value = try integer(["mx", "rate", "max_messages"], range: 0...10_000_000) { rate.maxMessages = value }
            if let value = try integer(["mx", "rate", "max_recipients"], range: 0...10_000_000) { rate.maxRecipients = value }
            mx.rateLimit = rate
        } else {
            try markRead(["mx", "rate"], keys: ["window", "max_connections", "max_messages", "max_recipients"])
        }

        mx.badRecipientThrottle = try badRecipientThrottle(["mx", "bad_rcpt"], trustedNetworks: mx.trustedUpstreams)

        if document.tables[["mx", "greet_pause"]] != nil, try boolean(["mx", "greet_pause", "enabled"]) ?? true {
            var pause = GreetPause.Configuration(trustedNetworks: mx.trustedUpstreams)
            if let value = try seconds(["mx", "greet_pause", "pause"], range: 1...60) { pause.pause = value }
            if let value = try seconds(["mx", "greet_pause", "remember_talker"], range: 0...(30 * 86_400)) { pause.rememberTalker = value }
            if let value = try seconds(["mx", "greet_pause", "remember_passed"], range: 0...(30 * 86_400)) { pause.rememberPassed = value }
            mx.greetPause = pause
        } else {
            try markRead(["mx", "greet_pause"], keys: ["pause", "remember_talker", "remember_passed"])
        }

        if document.tables[["mx", "greylist"]] != nil, try boolean(["mx", "greylist", "enabled"]) ?? true {
            var greylist = Greylisting.Configuration(trustedNetworks: mx.trustedUpstreams)
            if let value = try seconds(["mx", "greylist", "delay"], range: 0...86_400) { greylist.delay = value }
            if let value = try seconds(["mx", "greylist", "retry_window"], range: 60...(30 * 86_400)) { greylist.retryWindow = value }
            if let value = try seconds(["mx", "greylist", "pass_lifetime"], range: 3600...(365 * 86_400)) { greylist.passLifetime = value }
            if let value = try integer(["mx", "greylist", "auto_allowlist_after"], range: 0...1000) { greylist.autoAllowlistAfter = value }
            if let value = try integer(["mx", "greylist", "ipv4_prefix"], range: 8...32) { greylist.grouping.ipv4Prefix = value }
            if let value = try integer(["mx", "greylist", "ipv6_prefix"], range: 16...128) { greylist.grouping.ipv6Prefix = value }
            if let value = try boolean(["mx", "greylist", "spf_exempt"]) {
                greylist.exemptSPFPass = value
                mx.greylistingChecksSPF = value
            }
            mx.greylisting = greylist
        } else {
            try markRead(["mx", "greylist"], keys: ["delay", "retry_window", "pass_lifetime", "auto_allowlist_after",
                                                    "ipv4_prefix", "ipv6_prefix", "spf_exempt"])
        }
    }

    /// A disabled table's keys are still known keys (an operator switches a mechanism off with
    /// `enabled = false` and keeps its settings); their types are still checked.
    private mutating func markRead(_ table: [String], keys: [String]) throws(ConfigurationError) {
        for key in keys {
            let path = table + [key]
            guard let entry = entry(path) else { continue }
            if key == "spf_exempt" { _ = try boolean(path) } else { used.insert(path); _ = entry }
        }
    }

    /// A `[ROLE.bad_rcpt]` table (DM36): nil when absent or `enabled = false`.
    mutating func badRecipientThrottle(_ table: [String], trustedNetworks: [IPNetwork]) throws(ConfigurationError) -> BadRecipientThrottle.Configuration? {
        guard document.tables[table] != nil, try boolean(table + ["enabled"]) ?? true else {
            try markRead(table, keys: ["free", "delay_step", "max_delay", "disconnect_after", "window"])
            return nil
        }
        var throttle = BadRecipientThrottle.Configuration(trustedNetworks: trustedNetworks)
        if let value = try integer(table + ["free"], range: 0...1000) { throttle.free = value }
        if let value = try seconds(table + ["delay_step"], range: 0...60) { throttle.delayStep = value }
        if let value = try seconds(table + ["max_delay"], range: 0...300) { throttle.maxDelay = value }
        if let value = try integer(table + ["disconnect_after"], range: 1...10_000) { throttle.disconnectAfter = value }
        if let value = try seconds(table + ["window"], range: 60...(7 * 86_400)) { throttle.window = value }
        return throttle
    }
}
