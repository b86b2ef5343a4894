import Defenses
import Roles
import SMTPCore

/// Derives a ``NodeReview`` from a configuration's values — never from intentions: a
/// mechanism is `enabled` only when the code the node runs for that value does it.
enum ReviewDerivation {
    /// Reviews each role as the process would run it: with `chained` (`--role all`, `mailnode
    /// up`) a file with several role tables runs them as ``NodeConfiguration/stages()`` plans
    /// them — the mx refusing unknown users against the store's directory, the stages trusting
    /// their hops — so each role is reviewed in its stage's configuration.
    static func review(_ file: NodeConfiguration, source: String, chained: Bool = true) -> NodeReview {
        let roles = MailnodeRole.allCases.map { role -> RoleReview in
            let built = MailNode.availableRoles.contains(role.rawValue)
            let configuration = chained ? (file.stage(role.rawValue)?.configuration ?? file) : file
            if role == .submission, let submission = configuration.submission {
                let items = DefenseCatalog.all.map { submissionItem($0, submission: submission, node: configuration) }
                return RoleReview(role: role, configured: true, built: built, items: items)
            }
            if role == .mx, let mx = configuration.mx {
                let items = DefenseCatalog.all.map { entry in item(entry, role: role, mx: mx, node: configuration) }
                return RoleReview(role: role, configured: true, built: built, items: items)
            }
            if role == .antivirus, let antivirus = configuration.antivirus {
                let items = DefenseCatalog.all.map { entry in item(entry, role: role, antivirus: antivirus, node: configuration) }
                return RoleReview(role: role, configured: true, built: built, items: items)
            }
            if role == .store, let store = configuration.store {
                return RoleReview(role: role, configured: true, built: built, items: DefenseCatalog.all.map { storeItem($0, store: store, node: configuration) })
            }
            if role == .outbound, let outbound = configuration.outbound {
                return RoleReview(role: role, configured: true, built: built,
                                  items: DefenseCatalog.all.map { outboundItem($0, outbound: outbound, node: configuration) })
            }
            return RoleReview(role: role, configured: false, built: built, items: [])
        }
        var review = NodeReview(source: source, hostname: file.hostname, roles: roles, faults: [])
        let here = DefenseCatalog.coverage(of: review.enabledIDs)
        let everything = DefenseCatalog.coverage(of: DefenseCatalog.configurableIDs)
        review.faults = Fault.allCases.enumerated().map { index, fault in
            FaultReview(fault: fault, thisConfiguration: here[index], allAvailable: everything[index],
                        paper2006: PaperFaultTable.row(fault).ea2006)
        }
        return review
    }

    /// The state of `entry` in `role`; the mx role's values decide for the native entries.
    /// What every role says alike: deployment, not this role's, not built; nil when the role's
    /// values decide.
    static func preamble(_ entry: CatalogEntry, role: MailnodeRole) -> ReviewItem? {
        func make(_ state: ReviewState, _ detail: String) -> ReviewItem { ReviewItem(id: entry.id, state: state, detail: detail) }
        if entry.status == .deployment { return make(.deployment, "outside mailnode: check by hand") }
        guard entry.roles.contains(role) else { return make(.notApplicable, "belongs to " + describe(entry.roles)) }
        switch entry.status {
        case .library: return make(.notAvailable, "in the library; no configuration key yet")
        case .notYet: return make(.notAvailable, "not implemented yet")
        case .engine, .native, .deployment: return nil
        }
    }

    /// The items every internal stage (antivirus, outbound, store) reports alike: hand-off
    /// deduplication from its `trusted_upstreams` (`table` names the key) and the node's
    /// connection caps; nil for every other entry.
    static func internalStageItem(_ entry: CatalogEntry, table: String, trustedUpstreams: [IPNetwork],
                                  node: NodeConfiguration) -> ReviewItem? {
        func make(_ state: ReviewState, _ detail: String) -> ReviewItem { ReviewItem(id: entry.id, state: state, detail: detail) }
        switch entry.id {
        case .handOffDeduplication:
            return trustedUpstreams.isEmpty
                ? make(.disabled, "no \(table).trusted_upstreams: retried hand-offs are stored again")
                : make(.enabled, "from " + trustedUpstreams.map(\.description).joined(separator: ", ")
                    + ", remembered " + span(node.dedup.retention.components.seconds))
        case .maxServerProcesses:
            return make(.enabled, "\(node.connectionCaps.maxConnections) connections on the node (421 4.3.2 beyond, before any hook)")
        case .maxConnectionsPerProcess:
            let perLoop = node.connectionCaps.maxConnectionsPerEventLoop
            return perLoop == 0 ? make(.disabled, "node.max_connections_per_loop = 0")
                : make(.enabled, "\(perLoop) connections per event loop thread (421 4.3.2 beyond)")
        default:
            return nil
        }
    }

