import Foundation
import SMTPCore

/// A configuration problem, reported as `file:line: key: message`.
public struct ConfigurationError: Error, Sendable, Hashable, CustomStringConvertible {
    public var file: String
    public var line: Int?
    public var key: String?
    public var message: String

    public var description: String {
        var text = file
        if let line { text += ":\(line)" }
        text += ": "
        if let key { text += "\(key): " }
        return text + message
    }
}

extension NodeConfiguration {
    /// Reads a configuration file's text. Unknown keys are errors (a typo must not silently
    /// turn a defense off); every key has a default except `node.hostname` and `mx.domains` (`[antivirus]` may be empty).
    public init(toml text: String, file: String) throws(ConfigurationError) {
        let document: TOMLDocument
        do {
            document = try TOMLDocument(parsing: text)
        } catch {
            throw ConfigurationError(file: file, line: error.line, key: nil, message: error.message)
        }
        var reader = ConfigurationReader(document: document, file: file)
        self = try reader.read()
    }
}

/// Maps TOML entries onto ``NodeConfiguration``, remembering which keys were used.
struct ConfigurationReader {
    let document: TOMLDocument
    let file: String
    var used: Set<[String]> = []

    init(document: TOMLDocument, file: String) {
        self.document = document
        self.file = file
    }

    func entry(_ path: [String]) -> TOMLDocument.Entry? {
        document.entries.first { $0.path == path }
    }

    func fail(_ path: [String], _ message: String) -> ConfigurationError {
        let entry = entry(path)
        return ConfigurationError(file: file, line: entry?.line ?? document.tables[Array(path.dropLast())],
                                  key: path.joined(separator: "."), message: message)
    }

    mutating func string(_ path: [String]) throws(ConfigurationError) -> String? {
        guard let entry = entry(path) else { return nil }
        used.insert(path)
        guard case .string(let value) = entry.value else { throw fail(path, "expected a string, got \(entry.value.typeName)") }
        return value
    }

    mutating func integer(_ path: [String], range: ClosedRange<Int>) throws(ConfigurationError) -> Int? {
        guard let entry = entry(path) else { return nil }
        used.insert(path)
        guard case .integer(let value) = entry.value else { throw fail(path, "expected an integer, got \(entry.value.typeName)") }
        guard range.contains(value) else { throw fail(path, "\(value) is out of range \(range.lowerBound)...\(range.upperBound)") }
        return value
    }

    mutating func strings(_ path: [String]) throws(ConfigurationError) -> [String]? {
        guard let entry = entry(path) else { return nil }
        used.insert(path)
        guard case .array(let items) = entry.value else { throw fail(path, "expected an array of strings, got \(entry.value.typeName)") }
        var out: [String] = []
        for item in items {
            guard case .string(let text) = item else { throw fail(path, "expected an array of strings, found \(item.typeName)") }
            out.append(text)
        }
        return out
    }

    mutating func listen(_ path: [String]) throws(ConfigurationError) -> [ListenAddress]? {
        guard let texts = try strings(path) else { return nil }
        var out: [ListenAddress] = []
        for text in texts {
            guard let address = ListenAddress(text) else { throw fail(path, "'\(text)' is not host:port") }
            out.append(address)
        }
        return out
    }

    mutating func networks(_ path: [String]) throws(ConfigurationError) -> [IPNetwork]? {
        guard let texts = try strings(path) else { return nil }
        var out: [IPNetwork] = []
        for text in texts {
            guard let network = IPNetwork(text) else { throw fail(path, "'\(text)' is not an address or CIDR network") }
            out.append(network)
        }
        return out
    }

    /// `hops.NAME.auth_file`: one line `username:password` (the password may contain `:`), in a
    /// file no one but its owner may read (like Postfix's `sasl_passwd`, 0600 or 0400).
    func hopCredentials(_ path: String, key: [String]) throws(ConfigurationError) -> SMTPClientCredentials {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
              let data = FileManager.default.contents(atPath: path) else {
            throw fail(key, "cannot read '\(path)'")
        }
        let mode = (attributes[.posixPermissions] as? NSNumber)?.intValue ?? 0
        guard mode & 0o077 == 0 else {
            throw fail(key, "'\(path)' is readable by others (mode \(String(mode, radix: 8))): chmod 600 it")
        }
        let line = String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
        guard let colon = line.firstIndex(of: ":"), colon != line.startIndex, line.index(after: colon) != line.endIndex else {
            throw fail(key, "'\(path)' must hold one line username:password")
        }
        return SMTPClientCredentials(username: String(line[..<colon]), password: String(line[line.index(after: colon)...]))
    }

