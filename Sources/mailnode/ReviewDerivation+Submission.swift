import Defenses
import Roles
import SMTPCore

/// The submission role's review items (stage B).
extension ReviewDerivation {
    static func submissionItem(_ entry: CatalogEntry, submission: SubmissionRoleConfiguration, node: NodeConfiguration) -> ReviewItem {
        func make(_ state: ReviewState, _ detail: String) -> ReviewItem { ReviewItem(id: entry.id, state: state, detail: detail) }
        if entry.status == .deployment { return make(.deployment, "outside mailnode: check by hand") }
        guard entry.roles.contains(.submission) else { return make(.notApplicable, "belongs to " + describe(entry.roles)) }
        switch entry.status {
        case .library: return make(.notAvailable, "in the library; no configuration key yet")
        case .notYet: return make(.notAvailable, "not implemented yet")
        case .engine, .native, .deployment: break
        }
        let listeners = (submission.listen.map { "\($0) (STARTTLS)" } + submission.listenTLS.map { "\($0) (TLS)" }).joined(separator: ", ")
        let auth = submission.authentication
        switch entry.id {
        case .submissionProtocol:
            return make(.enabled, "submission listeners " + listeners + "; TLS and AUTH before MAIL")
        case .internalExternalSplit:
            return make(.enabled, "users submit here, apart from the mx (run as its own role)")
        case .smtpAuth:
            return make(.enabled, "AUTH PLAIN/LOGIN over TLS only against \(submission.usersPath); lockout after "
                + "\(auth.maxFailuresPerUser) failures per user / \(auth.maxFailuresPerClient) per client in "
                + span(auth.window.components.seconds) + "; senders limited to the user's own addresses")
        case .smtpOverTLS:
            return make(.enabled, "TLS required before MAIL and AUTH on " + listeners)
        case .relayAccessLists:
            return make(.enabled, "relays only for authenticated users")
        case .maxMessageSize:
            return make(.enabled, "\(submission.limits.maxMessageSize) octets (SIZE advertised, 552 beyond)")
        case .maxRecipients:
            let hard = submission.limits.hardRecipientLimit
            return make(.enabled, "\(submission.limits.maxRecipients) per message (452 beyond)"
                + (hard > 0 ? "; hard limit \(hard) (552, the message refused)" : "; no hard limit"))
        case .clientConnectionLimit:
            guard let limit = submission.connectionLimit else { return make(.disabled, "submission.max_connections_per_client = 0") }
            return make(.enabled, "\(limit.maxPerClient) sessions per client address (421 4.7.0 beyond)")
        case .clientRateLimit:
            guard let rate = submission.rateLimit else { return make(.disabled, "no [submission.rate] table (or enabled = false)") }
            return make(.enabled, "per client and \(span(rate.window.components.seconds)): connections \(rate.maxConnections), "
                + "messages \(rate.maxMessages), recipients \(rate.maxRecipients); state: \(stateText(node))")
        case .senderVolumeLimit:
            guard let volume = submission.senderVolume else { return make(.disabled, "[submission.sender_rate] enabled = false") }
            return make(.enabled, "per user and \(span(volume.window.components.seconds)): messages \(volume.maxMessages), "
                + "recipients \(volume.maxRecipients) (451 beyond); state: \(stateText(node))")
        case .maxServerProcesses:
            return make(.enabled, "\(node.connectionCaps.maxConnections) connections on the node (421 4.3.2 beyond)")
        case .maxConnectionsPerProcess:
            let perLoop = node.connectionCaps.maxConnectionsPerEventLoop
            return perLoop == 0 ? make(.disabled, "node.max_connections_per_loop = 0")
                : make(.enabled, "\(perLoop) connections per event loop thread (421 4.3.2 beyond)")
        case .dataRateLimit:
            let floor = submission.limits.minDataRate
            return floor > 0 ? make(.enabled, "data phase at least \(floor) octets/s after \(submission.limits.dataRateGrace) s")
                : make(.disabled, "no data-rate floor")
        case .smugglingDefense:
            return submission.bareLineEndings == .accept ? make(.disabled, "bare_line_endings = accept")
                : make(.enabled, "bare CR/LF " + (submission.bareLineEndings == .reject ? "refused with 554 5.5.2" : "rewritten to CRLF"))
        case .regularExpressions:
            guard let rules = submission.contentRules else { return make(.disabled, "no [submission.rules] patterns") }
            return make(.enabled, "\(rules.header.count) header and \(rules.body.count) body patterns on the users' outgoing mail "
                + "(first \(rules.bodyScanLimit) body octets), 550 5.7.1 at the end of DATA")
        case .certificates:
            guard let caFile = submission.clientCAFile else {
                return make(.disabled, "no submission.client_ca_file: no client certificates, AUTH EXTERNAL not offered")
            }
            return make(.enabled, "client certificates from the CAs in \(caFile) log their user in with AUTH EXTERNAL")
        case .mtaRules:
            guard !submission.localDomains.isEmpty else { return make(.disabled, "submission.local_domains is empty (and no mx.domains)") }
            return make(.enabled, "recipients at " + submission.localDomains.sorted().joined(separator: ", ")
                + " must be users or aliases of \(submission.usersPath) (550 5.1.1 at RCPT)")
        case .badRecipientThrottle:
            guard let throttle = submission.badRecipientThrottle else { return make(.disabled, "no [submission.bad_rcpt] table (or enabled = false)") }
            return make(.enabled, "after \(throttle.free) refused recipients each is answered later (at most "
                + "\(throttle.maxDelay.components.seconds) s), 421 after \(throttle.disconnectAfter); state: \(stateText(node))")
        case .noDisclosure, .sessionLimits, .startTLSInjectionDefense, .roleEnforcedEgress:
            return make(.enabled, "as on every listener")
        default:
            return make(.notAvailable, "no configuration for it in this role yet")
        }
    }
}
