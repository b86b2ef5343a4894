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
