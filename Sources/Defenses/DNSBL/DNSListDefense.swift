import Logging
import SMTPCore

/// DM20 as a stage hook: asks ``DNSListChecker`` about the client address when it connects
/// (in the background) and keeps that verdict for the session, then refuses a listed client
/// where ``DNSListPolicy/stage`` says — by default at each RCPT TO except to `<Postmaster>`.
/// Lists of HELO names and sender domains are asked at the deciding stage (at MAIL FROM when
/// refusing at connect), once per HELO name and sender, and their look-ups join the client's.
///
/// The wire text is generic (`550 5.7.1 Service unavailable; client host [192.0.2.99] blocked
/// by a DNS block list`); the log line carries the defense id, the session id, the zones, codes
/// and TXT reasons. A list that does not answer never causes a 5xx. Compose it with other hooks
/// in a role's chain (``HookChain``).
///
/// The verdict lives in the session's ``SessionContext/attributes`` under a key of this hook:
/// ``clientVerdict(in:)`` gives it to other policies (an allow-listed client may skip other
/// checks) without asking DNS again.
public struct DNSListDefense: SessionHooks {
    public static let id = DNSListChecker.defenseID

    public let checker: DNSListChecker
    public let policy: DNSListPolicy
    let logger: Logger
    /// The client-address look-ups of a session, started at connect or by the first stage that needs them.
    let clientKey = SessionAttributeKey<Task<DNSListVerdict, Never>>("dnsbl.client")
    /// The last verdict with HELO-name and sender-domain look-ups added, for the next RCPT of the same transaction.
    let combinedKey = SessionAttributeKey<CombinedVerdict>("dnsbl.combined")

    struct CombinedVerdict: Sendable {
        var helo: String?
        var mailFromDomain: String?
        var verdict: DNSListVerdict
    }

    public init(checker: DNSListChecker, policy: DNSListPolicy = DNSListPolicy(), logger: Logger = Logger(label: "mailnode.defense.dnsbl")) {
        self.checker = checker
        self.policy = policy
        self.logger = logger
    }

    /// Connect (the look-up, or the refusal with ``DNSListPolicy/Stage/connect``), MAIL FROM and RCPT TO.
    public var stages: HookStages { [.connected, .mailFrom, .rcptTo] }

    public func connected(_ session: SessionContext) async -> HookDecision {
        guard policy.stage == .connect || policy.lookupAtConnect, checker.listsClients,
            !DefenseHookSupport.isExempt(session, authenticated: false, trusted: policy.trustedNetworks)
        else { return .continue }
        let lookup = clientLookup(session)   // runs on while the session greets and reads HELO
        guard policy.stage == .connect else { return .continue }
        return connectDecision(await lookup.value, session: session)
    }

    public func mailFrom(_ path: ReversePath, parameters: MailParameters, session: SessionContext) async -> HookDecision {
        switch policy.stage {
        case .mailFrom: return await evaluate(reversePath: path, recipient: nil, session: session)
        case .connect where checker.listsDomains: return await evaluate(reversePath: path, recipient: nil, session: session)
        case .connect, .rcptTo: return .continue
        }
    }

    public func rcptTo(_ recipient: EnvelopeRecipient, envelope: Envelope, session: SessionContext) async -> HookDecision {
        guard policy.stage == .rcptTo else { return .continue }
        if policy.exemptPostmaster, case .postmaster = recipient.path { return .continue }
        return await evaluate(reversePath: envelope.reversePath, recipient: recipient.path, session: session)
    }

    /// The client-address verdict kept for `session`: waits for the look-ups started at connect
    /// (or by an earlier stage); `nil` when none were started (a trusted client, no look-up yet).
    /// Never asks DNS itself.
    public func clientVerdict(in session: SessionContext) async -> DNSListVerdict? {
        await session.attributes[clientKey]?.value
    }

    /// The session's client look-ups: the running or finished task, or a new one.
    private func clientLookup(_ session: SessionContext) -> Task<DNSListVerdict, Never> {
        let checker = checker
        let clientIP = DefenseHookSupport.clientIP(session)
        return session.attributes.value(for: clientKey) {
            Task { await checker.check(clientIP: clientIP) }
        }
    }

    private func evaluate(reversePath: ReversePath, recipient: ForwardPath?, session: SessionContext) async -> HookDecision {
        if DefenseHookSupport.isExempt(session, authenticated: policy.exemptAuthenticated, trusted: policy.trustedNetworks) {
            return .continue
        }
        let verdict = await sessionVerdict(reversePath: reversePath, session: session)
        return decide(verdict, session: session, recipient: recipient)
    }

