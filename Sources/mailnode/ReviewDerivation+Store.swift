import Defenses
import Roles
import SMTPCore

/// The store role's review items (stage G).
extension ReviewDerivation {
    static func storeItem(_ entry: CatalogEntry, store: StoreRoleConfiguration, node: NodeConfiguration) -> ReviewItem {
        if let item = preamble(entry, role: .store) { return item }
        func make(_ state: ReviewState, _ detail: String) -> ReviewItem { ReviewItem(id: entry.id, state: state, detail: detail) }
        switch entry.id {
        case .mailboxQuota:
            let quota = store.quota
            guard !quota.isUnlimited else { return make(.disabled, "store.quota_bytes = 0 and store.quota_messages = 0 (unlimited)") }
            let limits = [quota.bytes > 0 ? "\(quota.bytes) octets" : nil, quota.messages > 0 ? "\(quota.messages) messages" : nil]
            return make(.enabled, limits.compactMap { $0 }.joined(separator: " and ") + " per user (452 4.2.2 at RCPT and end of data); "
                + "warning at \(quota.warningPercent) %")
        case .tlsForMailAccess:
            let pop3 = store.pop3Listen.map { "\($0) (STLS)" } + store.pop3sListen.map { "\($0) (TLS)" }
            let imap = store.imapListen.map { "\($0) (STARTTLS)" } + store.imapsListen.map { "\($0) (TLS)" }
            guard !pop3.isEmpty || !imap.isEmpty else {
                return make(.disabled, "no POP3 or IMAP listeners (store.pop3_listen, pop3s_listen, imap_listen, imaps_listen empty)")
            }
            let served = [pop3.isEmpty ? nil : "POP3 " + pop3.joined(separator: ", "), imap.isEmpty ? nil : "IMAP " + imap.joined(separator: ", ")]
            return make(.enabled, served.compactMap { $0 }.joined(separator: "; ") + "; no credentials before TLS")
        case .mtaRules:
            return make(.enabled, "unknown recipients 550 5.1.1 at RCPT (users and aliases of \(store.usersPath)); always on")
        case .roleEnforcedEgress:
            return make(.enabled, "delivers into its own mailboxes; forwards nothing")
        default:
            return internalStageItem(entry, table: "store", trustedUpstreams: store.trustedUpstreams, node: node)
                ?? make(.notAvailable, "no configuration for it in this role yet")
        }
    }
}