    /// The state of `entry` in the antivirus role: DM28 from `[antivirus]`, and the node-wide
    /// mechanisms this role's listeners run too.
    static func item(_ entry: CatalogEntry, role: MailnodeRole, antivirus av: AntivirusRoleConfiguration,
                     node: NodeConfiguration) -> ReviewItem {
        if let item = preamble(entry, role: role) { return item }
        func make(_ state: ReviewState, _ detail: String) -> ReviewItem { ReviewItem(id: entry.id, state: state, detail: detail) }
        switch entry.id {
        case .antivirus:
            let failure = av.failurePolicy == .tempfail ? "451 when no clamd answers" : "PASSED UNSCANNED when no clamd answers (pass-with-header)"
            let action = av.action == .reject ? "554 5.7.0 at end of DATA" : "250 and quarantined for " + span(av.quarantineRetention.components.seconds)
            return make(.enabled, "clamd " + av.clamd.map(\.description).joined(separator: ", ") + "; " + action + "; "
                + "\(av.attachments.blockedExtensions.count) blocked extensions; " + failure)
        case .roleEnforcedEgress:
            let hops = Set((Array(node.routing.routes.values) + [node.routing.defaultHop].compactMap { $0 }).map(\.name)).sorted()
            return make(.enabled, hops.isEmpty ? "no hops: scanned mail stays in the spool"
                : "forwards only to configured hops: " + hops.joined(separator: ", "))
        case .noDisclosure:
            return make(.enabled, "always on (generic 554 5.7.0 text; the signature only in the log)")
        default:
            return internalStageItem(entry, table: "antivirus", trustedUpstreams: av.trustedUpstreams, node: node)
                ?? make(.notAvailable, "no configuration for it in this role yet")
        }
    }

    static func authservID(_ auth: MessageAuthentication.Configuration, _ node: NodeConfiguration) -> String {
        "authserv-id " + (auth.authservID.isEmpty ? node.hostname : auth.authservID)
    }

