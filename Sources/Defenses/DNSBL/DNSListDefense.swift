import Logging
import SMTPCore

/// What the DNS-list stage hook does with a verdict.
public struct DNSListPolicy: Sendable {
    /// When the lists are asked.
    public enum Stage: String, Hashable, Sendable {
        /// At MAIL FROM: client address, HELO name and sender domain are all known.
        case mailFrom
        /// At each RCPT TO (the verdict is recomputed; a ``DNSCachingResolver`` makes that cheap):
        /// lets `<Postmaster>` through and logs the recipient.
        case rcptTo
    }

    public var stage: Stage
    /// For ``DNSListResult/listed`` (default: reject, `550 5.7.1`).
    public var onListed: DefenseAction
    /// For ``DNSListResult/unknown`` (default: ignore, a dead list must not stop mail). `reject`
    /// is applied as `tempfail`: a DNS failure never causes a 5xx.
    public var onUnknown: DefenseAction
    /// Sessions that authenticated are not checked (submission).
    public var exemptAuthenticated: Bool
    /// Clients in these networks are not checked (the previous stage, monitoring).
    public var trustedNetworks: [IPNetwork]
    /// At ``Stage/rcptTo``, `<Postmaster>` is accepted from listed clients
    /// ([RFC 5321 §4.5.1](https://www.rfc-editor.org/rfc/rfc5321#section-4.5.1)), so they can
    /// ask for delisting.
    public var exemptPostmaster: Bool
    /// Name the listing zones in the rejection (`... (zen.example)`): actionable for the sender's
    /// administrator, but tells the world which lists this site uses. Off by default.
    public var nameZonesInReply: Bool

    public init(
        stage: Stage = .mailFrom, onListed: DefenseAction = .reject, onUnknown: DefenseAction = .ignore,
        exemptAuthenticated: Bool = true, trustedNetworks: [IPNetwork] = [], exemptPostmaster: Bool = true,
        nameZonesInReply: Bool = false
    ) {
        self.stage = stage
        self.onListed = onListed
        self.onUnknown = onUnknown
        self.exemptAuthenticated = exemptAuthenticated
        self.trustedNetworks = trustedNetworks
        self.exemptPostmaster = exemptPostmaster
        self.nameZonesInReply = nameZonesInReply
    }
}

/// DM20 as a stage hook: asks ``DNSListChecker`` at MAIL FROM (or RCPT TO) and maps the verdict
/// through a ``DNSListPolicy``.
///
/// The wire text is generic (`550 5.7.1 Service unavailable; client host [192.0.2.99] blocked
/// by a DNS block list`); the log line carries the defense id, the session id, the zones, codes
/// and TXT reasons. A list that does not answer never causes a 5xx. Compose it with other hooks
/// in a role's chain; it only implements `mailFrom`/`rcptTo`.
public struct DNSListDefense: SessionHooks {
    public static let id = DNSListChecker.defenseID

    public let checker: DNSListChecker
    public let policy: DNSListPolicy
    let logger: Logger

    public init(checker: DNSListChecker, policy: DNSListPolicy = DNSListPolicy(), logger: Logger = Logger(label: "mailnode.defense.dnsbl")) {
        self.checker = checker
        self.policy = policy
        self.logger = logger
    }

    public func mailFrom(_ path: ReversePath, parameters: MailParameters, session: SessionContext) async -> HookDecision {
        guard policy.stage == .mailFrom else { return .continue }
        return await evaluate(reversePath: path, recipient: nil, session: session)
    }

    public func rcptTo(_ recipient: EnvelopeRecipient, envelope: Envelope, session: SessionContext) async -> HookDecision {
        guard policy.stage == .rcptTo else { return .continue }
        if policy.exemptPostmaster, case .postmaster = recipient.path { return .continue }
        return await evaluate(reversePath: envelope.reversePath, recipient: recipient.path, session: session)
    }

    private func evaluate(reversePath: ReversePath, recipient: ForwardPath?, session: SessionContext) async -> HookDecision {
        if DefenseHookSupport.isExempt(session, authenticated: policy.exemptAuthenticated, trusted: policy.trustedNetworks) {
            return .continue
        }
        let verdict = await checker.check(
            clientIP: DefenseHookSupport.clientIP(session), helo: session.heloName?.domainName,
            mailFromDomain: reversePath.mailbox?.host.domainName)
        return decide(verdict, session: session, recipient: recipient)
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
        switch (verdict.result, action) {
        case (.notListed, _), (_, .ignore): logger.debug("DNS list verdict", metadata: metadata)
        default: logger.notice("DNS list verdict", metadata: metadata)
        }
    }
}