    mutating func read() throws(ConfigurationError) -> NodeConfiguration {
        guard let hostname = try string(["node", "hostname"]) else {
            throw ConfigurationError(file: file, line: document.tables[["node"]], key: "node.hostname", message: "is required")
        }
        var configuration = NodeConfiguration(hostname: hostname,
                                              spoolDirectory: try string(["node", "spool"]) ?? "/var/spool/mailnode")
        if let value = try integer(["node", "max_connections"], range: 1...1_000_000) {
            configuration.connectionCaps.maxConnections = value
        }
        if let value = try integer(["node", "max_connections_per_loop"], range: 0...1_000_000) {
            configuration.connectionCaps.maxConnectionsPerEventLoop = value
        }
        configuration.tlsCertificatePath = try string(["tls", "certificate"])
        configuration.tlsKeyPath = try string(["tls", "key"])
        if let path = try string(["tls", "ca_file"]) {
            guard FileManager.default.isReadableFile(atPath: path) else { throw fail(["tls", "ca_file"], "cannot read '\(path)'") }
            configuration.tlsCAFilePath = path
        }
        if (configuration.tlsCertificatePath == nil) != (configuration.tlsKeyPath == nil) {
            let missing = configuration.tlsCertificatePath == nil ? "certificate" : "key"
            let present = missing == "key" ? "certificate" : "key"
            throw fail(["tls", missing], "is required with tls.\(present)")
        }

        if document.tables[["mx"]] != nil {
            configuration.mx = try readMX()
        }
        if document.tables[["antivirus"]] != nil {
            configuration.antivirus = try readAntivirus()
        }
        if document.tables[["store"]] != nil {
            configuration.store = try readStore(spool: configuration.spoolDirectory, hasTLS: configuration.tlsCertificatePath != nil)
        }
        if document.tables[["outbound"]] != nil {
            configuration.outbound = try readOutbound()
        }
        if document.tables[["submission"]] != nil {
            configuration.submission = try readSubmission(spool: configuration.spoolDirectory,
                                                          hasTLS: configuration.tlsCertificatePath != nil)
        }
        configuration.state = try readState(spool: configuration.spoolDirectory)
        configuration.dns = try readDNS()
        if try enabled(["metrics"], keys: ["listen"]) {
            configuration.metricsListen = try listenOneOrMany(["metrics", "listen"])?.first ?? ListenAddress(host: "127.0.0.1", port: 9325)
            if let all = entry(["metrics", "listen"]), case .array(let items) = all.value, items.count > 1 {
                throw fail(["metrics", "listen"], "takes one address")
            }
        }

        // [hops.NAME] address = "host:port", protocol = "smtp"|"lmtp", tls = "none"|"opportunistic"|"required"
        var hops: [String: NextHop] = [:]
        var credentials: [String: SMTPClientCredentials] = [:]
        for table in document.tables.keys where table.count == 2 && table[0] == "hops" {
            let name = table[1]
            guard let addressText = try string(["hops", name, "address"]) else {
                throw ConfigurationError(file: file, line: document.tables[table], key: "hops.\(name).address", message: "is required")
            }
            guard let address = ListenAddress(addressText) else { throw fail(["hops", name, "address"], "'\(addressText)' is not host:port") }
            let protocolName = try string(["hops", name, "protocol"]) ?? "smtp"
            guard let sessionProtocol = SessionProtocol(rawValue: protocolName) else {
                throw fail(["hops", name, "protocol"], "must be smtp or lmtp, got '\(protocolName)'")
            }
            let tlsName = try string(["hops", name, "tls"]) ?? "opportunistic"
            guard let tls = NextHop.HopTLS(rawValue: tlsName) else {
                throw fail(["hops", name, "tls"], "must be none, opportunistic, required or verify, got '\(tlsName)'")
            }
            let tlsServerName = try string(["hops", name, "tls_name"])
            hops[name] = NextHop(name: name, host: address.host, port: address.port, sessionProtocol: sessionProtocol, tls: tls,
                                 tlsServerName: tlsServerName)
            if let path = try string(["hops", name, "auth_file"]) {
                guard tls != .none else {
                    throw fail(["hops", name, "auth_file"], "AUTH needs TLS: set hops.\(name).tls to required or verify")
                }
                credentials[name] = try hopCredentials(path, key: ["hops", name, "auth_file"])
            }
        }

        // [routes] "example.org" = "store", ".example.org" = "store", "*" = "outbound"
        var routes: [String: NextHop] = [:]
        var defaultHop: NextHop?
        for entry in document.entries where entry.path.count == 2 && entry.path[0] == "routes" {
            guard let hopName = try string(entry.path) else { continue }
            guard let hop = hops[hopName] else {
                throw fail(entry.path, "no hop named '\(hopName)' (define [hops.\(hopName)])")
            }
            if entry.path[1] == "*" { defaultHop = hop } else { routes[entry.path[1]] = hop }
        }
        configuration.routing = RoutingTable(routes: routes, defaultHop: defaultHop)
        configuration.hopCredentials = credentials

        var retry = RetryPolicy()
        if let value = try integer(["retry", "initial_delay"], range: 1...86_400) { retry.initialDelay = Double(value) }
        if let value = try integer(["retry", "max_delay"], range: 1...604_800) { retry.maxDelay = Double(value) }
        if let value = try integer(["retry", "max_lifetime"], range: 60...(30 * 86_400)) { retry.maxLifetime = Double(value) }
        if let value = try integer(["retry", "jitter_percent"], range: 0...50) { retry.jitter = Double(value) / 100 }
        // 0 switches the delayed-delivery warning off (docs/spool.md, Delivery status notifications).
        if let value = try integer(["retry", "delay_warning"], range: 0...(30 * 86_400)) { retry.delayWarning = Double(value) }
        configuration.retry = retry

        if let value = try integer(["dedup", "retention"], range: 3600...(90 * 86_400)) {
            configuration.dedup.retention = .seconds(value)
        }
        if let value = try integer(["dedup", "max_entries"], range: 1000...100_000_000) { configuration.dedup.maxEntries = value }

        // Anything not read above is a typo or an unsupported key.
        if let unknown = document.entries.first(where: { !used.contains($0.path) }) {
            throw ConfigurationError(file: file, line: unknown.line, key: unknown.dottedKey, message: "unknown key")
        }
        let knownTables: Set<String> = ["node", "tls", "mx", "antivirus", "submission", "store", "outbound", "hops", "routes", "retry", "dedup", "state", "dns", "metrics"]
        if let (table, line) = document.tables.first(where: { !knownTables.contains($0.key[0]) || ($0.key[0] == "hops" && $0.key.count != 2)
            || ($0.key[0] == "antivirus" && $0.key.count != 1) || ($0.key[0] == "store" && $0.key.count != 1)
            || ($0.key[0] == "outbound" && $0.key != ["outbound"] && $0.key != ["outbound", "dkim"] && $0.key != ["outbound", "tls_policy"]) }) {
            throw ConfigurationError(file: file, line: line, key: table.joined(separator: "."), message: "unknown table")
        }
        return configuration
    }