    static func item(_ entry: CatalogEntry, role: MailnodeRole, mx: MXRoleConfiguration, node: NodeConfiguration) -> ReviewItem {
        if let item = preamble(entry, role: role) { return item }
        func make(_ state: ReviewState, _ detail: String) -> ReviewItem { ReviewItem(id: entry.id, state: state, detail: detail) }
        let tls = node.tlsCertificatePath != nil && node.tlsKeyPath != nil
        switch entry.id {
        case .relayAccessLists:
            return make(.enabled, "relays only for mx.domains: " + mx.localDomains.sorted().joined(separator: ", "))
        case .maxMessageSize:
            return make(.enabled, "\(mx.limits.maxMessageSize) octets (SIZE advertised, 552 beyond)")
        case .maxRecipients:
            let hard = mx.limits.hardRecipientLimit
            return make(.enabled, "\(mx.limits.maxRecipients) per message (452 beyond)"
                + (hard > 0 ? "; hard limit \(hard) (552, the message refused)" : "; no hard limit"))
        case .smtpOverTLS:
            let towardsHops = hopTLS(node)
            return tls ? make(.enabled, "STARTTLS offered on \(listeners(mx))" + towardsHops)
                : make(.disabled, "no tls.certificate and tls.key: STARTTLS not offered" + towardsHops)
        case .startTLSInjectionDefense:
            return tls ? make(.enabled, "plaintext pipelined behind STARTTLS is dropped")
                : make(.disabled, "no STARTTLS offered (no tls.certificate)")
        case .smugglingDefense:
            switch mx.bareLineEndings {
            case .reject: return make(.enabled, "bare CR/LF refused with 554 5.5.2")
            case .normalize: return make(.enabled, "bare CR/LF rewritten to CRLF")
            case .accept: return make(.disabled, "bare_line_endings = accept: passed on unchanged (only CRLF.CRLF ends DATA)")
            }
        case .proxyProtocol:
            return mx.proxyProtocolTrusted.isEmpty ? make(.disabled, "mx.proxy_protocol_trusted is empty")
                : make(.enabled, "PROXY header accepted from " + mx.proxyProtocolTrusted.map(\.description).joined(separator: ", "))
        case .roleEnforcedEgress:
            let hops = Set((Array(node.routing.routes.values) + [node.routing.defaultHop].compactMap { $0 }).map(\.name)).sorted()
            return make(.enabled, hops.isEmpty ? "no hops: accepted mail stays in the spool"
                : "forwards only to configured hops: " + hops.joined(separator: ", "))
        case .handOffDeduplication:
            return mx.trustedUpstreams.isEmpty
                ? make(.disabled, "no mx.trusted_upstreams (right for a stage facing the Internet)")
                : make(.enabled, "from " + mx.trustedUpstreams.map(\.description).joined(separator: ", ")
                    + ", remembered " + span(node.dedup.retention.components.seconds))
        case .sessionLimits:
            let limits = mx.limits
            return make(.enabled, "idle \(limits.commandTimeout) s (data \(limits.dataTimeout) s), session "
                + "\(limits.maxSessionDuration) s, 421 after \(limits.maxErrorsPerSession) errors")
        case .noDisclosure:
            return make(.enabled, "always on")
        case .maxServerProcesses:
            // node.max_connections is at least 1: the node-wide cap is always on.
            return make(.enabled, "\(node.connectionCaps.maxConnections) connections on the node "
                + "(421 4.3.2 beyond, before any hook)")
        case .maxConnectionsPerProcess:
            let perLoop = node.connectionCaps.maxConnectionsPerEventLoop
            return perLoop == 0 ? make(.disabled, "node.max_connections_per_loop = 0")
                : make(.enabled, "\(perLoop) connections per event loop thread (421 4.3.2 beyond)")
        case .dataRateLimit:
            let limits = mx.limits
            let cap = limits.maxDataRate == 0 ? "no per-flow cap (mx.max_data_rate = 0)"
                : "at most \(limits.maxDataRate) octets/s per connection"
            guard limits.minDataRate > 0 else {
                return limits.maxDataRate == 0 ? make(.disabled, "mx.min_data_rate = 0 and mx.max_data_rate = 0")
                    : make(.enabled, "no floor (mx.min_data_rate = 0); " + cap)
            }
            return make(.enabled, "data phase at least \(limits.minDataRate) octets/s after \(limits.dataRateGrace) s "
                + "(421 4.4.2 below); " + cap)
        case .clientConnectionLimit:
            guard let limit = mx.connectionLimit else { return make(.disabled, "mx.max_connections_per_client = 0") }
            return make(.enabled, "\(limit.maxPerClient) sessions per client address (421 4.7.0 beyond)")
        case .clientRateLimit:
            guard let rate = mx.rateLimit else { return make(.disabled, "no [mx.rate] table (or enabled = false)") }
            func limit(_ value: Int) -> String { value == 0 ? "unlimited" : "\(value)" }
            return make(.enabled, "per client and \(span(rate.window.components.seconds)): connections "
                + "\(limit(rate.maxConnections)), messages \(limit(rate.maxMessages)), recipients "
                + "\(limit(rate.maxRecipients)); state: \(stateText(node))")
        case .badRecipientThrottle:
            guard let throttle = mx.badRecipientThrottle else { return make(.disabled, "no [mx.bad_rcpt] table (or enabled = false)") }
            return make(.enabled, "\(throttle.free) refused recipients free, then +\(throttle.delayStep.components.seconds) s each "
                + "(at most \(throttle.maxDelay.components.seconds) s), 421 after \(throttle.disconnectAfter); state: \(stateText(node))")
        case .greetPause:
            guard let pause = mx.greetPause else { return make(.disabled, "no [mx.greet_pause] table (or enabled = false)") }
            return make(.enabled, "greeting after \(pause.pause.components.seconds) s, early talkers 554 and refused for "
                + span(pause.rememberTalker.components.seconds) + "; state: \(stateText(node))")
        case .greylisting:
            guard let greylist = mx.greylisting else { return make(.disabled, "no [mx.greylist] table (or enabled = false)") }
            return make(.enabled, "delay \(span(greylist.delay.components.seconds)), SPF pass "
                + (greylist.exemptSPFPass ? "exempt" : "not exempt") + "; state: \(stateText(node))")
        case .internalExternalSplit:
            return node.submission == nil
                ? make(.disabled, "no [submission] table: the users have no entry of their own")
                : make(.enabled, "users submit at the submission role, run apart from this mx")
        case .senderPolicyFramework:
            guard let spf = mx.dnsDefenses.spf else { return make(.disabled, "no [mx.spf] table (or enabled = false)") }
            return make(.enabled, "at MAIL FROM: fail \(spf.onFail), softfail \(spf.onSoftfail), temperror \(spf.onTemperror), "
                + "permerror \(spf.onPermerror); DNS: \(dnsText(node))")
        case .domainKeys:
            guard let auth = mx.dnsDefenses.authentication else { return make(.disabled, "no [mx.authentication] table (or enabled = false)") }
            return auth.verifyDKIM
                ? make(.enabled, "every signature verified in the message stage; results in Authentication-Results (\(authservID(auth, node)))")
                : make(.disabled, "mx.authentication.dkim = false")
        case .dmarc:
            guard let auth = mx.dnsDefenses.authentication else { return make(.disabled, "no [mx.authentication] table (or enabled = false)") }
            guard auth.evaluateDMARC else { return make(.disabled, "mx.authentication.dmarc = false") }
            let sealers = auth.trustedARCSealers.isEmpty ? "" : "; trusted ARC sealers: " + auth.trustedARCSealers.sorted().joined(separator: ", ")
            let records = mx.dnsDefenses.dmarcRecords.path(spool: node.spoolDirectory)
                .map { "; report records in \($0) (\(mx.dnsDefenses.dmarcRecords.retentionDays) days)" } ?? "; no report records"
            return make(.enabled, "p=reject \(auth.onReject), p=quarantine \(auth.onQuarantine), temperror \(auth.onTemperror)\(sealers)\(records)")
        case .arc:
            guard let auth = mx.dnsDefenses.authentication else { return make(.disabled, "no [mx.authentication] table (or enabled = false)") }
            return auth.verifyARC ? make(.enabled, "chains validated (bodies up to \(auth.maxARCBody) octets); arc= in Authentication-Results")
                : make(.disabled, "mx.authentication.arc = false")
        case .regularExpressions:
            guard let rules = mx.envelopeRules else { return make(.disabled, "no [mx.rules] table (or enabled = false)") }
            let content = mx.contentRules
            let body = content.map { $0.body.isEmpty ? "" : " (bodies scanned up to \($0.bodyScanLimit) octets)" } ?? ""
            return make(.enabled, "\(rules.helo.count) HELO, \(rules.sender.count) sender, \(rules.recipient.count) recipient, "
                + "\(content?.header.count ?? 0) header, \(content?.body.count ?? 0) body patterns\(body) (550 5.7.1)")
        case .rfc2505:
            let checklist = RFC2505Checklist(mx: mx)
            return make(checklist.meetsRequirements ? .enabled : .disabled, checklist.summary)
        case .dnsBlockLists:
            guard let lists = mx.dnsDefenses.dnsLists else { return make(.disabled, "no [mx.dnsbl] table (or enabled = false)") }
            let policy = mx.dnsDefenses.dnsListPolicy
            let stage = switch policy.stage { case .connect: "connect"; case .mailFrom: "MAIL"; case .rcptTo: "RCPT" }
            return make(.enabled, lists.zones.map(\.name).joined(separator: ", ") + "; threshold \(Int(lists.threshold)), refused at \(stage)"
                + (policy.onUnknown == .tempfail ? ", unanswered lists defer" : "") + "; DNS: \(dnsText(node))")
        case .mtaRules:
            let recipients = mx.recipientDirectory.map { "unknown recipients refused at " + $0.domains.sorted().joined(separator: ", ") }
                ?? "unknown recipients accepted (no [mx.recipients])"
            guard let checks = mx.dnsDefenses.senderChecks else {
                return mx.recipientDirectory == nil ? make(.disabled, "no [mx.sender_checks] or [mx.recipients] table")
                    : make(.enabled, "no sender checks; " + recipients)
            }
            let parts = [checks.checkHELO ? "HELO" : nil, checks.checkSenderDomain ? "sender domain" : nil, checks.checkIPRev ? "iprev (tag)" : nil]
            return make(.enabled, parts.compactMap { $0 }.joined(separator: ", ") + " checked; " + recipients + "; DNS: \(dnsText(node))")
        case .localBlockLists:
            guard let block = mx.blocklist else { return make(.disabled, "no [mx.blocklist] table (or enabled = false)") }
            let entries = block.entries
            var parts = ["\(entries.networks.count) client, \(entries.senders.count) sender, \(entries.heloNames.count) HELO entries"]
            if let file = block.file { parts.append("file \(file) (checked every \(span(block.reloadInterval.components.seconds)))") }
            parts.append(block.checkDynamic ? "dynamic entries from the state store (\(stateText(node)))" : "no dynamic entries")
            return make(.enabled, parts.joined(separator: "; "))
        case .allowLists:
            guard let allow = mx.allowlist else { return make(.disabled, "no [mx.allowlist] table (or enabled = false)") }
            var parts = ["\(allow.entries.networks.count) client, \(allow.entries.senders.count) sender entries",
                         "\(allow.perRecipient.count) recipients with their own lists"]
            if let file = allow.file { parts.append("file \(file)") }
            return make(.enabled, parts.joined(separator: ", ") + "; skip DM18/DM27/DM32/DM22, never relay control or antivirus")
        case .camram:
            guard let postage = mx.hashcash else { return make(.disabled, "no [mx.hashcash] table (or enabled = false)") }
            return make(.enabled, "X-Hashcash stamps of at least \(postage.requiredBits) bits, at most "
                + span(postage.maxAge.components.seconds) + " old, spent once; "
                + (postage.action == .require ? "unpaid mail refused (550 5.7.1)" : "result in X-Mailnode-Hashcash")
                + "; state: \(stateText(node))")
        case .honeyPots:
            guard let traps = mx.spamTraps else { return make(.disabled, "no [mx.spam_traps] table (or enabled = false)") }
            return make(.enabled, "\(traps.addresses.count) trap addresses; a hit blocks the client for "
                + span(traps.blockFor.components.seconds) + (mx.blocklist?.checkDynamic == true ? "" : " (add [mx.blocklist] to refuse it at connect)")
                + "; state: \(stateText(node))")
        case .senderVolumeLimit:
            guard let volume = mx.senderVolume else { return make(.disabled, "no [mx.sender_rate] table (or enabled = false)") }
            func limit(_ value: Int) -> String { value == 0 ? "unlimited" : "\(value)" }
            return make(.enabled, "per sender and \(span(volume.window.components.seconds)): messages \(limit(volume.maxMessages)), "
                + "recipients \(limit(volume.maxRecipients)) (451 beyond); state: \(stateText(node))")
        default:
            // A native entry of this role that no configuration value reaches yet.
            return make(.notAvailable, "no configuration for it in this role yet")
        }
    }

