import Defenses
import SMTPCore

/// The mx role's DNS-based defenses, as read from `[mx.dnsbl]` (DM20) and `[mx.sender_checks]` (DM19).
public struct DNSDefenseSettings: Sendable {
    /// DM20: the lists and how their answers combine; nil when `[mx.dnsbl]` is off.
    public var dnsLists: DNSListConfiguration?
    /// DM20: where and how a verdict acts.
    public var dnsListPolicy = DNSListPolicy()
    /// DM19: which sender checks run and what their verdicts do; nil when `[mx.sender_checks]` is off.
    public var senderChecks: SenderCheckPolicy?
    /// DM30: what SPF results do at MAIL FROM; nil when `[mx.spf]` is off.
    public var spf: SPFDefense.Configuration?
    /// DM31, MN10, MN04: the message stage's DKIM, ARC and DMARC checks and their
    /// Authentication-Results field; nil when `[mx.authentication]` is off. An empty
    /// `authservID` means the node's hostname.
    public var authentication: MessageAuthentication.Configuration?
    /// MN04: where the message stage keeps DMARC aggregate-report records.
    public var dmarcRecords = DMARCRecordSettings()

    public init() {}
}

/// `[mx.authentication] dmarc_records`, `dmarc_record_days`: the aggregate-report data
/// (RFC 7489 §7.2) kept by ``DMARCReportFileStore`` for `mailnode dmarc report`.
public struct DMARCRecordSettings: Sendable, Hashable {
    /// The directory of the day files; `nil` means `<spool>/dmarc`, `""` keeps no records.
    public var directory: String?
    /// Days of records kept when no report removes them.
    public var retentionDays = 31

    public init(directory: String? = nil, retentionDays: Int = 31) {
        self.directory = directory
        self.retentionDays = retentionDays
    }

    /// The directory records go to for a node spooling in `spool`; `nil` when off.
    public func path(spool: String) -> String? {
        guard let directory else { return spool + "/dmarc" }
        return directory.isEmpty ? nil : directory
    }
}

/// `[dns]`, `[mx.dnsbl]` (with `[mx.dnsbl.zones."NAME"]`) and `[mx.sender_checks]` (docs/configuration.md).
extension ConfigurationReader {
    /// `[dns] servers = ["127.0.0.1:53"]`, `timeout`, `attempts`; nil when there is no `[dns]` table
    /// (the system's /etc/resolv.conf is used).
    mutating func readDNS() throws(ConfigurationError) -> DNSResolverConfiguration? {
        guard document.tables[["dns"]] != nil else { return nil }
        var configuration = DNSResolverConfiguration.system()
        if let servers = try strings(["dns", "servers"]) {
            var addresses: [DNSServerAddress] = []
            for text in servers {
                guard let address = DNSServerAddress(text) else { throw fail(["dns", "servers"], "'\(text)' is not an address or address:port") }
                addresses.append(address)
            }
            guard !addresses.isEmpty else { throw fail(["dns", "servers"], "is empty (leave it out to use /etc/resolv.conf)") }
            configuration.nameservers = addresses
        }
        if let value = try seconds(["dns", "timeout"], range: 1...30) { configuration.timeout = value }
        if let value = try integer(["dns", "attempts"], range: 1...5) { configuration.attempts = value }
        return configuration
    }