    mutating func readMX() throws(ConfigurationError) -> MXRoleConfiguration {
        guard let domains = try strings(["mx", "domains"]), !domains.isEmpty else {
            throw ConfigurationError(file: file, line: document.tables[["mx"]], key: "mx.domains",
                                     message: "is required (the domains this node accepts mail for)")
        }
        var mx = MXRoleConfiguration(localDomains: Set(domains))
        if let listen = try listenOneOrMany(["mx", "listen"]) { mx.listen = listen }
        if let value = try integer(["mx", "max_message_size"], range: 1024...(1 << 32)) { mx.limits.maxMessageSize = value }
        if let value = try integer(["mx", "max_recipients"], range: 1...100_000) { mx.limits.maxRecipients = value }
        if let value = try integer(["mx", "max_errors"], range: 1...1000) { mx.limits.maxErrorsPerSession = value }
        if let value = try integer(["mx", "command_timeout"], range: 10...3600) { mx.limits.commandTimeout = Int64(value) }
        if let value = try integer(["mx", "data_timeout"], range: 10...3600) { mx.limits.dataTimeout = Int64(value) }
        if let value = try integer(["mx", "max_session_duration"], range: 60...86_400) { mx.limits.maxSessionDuration = Int64(value) }
        // DM33: data-rate floor (0 = off) and per-flow bandwidth cap (0 = unlimited), octets per second.
        if let value = try integer(["mx", "min_data_rate"], range: 0...100_000_000) { mx.limits.minDataRate = value }
        if let value = try integer(["mx", "data_rate_grace"], range: 1...3600) { mx.limits.dataRateGrace = Int64(value) }
        if let value = try integer(["mx", "max_data_rate"], range: 0...1_000_000_000) {
            guard value == 0 || value >= 1024 else {
                throw fail(["mx", "max_data_rate"], "\(value) is too low: 0 (unlimited) or at least 1024 octets per second")
            }
            mx.limits.maxDataRate = value
        }
        if let text = try string(["mx", "bare_line_endings"]) {
            guard let policy = BareLineEndingPolicy(rawValue: text) else {
                throw fail(["mx", "bare_line_endings"], "must be reject, accept or normalize, got '\(text)'")
            }
            mx.bareLineEndings = policy
        }
        if let networks = try networks(["mx", "proxy_protocol_trusted"]) { mx.proxyProtocolTrusted = networks }
        if let networks = try networks(["mx", "trusted_upstreams"]) { mx.trustedUpstreams = networks }
        try readStatefulDefenses(into: &mx)
        try readListDefenses(into: &mx)
        try readDNSDefenses(into: &mx)
        return mx
    }
}