    /// The DNS servers the defenses ask.
    static func dnsText(_ node: NodeConfiguration) -> String {
        guard let dns = node.dns else { return "/etc/resolv.conf" }
        return dns.nameservers.map(\.description).joined(separator: ", ")
    }

    static func describe(_ roles: [MailnodeRole]) -> String {
        roles.isEmpty ? "no role" : roles.map(\.rawValue).joined(separator: ", ")
    }

    /// `7 days`, `12 hours`, `90 s`.
    static func span(_ seconds: Int64) -> String {
        if seconds % 86_400 == 0 { return "\(seconds / 86_400) days" }
        if seconds % 3600 == 0 { return "\(seconds / 3600) hours" }
        return "\(seconds) s"
    }

    /// `; to hops: antivirus required, store opportunistic` (hops.NAME.tls), or nothing.
    static func hopTLS(_ node: NodeConfiguration) -> String {
        var hops: [String: NextHop] = [:]
        for hop in Array(node.routing.routes.values) + [node.routing.defaultHop].compactMap({ $0 }) { hops[hop.name] = hop }
        guard !hops.isEmpty else { return "" }
        return "; to hops: " + hops.keys.sorted().map { "\($0) \(hops[$0]!.tls.rawValue)" }.joined(separator: ", ")
    }

    /// `sqlite /var/spool/mailnode/defenses/state.sqlite`, `postgres postgres://user:***@db:5432/mailnode?…`.
    static func stateText(_ node: NodeConfiguration) -> String { "\(node.state.backend)" }

    static func listeners(_ mx: MXRoleConfiguration) -> String {
        mx.listen.count == 1 ? "1 listener" : "\(mx.listen.count) listeners"
    }
}
