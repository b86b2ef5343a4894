import Defenses
import Roles
import SMTPCore

/// The outbound role's review items (stage F): only what the code does today (docs/outbound.md).
extension ReviewDerivation {
    static func outboundItem(_ entry: CatalogEntry, outbound: OutboundRoleConfiguration, node: NodeConfiguration) -> ReviewItem {
        if let item = preamble(entry, role: .outbound) { return item }
        func make(_ state: ReviewState, _ detail: String) -> ReviewItem { ReviewItem(id: entry.id, state: state, detail: detail) }
        switch entry.id {
        case .relayAccessLists:
            return make(.enabled, "hand-offs only from outbound.accept_from: " + outbound.acceptFrom.map(\.description).joined(separator: ", "))
        case .roleEnforcedEgress:
            let hops = Set((Array(node.routing.routes.values) + [node.routing.defaultHop].compactMap { $0 }).map(\.name)).sorted()
            let exchangers = node.routing.defaultHop == nil ? "the recipients' mail exchangers (port \(outbound.remotePort))" : "no MX look-ups (smarthost mode)"
            return make(.enabled, (hops.isEmpty ? "" : "configured hops " + hops.joined(separator: ", ") + "; ") + exchangers
                + "; the only role allowed to connect to looked-up hosts")
        case .domainKeys:
            guard let directory = outbound.dkimKeys else { return make(.disabled, "no outbound.dkim.keys: mail leaves unsigned") }
            var warnings: [String] = []
            do {
                let table = try DKIMSigningTable.load(directory: directory, warnings: &warnings)
                guard !table.isEmpty else { return make(.disabled, "outbound.dkim.keys \(directory) holds no DOMAIN/SELECTOR.pem key") }
                let keys = table.domains.map { domain in domain + " (" + (table.signers[domain] ?? []).map { "\($0.selector), \($0.key.algorithm)" }.joined(separator: "; ") + ")" }
                return make(.enabled, "signs mail from " + keys.joined(separator: ", ") + " and their subdomains"
                    + (warnings.isEmpty ? "" : "; WARNING: " + warnings.joined(separator: "; ")))
            } catch {
                return make(.disabled, "outbound.dkim.keys: \(error.description) (the stage will not start)")
            }
        case .authenticatedDeliveryTLS:
            let table = outbound.tlsPolicy.isEmpty ? "" : "; \(outbound.tlsPolicy.entries.count) [outbound.tls_policy] entries"
            let dane = outbound.dane ? "DANE on (needs a validating resolver on loopback)" : "outbound.dane = false"
            guard outbound.mtaSTS else {
                return make(outbound.tlsPolicy.isEmpty && !outbound.dane ? .disabled : .enabled, "outbound.mta_sts = false; \(dane)\(table)")
            }
            return make(.enabled, "MTA-STS policies honoured (cache \(node.spoolDirectory)/mta-sts-cache.json); \(dane)\(table)")
        default:
            return internalStageItem(entry, table: "outbound", trustedUpstreams: outbound.trustedUpstreams, node: node)
                ?? make(.notAvailable, "no configuration for it in this role yet")
        }
    }
}