    mutating func readDNSDefenses(into mx: inout MXRoleConfiguration) throws(ConfigurationError) {
        let listKeys = ["zones", "threshold", "stage", "on_unknown", "name_zones", "time_limit"]
        if try enabled(["mx", "dnsbl"], keys: listKeys) {
            var zones: [DNSListZone] = []
            for name in try strings(["mx", "dnsbl", "zones"]) ?? [] {
                zones.append(DNSListZone(name))
            }
            // [mx.dnsbl.zones."bl.example"] kind, subjects, weight, codes, ipv6, health_check
            for (table, _) in document.tables.sorted(by: { $0.value < $1.value })
            where table.count == 4 && Array(table.prefix(3)) == ["mx", "dnsbl", "zones"] {
                zones.append(try readZone(table))
            }
            var seen: Set<String> = []
            for zone in zones where !seen.insert(zone.name).inserted {
                throw fail(["mx", "dnsbl", "zones"], "zone '\(zone.name)' is named twice")
            }
            guard !zones.isEmpty else {
                throw ConfigurationError(file: file, line: document.tables[["mx", "dnsbl"]], key: "mx.dnsbl.zones",
                                         message: "is required (zones = [\"bl.example\"] or [mx.dnsbl.zones.\"bl.example\"] tables)")
            }
            var lists = DNSListConfiguration(zones: zones)
            if let value = try integer(["mx", "dnsbl", "threshold"], range: 1...1000) { lists.threshold = Double(value) }
            if let value = try seconds(["mx", "dnsbl", "time_limit"], range: 1...60) { lists.timeLimit = value }
            var policy = DNSListPolicy(trustedNetworks: mx.trustedUpstreams)
            if let text = try string(["mx", "dnsbl", "stage"]) {
                switch text {
                case "connect": policy.stage = .connect
                case "mail": policy.stage = .mailFrom
                case "rcpt": policy.stage = .rcptTo
                default: throw fail(["mx", "dnsbl", "stage"], "must be connect, mail or rcpt, got '\(text)'")
                }
            }
            if let text = try string(["mx", "dnsbl", "on_unknown"]) {
                guard text == "ignore" || text == "tempfail" else {
                    throw fail(["mx", "dnsbl", "on_unknown"], "must be ignore or tempfail, got '\(text)'")
                }
                policy.onUnknown = text == "ignore" ? .ignore : .tempfail
            }
            if let value = try boolean(["mx", "dnsbl", "name_zones"]) { policy.nameZonesInReply = value }
            mx.dnsDefenses.dnsLists = lists
            mx.dnsDefenses.dnsListPolicy = policy
        } else {
            for (table, _) in document.tables where table.count == 4 && Array(table.prefix(3)) == ["mx", "dnsbl", "zones"] {
                for entry in document.entries where Array(entry.path.prefix(4)) == table { used.insert(entry.path) }
            }
        }

        if try enabled(["mx", "spf"], keys: ["on_fail", "on_softfail", "on_temperror", "on_permerror"]) {
            var spf = SPFDefense.Configuration(trustedNetworks: mx.trustedUpstreams)
            if let value = try defenseAction(["mx", "spf", "on_fail"]) { spf.onFail = value }
            if let value = try defenseAction(["mx", "spf", "on_softfail"]) { spf.onSoftfail = value }
            if let value = try defenseAction(["mx", "spf", "on_temperror"], dnsFailure: true) { spf.onTemperror = value }
            if let value = try defenseAction(["mx", "spf", "on_permerror"]) { spf.onPermerror = value }
            mx.dnsDefenses.spf = spf
        }

        let authenticationKeys = ["authserv_id", "dkim", "arc", "dmarc", "on_reject", "on_quarantine", "on_temperror",
                                  "trusted_arc_sealers", "max_arc_body", "received_spf", "dmarc_records", "dmarc_record_days"]
        if try enabled(["mx", "authentication"], keys: authenticationKeys) {
            let table = ["mx", "authentication"]
            var authentication = MessageAuthentication.Configuration(authservID: "", trustedNetworks: mx.trustedUpstreams)
            if let text = try string(table + ["authserv_id"]) {
                guard !text.isEmpty, !text.contains(where: { $0 == " " || $0 == ";" || $0 == "\t" }) else {
                    throw fail(table + ["authserv_id"], "must be a host name without spaces or ';', got '\(text)'")
                }
                authentication.authservID = text
            }
            if let value = try boolean(table + ["dkim"]) { authentication.verifyDKIM = value }
            if let value = try boolean(table + ["arc"]) { authentication.verifyARC = value }
            if let value = try boolean(table + ["dmarc"]) { authentication.evaluateDMARC = value }
            if let value = try defenseAction(table + ["on_reject"]) { authentication.onReject = value }
            if let value = try defenseAction(table + ["on_quarantine"]) { authentication.onQuarantine = value }
            if let value = try defenseAction(table + ["on_temperror"], dnsFailure: true) { authentication.onTemperror = value }
            if let sealers = try strings(table + ["trusted_arc_sealers"]) {
                for sealer in sealers where sealer.isEmpty || sealer.contains(" ") || sealer.hasPrefix(".") {
                    throw fail(table + ["trusted_arc_sealers"], "'\(sealer)' is not a domain")
                }
                authentication.trustedARCSealers = Set(sealers.map { $0.lowercased() })
            }
            if let value = try integer(table + ["max_arc_body"], range: 0...(1 << 30)) { authentication.maxARCBody = value }
            if let value = try boolean(table + ["received_spf"]) { authentication.receivedSPF = value }
            if let value = try string(table + ["dmarc_records"]) { mx.dnsDefenses.dmarcRecords.directory = value }
            if let value = try integer(table + ["dmarc_record_days"], range: 1...366) { mx.dnsDefenses.dmarcRecords.retentionDays = value }
            mx.dnsDefenses.authentication = authentication
        }

        if try enabled(["mx", "sender_checks"], keys: ["helo", "sender_domain", "iprev"]) {
            var policy = SenderCheckPolicy(trustedNetworks: mx.trustedUpstreams)
            if let value = try boolean(["mx", "sender_checks", "helo"]) { policy.checkHELO = value }
            if let value = try boolean(["mx", "sender_checks", "sender_domain"]) { policy.checkSenderDomain = value }
            if let value = try boolean(["mx", "sender_checks", "iprev"]) { policy.checkIPRev = value }
            mx.dnsDefenses.senderChecks = policy
        }
    }