    /// The client verdict of the session, with the HELO-name and sender-domain look-ups added
    /// when a zone lists domains (asked once per HELO name and sender domain).
    private func sessionVerdict(reversePath: ReversePath, session: SessionContext) async -> DNSListVerdict {
        let client = checker.listsClients ? await clientLookup(session).value : checker.combine([])
        guard checker.listsDomains else { return client }
        let helo = session.heloName?.domainName
        let mailFromDomain = reversePath.mailbox?.host.domainName
        if let kept = session.attributes[combinedKey], kept.helo == helo, kept.mailFromDomain == mailFromDomain {
            return kept.verdict
        }
        let verdict = await checker.check(adding: client, helo: helo, mailFromDomain: mailFromDomain)
        session.attributes[combinedKey] = CombinedVerdict(helo: helo, mailFromDomain: mailFromDomain, verdict: verdict)
        return verdict
    }

    /// At connect a refusal replaces the greeting: `554 5.7.1` (RFC 5321 §3.1, then only QUIT is
    /// answered), or for a temporary failure `421 4.4.3` and the connection closes (§3.8).
    private func connectDecision(_ verdict: DNSListVerdict, session: SessionContext) -> HookDecision {
        switch decide(verdict, session: session, recipient: nil) {
        case .reply(let reply) where reply.code.isPermanentFailure:
            return .reply(Reply(.transactionFailed, reply.enhancedCode, lines: reply.lines))
        case .reply(let reply) where reply.code.isTransientFailure:
            return .disconnect(Reply(.serviceNotAvailable, reply.enhancedCode, lines: reply.lines))
        case let other:
            return other
        }
    }

    /// The decision for a verdict, logged. Public so a role can check once and decide later.
    public func decide(_ verdict: DNSListVerdict, session: SessionContext, recipient: ForwardPath? = nil) -> HookDecision {
        let action: DefenseAction
        switch verdict.result {
        case .listed: action = policy.onListed
        case .unknown: action = policy.onUnknown.forTemporaryFailure
        case .allowed, .notListed: action = .ignore
        }
        log(verdict, action: action, session: session, recipient: recipient)
        return action.decision(reject: rejection(for: verdict, session: session), tempfail: DefenseReplies.temporaryDNSFailure)
    }

    /// The generic rejection for a listed verdict: which subject was listed, never the list's TXT.
    public func rejection(for verdict: DNSListVerdict, session: SessionContext) -> Reply {
        var text: String
        switch verdict.listedSubjects.first ?? .clientIP {
        case .clientIP:
            let client = DefenseHookSupport.clientIP(session).map { " [\(SPFEvaluation.unmapped($0))]" } ?? ""
            text = "Service unavailable; client host\(client) blocked by a DNS block list"
        case .heloName: text = "Service unavailable; HELO name blocked by a DNS block list"
        case .mailFromDomain: text = "Service unavailable; sender domain blocked by a DNS block list"
        }
        if policy.nameZonesInReply {
            var seen = Set<String>()
            let zones = verdict.listings.map(\.zone).filter { seen.insert($0).inserted }
            text += " (\(zones.joined(separator: ", ")))"
        }
        // RFC 5321 §4.3.2: 550 is a reply MAIL and RCPT may give; RFC 3463 X.7.1 "delivery not
        // authorized, message refused".
        return Reply(.mailboxUnavailable, .policyRejection, text)
    }

    private func log(_ verdict: DNSListVerdict, action: DefenseAction, session: SessionContext, recipient: ForwardPath?) {
        let level: Logger.Level
        switch (verdict.result, action) {
        case (.notListed, _), (_, .ignore): level = .debug
        default: level = .notice
        }
        guard logger.logLevel <= level else { return }   // the metadata only for a line that is written
        var metadata: Logger.Metadata = [
            "defense": "\(Self.id)", "session": "\(session.sessionID)",
            "client": "\(DefenseHookSupport.clientIP(session)?.description ?? "-")",
            "result": "\(verdict.result)", "score": "\(verdict.score)/\(verdict.threshold)", "action": "\(action)",
            "lookups": "\(verdict.logSummary)",
        ]
        let zones = (verdict.result == .allowed ? verdict.allowances : verdict.listings).map(\.zone)
        if !zones.isEmpty { metadata["zones"] = "\(zones.joined(separator: ","))" }
        let reasons = verdict.listings.compactMap { lookup in lookup.reason.map { "\(lookup.zone): \($0)" } }
        if !reasons.isEmpty { metadata["reason"] = "\(reasons.joined(separator: " | "))" }
        if !verdict.unknownZones.isEmpty { metadata["unknown"] = "\(verdict.unknownZones.joined(separator: ","))" }
        if !verdict.unusableZones.isEmpty { metadata["unusable"] = "\(verdict.unusableZones.joined(separator: ","))" }
        if let recipient { metadata["rcpt"] = "\(recipient)" }
        logger.log(level: level, "DNS list verdict", metadata: metadata)
    }
}
