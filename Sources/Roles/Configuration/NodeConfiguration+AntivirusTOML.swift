import Defenses
import SMTPCore

extension ConfigurationReader {
    /// Every key of `[antivirus]` (unknown ones are errors like everywhere else).
    static let antivirusKeys: Set<String> = [
        "listen", "protocol", "accept_from", "trusted_upstreams", "clamd", "scan_timeout", "failure_policy", "action",
        "block_extensions", "extra_extensions", "max_message_size", "max_depth", "max_parts", "max_decoded",
        "quarantine_retention", "blocked_attachments",
    ]

    /// `listen` as one string or an array of them.
    mutating func listenOneOrMany(_ path: [String]) throws(ConfigurationError) -> [ListenAddress]? {
        if let entry = entry(path), case .string(let text) = entry.value {
            used.insert(path)
            guard let address = ListenAddress(text) else { throw fail(path, "'\(text)' is not host:port") }
            return [address]
        }
        return try listen(path)
    }

    /// Extensions without dots, lower case; `.exe` and `exe` both accepted.
    mutating func extensions(_ path: [String]) throws(ConfigurationError) -> Set<String>? {
        guard let texts = try strings(path) else { return nil }
        var out: Set<String> = []
        for text in texts {
            let name = String(text.drop { $0 == "." }).lowercased()
            guard !name.isEmpty, !name.contains("."), !name.contains("/"), !name.contains(" ") else {
                throw fail(path, "'\(text)' is not a file-name extension")
            }
            out.insert(name)
        }
        return out
    }

    mutating func readAntivirus() throws(ConfigurationError) -> AntivirusRoleConfiguration {
        let table = ["antivirus"]
        var av = AntivirusRoleConfiguration()
        if let listen = try listenOneOrMany(table + ["listen"]) {
            guard !listen.isEmpty else { throw fail(table + ["listen"], "needs at least one address") }
            av.listen = listen
        }
        if let text = try string(table + ["protocol"]) {
            guard let value = SessionProtocol(rawValue: text) else { throw fail(table + ["protocol"], "must be smtp or lmtp, got '\(text)'") }
            av.sessionProtocol = value
        }
        if let networks = try networks(table + ["accept_from"]) {
            guard !networks.isEmpty else {
                throw fail(table + ["accept_from"], "is empty: no stage could hand mail to this one")
            }
            av.acceptFrom = networks
        }
        if let networks = try networks(table + ["trusted_upstreams"]) { av.trustedUpstreams = networks }
        if let texts = try strings(table + ["clamd"]) {
            guard !texts.isEmpty else { throw fail(table + ["clamd"], "needs at least one clamd instance") }
            var endpoints: [ClamdEndpoint] = []
            for text in texts {
                guard let endpoint = ClamdEndpoint(text) else {
                    throw fail(table + ["clamd"], "'\(text)' is neither host:port nor unix:/path")
                }
                endpoints.append(endpoint)
            }
            av.clamd = endpoints
        }
        if let value = try seconds(table + ["scan_timeout"], range: 1...3600) { av.scanTimeout = value }
        if let text = try string(table + ["failure_policy"]) {
            guard let value = ScanFailurePolicy(rawValue: text) else {
                throw fail(table + ["failure_policy"], "must be tempfail or pass-with-header, got '\(text)'")
            }
            av.failurePolicy = value
        }
        if let text = try string(table + ["action"]) {
            guard let value = AntivirusAction(rawValue: text) else { throw fail(table + ["action"], "must be reject or quarantine, got '\(text)'") }
            av.action = value
        }
        if let text = try string(table + ["blocked_attachments"]) {
            guard text == "refuse" || text == "strip" else { throw fail(table + ["blocked_attachments"], "must be refuse or strip, got '\(text)'") }
            av.stripBlockedAttachments = text == "strip"
        }
        if let replaced = try extensions(table + ["block_extensions"]) { av.attachments.blockedExtensions = replaced }
        if let extra = try extensions(table + ["extra_extensions"]) { av.attachments.blockedExtensions.formUnion(extra) }
        if let value = try integer(table + ["max_message_size"], range: 1024...(1 << 31)) { av.maxMessageSize = value }
        if let value = try integer(table + ["max_depth"], range: 1...100) { av.mimeLimits.maxDepth = value }
        if let value = try integer(table + ["max_parts"], range: 1...100_000) { av.mimeLimits.maxParts = value }
        if let value = try integer(table + ["max_decoded"], range: 1024...(1 << 34)) { av.mimeLimits.maxDecodedBytes = value }
        if let value = try seconds(table + ["quarantine_retention"], range: 3600...(3650 * 86_400)) { av.quarantineRetention = value }
        return av
    }
}