    /// A ``DefenseAction`` key (`reject`, `tempfail`, `tag`, `ignore`); for what a DNS failure
    /// does (`dnsFailure`), `reject` is refused: a broken resolver must never bounce mail.
    mutating func defenseAction(_ path: [String], dnsFailure: Bool = false) throws(ConfigurationError) -> DefenseAction? {
        guard let text = try string(path) else { return nil }
        guard let action = DefenseAction(rawValue: text) else {
            throw fail(path, "must be reject, tempfail, tag or ignore, got '\(text)'")
        }
        if dnsFailure, action == .reject { throw fail(path, "a DNS failure never refuses for good: tempfail, tag or ignore") }
        return action
    }

    mutating func readZone(_ table: [String]) throws(ConfigurationError) -> DNSListZone {
        let name = table[3]
        guard !name.isEmpty, !name.contains(" "), !name.hasPrefix(".") else {
            throw ConfigurationError(file: file, line: document.tables[table], key: table.joined(separator: "."), message: "'\(name)' is not a zone name")
        }
        var zone = DNSListZone(name)
        if let kind = try string(table + ["kind"]) {
            guard let value = DNSListZone.Kind(rawValue: kind) else { throw fail(table + ["kind"], "must be block or allow, got '\(kind)'") }
            zone.kind = value
        }
        if let subjects = try strings(table + ["subjects"]) {
            var set: Set<DNSListSubject> = []
            for subject in subjects {
                switch subject {
                case "client": set.insert(.clientIP)
                case "helo": set.insert(.heloName)
                case "sender": set.insert(.mailFromDomain)
                default: throw fail(table + ["subjects"], "'\(subject)' is not client, helo or sender")
                }
            }
            guard !set.isEmpty else { throw fail(table + ["subjects"], "is empty") }
            zone.subjects = set
        }
        if let weight = try integer(table + ["weight"], range: 0...1000) { zone.weight = Double(weight) }
        if let codes = try strings(table + ["codes"]) {
            var rules: [DNSListCodeRule] = []
            for code in codes {
                guard let rule = DNSListCodeRule(code) else { throw fail(table + ["codes"], "'\(code)' is not a 127.x.y.z address or network") }
                rules.append(rule)
            }
            zone.codes = rules
        }
        if let value = try boolean(table + ["ipv6"]) { zone.ipv6 = value }
        if let value = try boolean(table + ["health_check"]) { zone.healthCheck = value }
        return zone
    }
}
