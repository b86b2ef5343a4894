import Defenses
import Foundation
import SMTPCore

/// DM19's recipient directory as configured (`[mx.recipients]`).
public struct RecipientDirectorySettings: Sendable, Hashable {
    /// Addresses that exist, and `@domain` catch-alls (`mx.recipients.addresses`).
    public var addresses: [AddressPattern] = []
    /// A list file with `recipient` lines, reloaded when it changes (`mx.recipients.file`).
    public var file: String?
    public var reloadInterval: Duration = .seconds(30)
    /// A user directory whose users' names and aliases exist (`mx.recipients.users`; in a
    /// process that also runs the store, that store's directory by default): `mailnode users
    /// add` takes effect at the next RCPT, with no list to copy.
    public var usersPath: String?
    /// The domains whose recipients are checked (`mx.recipients.domains`, default every `mx.domains`).
    public var domains: Set<String> = []

    public init() {}
}

/// The keys of the mx role's list-based defenses (docs/configuration.md): DM18 `[mx.blocklist]`,
/// DM21 `[mx.allowlist]`, DM23 `[mx.rules]`, DM26 `[mx.hashcash]`, DM27 `[mx.spam_traps]`, DM34 `[mx.sender_rate]`.
extension ConfigurationReader {
    mutating func patterns(_ path: [String], addressesOnly: Bool = false, domainsOnly: Bool = false) throws(ConfigurationError) -> [AddressPattern]? {
        guard let texts = try strings(path) else { return nil }
        var out: [AddressPattern] = []
        for text in texts {
            guard let pattern = AddressPattern(text) else { throw fail(path, "'\(text)' is not an address, domain or *.domain") }
            if domainsOnly, pattern.isAddress { throw fail(path, "'\(text)' is an address; a host name or *.domain is expected") }
            out.append(pattern)
        }
        return out
    }

    /// A list file must be readable when the node starts (later changes are reloaded).
    mutating func listFile(_ path: [String]) throws(ConfigurationError) -> String? {
        guard let file = try string(path) else { return nil }
        guard FileManager.default.isReadableFile(atPath: file) else { throw fail(path, "cannot read '\(file)'") }
        return file
    }

    /// Whether the optional table `table` is on: present and `enabled` not false. A disabled
    /// table's other keys are still marked as known.
    mutating func enabled(_ table: [String], keys: [String]) throws(ConfigurationError) -> Bool {
        guard document.tables[table] != nil else { return false }
        if try boolean(table + ["enabled"]) ?? true { return true }
        for key in keys where entry(table + [key]) != nil { used.insert(table + [key]) }
        return false
    }

