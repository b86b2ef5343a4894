import Foundation
import Defenses
import SMTPCore

/// The `[submission]` table (docs/configuration.md).
extension ConfigurationReader {
    mutating func readSubmission(spool: String, hasTLS: Bool) throws(ConfigurationError) -> SubmissionRoleConfiguration {
        var submission = SubmissionRoleConfiguration(usersPath: try string(["submission", "users"]) ?? spool + "/defenses/users.sqlite")
        if let listen = try listenOneOrMany(["submission", "listen"]) { submission.listen = listen }
        if let listen = try listenOneOrMany(["submission", "listen_tls"]) { submission.listenTLS = listen }
        guard hasTLS else {
            throw ConfigurationError(file: file, line: document.tables[["submission"]], key: "tls.certificate",
                                     message: "is required by [submission]: AUTH and mail submission only over TLS")
        }
        if submission.listen.isEmpty && submission.listenTLS.isEmpty {
            throw fail(["submission", "listen"], "the submission role needs a listener (listen or listen_tls)")
        }
        if let value = try integer(["submission", "max_message_size"], range: 1024...(1 << 32)) { submission.limits.maxMessageSize = value }
        if let value = try integer(["submission", "max_recipients"], range: 1...100_000) { submission.limits.maxRecipients = value }
        if let value = try integer(["submission", "max_recipients_hard"], range: 0...1_000_000) { submission.limits.hardRecipientLimit = value }
        if let text = try string(["submission", "bare_line_endings"]) {
            guard let policy = BareLineEndingPolicy(rawValue: text) else {
                throw fail(["submission", "bare_line_endings"], "must be reject, accept or normalize, got '\(text)'")
            }
            submission.bareLineEndings = policy
        }
        if let value = try boolean(["submission", "allow_null_sender"]) { submission.allowNullSender = value }
        if let value = try boolean(["submission", "check_from"]) { submission.checkFrom = value }
        if let value = try boolean(["submission", "hide_client_address"]) { submission.hideClientAddress = value }
        if let value = try integer(["submission", "auth_max_failures_per_user"], range: 1...1000) { submission.authentication.maxFailuresPerUser = value }
        if let value = try integer(["submission", "auth_max_failures_per_client"], range: 1...10_000) { submission.authentication.maxFailuresPerClient = value }
        if let value = try seconds(["submission", "auth_window"], range: 60...86_400) { submission.authentication.window = value }
        if let value = try integer(["submission", "max_connections_per_client"], range: 0...100_000) {
            submission.connectionLimit = value == 0 ? nil : ClientConnectionLimit.Configuration(maxPerClient: value)
        }
        if try enabled(["submission", "rate"], keys: ["window", "max_connections", "max_messages", "max_recipients"]) {
            var rate = ClientRateLimit.Configuration(exemptAuthenticated: false)
            if let value = try seconds(["submission", "rate", "window"], range: 1...86_400) { rate.window = value }
            if let value = try integer(["submission", "rate", "max_connections"], range: 0...10_000_000) { rate.maxConnections = value }
            if let value = try integer(["submission", "rate", "max_messages"], range: 0...10_000_000) { rate.maxMessages = value }
            if let value = try integer(["submission", "rate", "max_recipients"], range: 0...10_000_000) { rate.maxRecipients = value }
            submission.rateLimit = rate
        }
        if try enabled(["submission", "sender_rate"], keys: ["window", "max_messages", "max_recipients"]) || document.tables[["submission", "sender_rate"]] == nil {
            var volume = SenderVolumeLimit.Configuration()
            if let value = try seconds(["submission", "sender_rate", "window"], range: 60...(7 * 86_400)) { volume.window = value }
            if let value = try integer(["submission", "sender_rate", "max_messages"], range: 0...10_000_000) { volume.maxMessages = value }
            if let value = try integer(["submission", "sender_rate", "max_recipients"], range: 0...10_000_000) { volume.maxRecipients = value }
            submission.senderVolume = volume
        } else {
            submission.senderVolume = nil
        }
        if let domains = try strings(["submission", "local_domains"]) {
            submission.localDomains = Set(domains.map { $0.lowercased() })
        } else if let domains = try strings(["mx", "domains"]) {
            submission.localDomains = Set(domains.map { $0.lowercased() })
        }
        submission.badRecipientThrottle = try badRecipientThrottle(["submission", "bad_rcpt"], trustedNetworks: [])
        if try enabled(["submission", "rules"], keys: ["reject_header", "reject_body", "body_scan_limit"]) {
            var content = ContentRules.Configuration(header: try ruleList(["submission", "rules", "reject_header"]),
                                                     body: try ruleList(["submission", "rules", "reject_body"]))
            content.checksAuthenticatedUsers = true
            if let value = try integer(["submission", "rules", "body_scan_limit"], range: 0...(1 << 30)) { content.bodyScanLimit = value }
            submission.contentRules = content.isEmpty ? nil : content
        }
        if let path = try string(["submission", "client_ca_file"]) {
            guard FileManager.default.isReadableFile(atPath: path) else { throw fail(["submission", "client_ca_file"], "cannot read '\(path)'") }
            submission.clientCAFile = path
        }
        return submission
    }
}
