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
        case .handOffDeduplication:
            return outbound.trustedUpstreams.isEmpty
                ? make(.disabled, "no outbound.trusted_upstreams: retried hand-offs are stored again")
                : make(.enabled, "from " + outbound.trustedUpstreams.map(\.description).joined(separator: ", ")
                    + ", remembered " + span(node.dedup.retention.components.seconds))
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
        case .maxServerProcesses:
            return make(.enabled, "\(node.connectionCaps.maxConnections) connections on the node (421 4.3.2 beyond, before any hook)")
        case .maxConnectionsPerProcess:
            let perLoop = node.connectionCaps.maxConnectionsPerEventLoop
            return perLoop == 0 ? make(.disabled, "node.max_connections_per_loop = 0")
                : make(.enabled, "\(perLoop) connections per event loop thread (421 4.3.2 beyond)")
        default:
            return make(.notAvailable, "no configuration for it in this role yet")
        }
    }
}