    mutating func readListDefenses(into mx: inout MXRoleConfiguration) throws(ConfigurationError) {
        if let value = try integer(["mx", "max_recipients_hard"], range: 0...1_000_000) {
            mx.limits.hardRecipientLimit = value
            if value > 0, value < mx.limits.maxRecipients {
                throw fail(["mx", "max_recipients_hard"], "\(value) is below mx.max_recipients (\(mx.limits.maxRecipients)); the hard limit must not be the smaller")
            }
        }

        let blockKeys = ["clients", "senders", "helo", "file", "reload_interval", "dynamic"]
        if try enabled(["mx", "blocklist"], keys: blockKeys) {
            var block = LocalBlocklist.Configuration(trustedNetworks: mx.trustedUpstreams)
            block.entries.networks = try networks(["mx", "blocklist", "clients"]) ?? []
            block.entries.senders = try patterns(["mx", "blocklist", "senders"]) ?? []
            block.entries.heloNames = try patterns(["mx", "blocklist", "helo"], domainsOnly: true) ?? []
            block.file = try listFile(["mx", "blocklist", "file"])
            if let value = try seconds(["mx", "blocklist", "reload_interval"], range: 1...86_400) { block.reloadInterval = value }
            if let value = try boolean(["mx", "blocklist", "dynamic"]) { block.checkDynamic = value }
            mx.blocklist = block
        }

        let allowKeys = ["clients", "senders", "file", "reload_interval"]
        if try enabled(["mx", "allowlist"], keys: allowKeys) {
            var allow = AllowList.Configuration()
            allow.entries.networks = try networks(["mx", "allowlist", "clients"]) ?? []
            allow.entries.senders = try patterns(["mx", "allowlist", "senders"]) ?? []
            allow.file = try listFile(["mx", "allowlist", "file"])
            if let value = try seconds(["mx", "allowlist", "reload_interval"], range: 1...86_400) { allow.reloadInterval = value }
            // [mx.allowlist.recipients] "alice@example.org" = ["*@family.example"]
            var perRecipient: [String: [AddressPattern]] = [:]
            for entry in document.entries where entry.path.count == 4 && Array(entry.path.prefix(3)) == ["mx", "allowlist", "recipients"] {
                guard let recipient = AddressPattern(entry.path[3]), recipient.isAddress else {
                    throw fail(entry.path, "'\(entry.path[3])' is not a recipient address")
                }
                perRecipient[recipient.description] = try patterns(entry.path) ?? []
            }
            allow.perRecipient = perRecipient
            mx.allowlist = allow
        } else {
            for entry in document.entries where Array(entry.path.prefix(3)) == ["mx", "allowlist", "recipients"] { used.insert(entry.path) }
        }

        if try enabled(["mx", "rules"], keys: ["reject_helo", "reject_sender", "reject_recipient", "reject_header", "reject_body",
                                               "body_scan_limit"]) {
            func rules(_ key: String) throws(ConfigurationError) -> [EnvelopeRules.Rule] { try ruleList(["mx", "rules", key]) }
            mx.envelopeRules = EnvelopeRules.Configuration(helo: try rules("reject_helo"), sender: try rules("reject_sender"),
                                                           recipient: try rules("reject_recipient"), trustedNetworks: mx.trustedUpstreams)
            // The message stage (headers and bodies), only when there is something to match.
            var content = ContentRules.Configuration(header: try rules("reject_header"), body: try rules("reject_body"),
                                                     trustedNetworks: mx.trustedUpstreams)
            if let value = try integer(["mx", "rules", "body_scan_limit"], range: 0...(1 << 30)) { content.bodyScanLimit = value }
            mx.contentRules = content.isEmpty ? nil : content
        }

        if try enabled(["mx", "recipients"], keys: ["addresses", "file", "users", "reload_interval", "domains"]) {
            var directory = RecipientDirectorySettings()
            directory.addresses = try patterns(["mx", "recipients", "addresses"]) ?? []
            directory.file = try listFile(["mx", "recipients", "file"])
            directory.usersPath = try string(["mx", "recipients", "users"])
            if let value = try seconds(["mx", "recipients", "reload_interval"], range: 1...86_400) { directory.reloadInterval = value }
            if let domains = try strings(["mx", "recipients", "domains"]) {
                let local = Set(mx.localDomains.map { $0.lowercased() })
                for domain in domains where !local.contains(domain.lowercased()) {
                    throw fail(["mx", "recipients", "domains"], "'\(domain)' is not one of mx.domains")
                }
                directory.domains = Set(domains.map { $0.lowercased() })
            } else {
                directory.domains = Set(mx.localDomains.map { $0.lowercased() })
            }
            if directory.addresses.isEmpty && directory.file == nil && directory.usersPath == nil {
                throw ConfigurationError(file: file, line: document.tables[["mx", "recipients"]], key: "mx.recipients.addresses",
                                         message: "is required unless mx.recipients.file or mx.recipients.users is given (an empty directory would refuse everyone)")
            }
            mx.recipientDirectory = directory
        } else if document.tables[["mx", "recipients"]] != nil {
            mx.recipientDirectoryOff = true   // enabled = false: not even a store in the same process turns it on
        }

        if try enabled(["mx", "spam_traps"], keys: ["addresses", "block_for"]) {
            guard let addresses = try patterns(["mx", "spam_traps", "addresses"]), !addresses.isEmpty else {
                throw ConfigurationError(file: file, line: document.tables[["mx", "spam_traps"]], key: "mx.spam_traps.addresses",
                                         message: "is required (the trap addresses)")
            }
            var traps = SpamTrap.Configuration(addresses: addresses, trustedNetworks: mx.trustedUpstreams)
            if let value = try seconds(["mx", "spam_traps", "block_for"], range: 60...(365 * 86_400)) { traps.blockFor = value }
            mx.spamTraps = traps
        }

        if try enabled(["mx", "hashcash"], keys: ["bits", "max_age", "action"]) {
            var postage = HashcashPostage.Configuration(trustedNetworks: mx.trustedUpstreams)
            if let value = try integer(["mx", "hashcash", "bits"], range: 1...40) { postage.requiredBits = value }
            if let value = try seconds(["mx", "hashcash", "max_age"], range: 3600...(365 * 86_400)) { postage.maxAge = value }
            if let text = try string(["mx", "hashcash", "action"]) {
                guard let action = HashcashPostage.Configuration.Action(rawValue: text) else {
                    throw fail(["mx", "hashcash", "action"], "must be tag or require, got '\(text)'")
                }
                postage.action = action
            }
            mx.hashcash = postage
        }

        if try enabled(["mx", "sender_rate"], keys: ["window", "max_messages", "max_recipients"]) {
            var volume = SenderVolumeLimit.Configuration(trustedNetworks: mx.trustedUpstreams)
            if let value = try seconds(["mx", "sender_rate", "window"], range: 60...(7 * 86_400)) { volume.window = value }
            if let value = try integer(["mx", "sender_rate", "max_messages"], range: 0...10_000_000) { volume.maxMessages = value }
            if let value = try integer(["mx", "sender_rate", "max_recipients"], range: 0...10_000_000) { volume.maxRecipients = value }
            mx.senderVolume = volume
        }
    }

    /// A list of regular expressions (DM23 rules); each must compile.
    mutating func ruleList(_ path: [String]) throws(ConfigurationError) -> [EnvelopeRules.Rule] {
        var out: [EnvelopeRules.Rule] = []
        for pattern in try strings(path) ?? [] {
            guard let rule = EnvelopeRules.Rule(pattern) else { throw fail(path, "'\(pattern)' is not a valid regular expression") }
            out.append(rule)
        }
        return out
    }
}
