import Defenses
import SMTPCore

/// The `[outbound]` table (docs/configuration.md, docs/outbound.md).
extension ConfigurationReader {
    mutating func readOutbound() throws(ConfigurationError) -> OutboundRoleConfiguration {
        let table = ["outbound"]
        var outbound = OutboundRoleConfiguration()
        if let listen = try listenOneOrMany(table + ["listen"]) {
            guard !listen.isEmpty else { throw fail(table + ["listen"], "needs at least one address") }
            outbound.listen = listen
        }
        if let text = try string(table + ["protocol"]) {
            guard let value = SessionProtocol(rawValue: text) else { throw fail(table + ["protocol"], "must be smtp or lmtp, got '\(text)'") }
            outbound.sessionProtocol = value
        }
        if let networks = try networks(table + ["accept_from"]) {
            // The stage relays to any domain: an empty list is a mistake, never "everyone".
            guard !networks.isEmpty else { throw fail(table + ["accept_from"], "is empty: no stage could hand mail to this one") }
            outbound.acceptFrom = networks
        }
        if let networks = try networks(table + ["trusted_upstreams"]) { outbound.trustedUpstreams = networks }
        if let value = try integer(table + ["port"], range: 1...65535) { outbound.remotePort = value }
        if let text = try string(table + ["hostname"]) {
            guard !text.isEmpty, !text.contains(" ") else { throw fail(table + ["hostname"], "'\(text)' is not a host name") }
            outbound.hostname = text
        }
        if let text = try string(table + ["tls"]) {
            guard let value = NextHop.HopTLS(rawValue: text) else {
                throw fail(table + ["tls"], "must be opportunistic, required, verify or none, got '\(text)'")
            }
            outbound.tls = value
        }
        // [outbound.tls_policy] "example.org" = "verify", ".example.net" = "encrypt"
        var policy: [String: TLSPolicyTable.Level] = [:]
        for entry in document.entries where entry.path.count == 3 && Array(entry.path.prefix(2)) == table + ["tls_policy"] {
            let domain = entry.path[2]
            guard let text = try string(entry.path) else { continue }
            guard let level = TLSPolicyTable.level(named: text) else {
                throw fail(entry.path, "must be none, may, encrypt, verify, dane or dane-only, got '\(text)'")
            }
            let bare = domain.hasPrefix(".") ? String(domain.dropFirst()) : domain
            guard !bare.isEmpty, !bare.contains(" "), !bare.contains("@"), bare != "*" else {
                throw fail(entry.path, "'\(domain)' is not a domain (use \".example.org\" for its subdomains)")
            }
            policy[domain] = level
        }
        outbound.tlsPolicy = TLSPolicyTable(policy)
        if let value = try boolean(table + ["mta_sts"]) { outbound.mtaSTS = value }
        if let value = try boolean(table + ["dane"]) { outbound.dane = value }
        if let value = try boolean(table + ["tls_required_header"]) { outbound.tlsRequiredHeader = value }
        if let value = try string(table + ["tls_reports"]) { outbound.tlsReports = value }
        if let value = try boolean(table + ["tls_no_downgrade"]) { outbound.tlsNoDowngrade = value }
        if let value = try integer(table + ["max_connections_per_host"], range: 1...1000) { outbound.maxConnectionsPerHost = value }
        if let text = try string(table + ["address_order"]) {
            guard let value = MXDestinationResolver.AddressOrder(rawValue: text) else {
                let names = MXDestinationResolver.AddressOrder.allCases.map(\.rawValue).joined(separator: ", ")
                throw fail(table + ["address_order"], "must be one of \(names), got '\(text)'")
            }
            outbound.addressOrder = value
        }
        if let value = try integer(table + ["max_message_size"], range: 1024...(1 << 32)) { outbound.maxMessageSize = value }
        if let text = try string(table + ["dkim", "keys"]) {
            guard !text.isEmpty else { throw fail(table + ["dkim", "keys"], "needs a directory") }
            outbound.dkimKeys = text
        } else if document.tables[table + ["dkim"]] != nil {
            throw fail(table + ["dkim", "keys"], "is required in [outbound.dkim] (a directory of DOMAIN/SELECTOR.pem keys)")
        }
        return outbound
    }
}
