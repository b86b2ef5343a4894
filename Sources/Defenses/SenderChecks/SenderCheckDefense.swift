import Logging
import SMTPCore

/// What the sender-check hook does with each verdict. A result without an entry is ignored.
///
/// The defaults follow the RFCs: protocol violations and forgeries are refused, mismatches that
/// [RFC 5321 §4.1.4](https://www.rfc-editor.org/rfc/rfc5321#section-4.1.4) forbids refusing for
/// are only tagged, iprev only tags (much legitimate mail comes from hosts without matching reverse
/// DNS), and a temporary DNS failure never leads to a 5xx (`reject` is applied as `tempfail`).
public struct SenderCheckPolicy: Sendable {
    /// Run the HELO check at HELO/EHLO.
    public var checkHELO: Bool
    /// Run the sender-domain check at MAIL FROM.
    public var checkSenderDomain: Bool
    /// Run the iprev check at MAIL FROM.
    public var checkIPRev: Bool
    public var helo: [HELOResult: DefenseAction]
    public var senderDomain: [SenderDomainResult: DefenseAction]
    public var iprev: [IPRevResult: DefenseAction]
    /// Sessions that authenticated are not checked (submission).
    public var exemptAuthenticated: Bool
    /// Clients in these networks are not checked (the previous stage, monitoring).
    public var trustedNetworks: [IPNetwork]

    public static let defaultHELOActions: [HELOResult: DefenseAction] = [
        .notFQDN: .reject, .impersonation: .reject, .literalMismatch: .tag, .unresolvable: .tag, .temperror: .ignore,
    ]
    public static let defaultSenderDomainActions: [SenderDomainResult: DefenseAction] = [
        .nullMX: .reject, .nonexistent: .reject, .noMailHost: .reject, .invalid: .reject, .temperror: .tempfail,
    ]
    public static let defaultIPRevActions: [IPRevResult: DefenseAction] = [
        .fail: .tag, .permerror: .tag, .temperror: .ignore,
    ]

    public init(
        checkHELO: Bool = true, checkSenderDomain: Bool = true, checkIPRev: Bool = true,
        helo: [HELOResult: DefenseAction] = SenderCheckPolicy.defaultHELOActions,
        senderDomain: [SenderDomainResult: DefenseAction] = SenderCheckPolicy.defaultSenderDomainActions,
        iprev: [IPRevResult: DefenseAction] = SenderCheckPolicy.defaultIPRevActions,
        exemptAuthenticated: Bool = true, trustedNetworks: [IPNetwork] = []
    ) {
        self.checkHELO = checkHELO
        self.checkSenderDomain = checkSenderDomain
        self.checkIPRev = checkIPRev
        self.helo = helo
        self.senderDomain = senderDomain
        self.iprev = iprev
        self.exemptAuthenticated = exemptAuthenticated
        self.trustedNetworks = trustedNetworks
    }
}

/// DM19 "MTA rules" as a stage hook: the HELO check at HELO/EHLO, iprev and the sender-domain
/// check at MAIL FROM, each verdict mapped through ``SenderCheckPolicy``.
///
/// Wire replies are generic and say what the client can fix; the log line has the defense id,
/// the session id, the verdict and its trail.
public struct SenderCheckDefense: SessionHooks {
    public static let id = SenderChecker.defenseID

    public let checker: SenderChecker
    public let policy: SenderCheckPolicy
    let logger: Logger

    public init(checker: SenderChecker, policy: SenderCheckPolicy = SenderCheckPolicy(),
                logger: Logger = Logger(label: "mailnode.defense.sender")) {
        self.checker = checker
        self.policy = policy
        self.logger = logger
    }

    /// HELO/EHLO and MAIL FROM.
    public var stages: HookStages { [.helo, .mailFrom] }

    public func helo(_ name: MailHost, session: SessionContext) async -> HookDecision {
        guard policy.checkHELO, !isExempt(session) else { return .continue }
        let local = session.localAddress.flatMap { DefenseHookSupport.clientIP(SessionContext(sessionID: "", remoteAddress: $0)) }
        let check = await checker.checkHELO(name, clientIP: DefenseHookSupport.clientIP(session), localAddress: local)
        return decide(check, session: session)
    }

    public func mailFrom(_ path: ReversePath, parameters: MailParameters, session: SessionContext) async -> HookDecision {
        guard !isExempt(session) else { return .continue }
        let client = DefenseHookSupport.clientIP(session)
        // Both checks at once; iprev in this task, so one child task, not two.
        async let domain: SenderDomainCheck? = policy.checkSenderDomain ? checker.checkSenderDomain(path) : nil
        let reverse: IPRevCheck? = if policy.checkIPRev, let client { await checker.checkIPRev(client) } else { nil }
        let sender = await domain
        // The sender-domain verdict goes first: its reply is the more specific one.
        var decisions: [HookDecision] = []
        if let sender { decisions.append(decide(sender, session: session)) }
        if let reverse { decisions.append(decide(reverse, session: session)) }
        return Self.mostSevere(decisions)
    }

    // MARK: - Decisions (public so a role can run a check itself and map it the same way)

    public func decide(_ check: HELOCheck, session: SessionContext) -> HookDecision {
        let action = action(policy.helo[check.result], temporary: check.result == .temperror)
        log("HELO check", result: "\(check.result)", action: action, session: session,
            extra: ["helo": "\(check.name)", "trail": "\(check.trail.joined(separator: "; "))"])
        return action.decision(reject: Self.heloReply(check.result), tempfail: DefenseReplies.temporaryDNSFailure)
    }

    public func decide(_ check: SenderDomainCheck, session: SessionContext) -> HookDecision {
        let action = action(policy.senderDomain[check.result], temporary: check.result == .temperror)
        log("sender domain check", result: "\(check.result)", action: action, session: session,
            extra: ["domain": "\(check.domain ?? "-")", "trail": "\(check.trail.joined(separator: "; "))"])
        return action.decision(reject: Self.senderDomainReply(check.result), tempfail: DefenseReplies.temporaryDNSFailure)
    }

    public func decide(_ check: IPRevCheck, session: SessionContext) -> HookDecision {
        let action = action(policy.iprev[check.result], temporary: check.result == .temperror)
        log("iprev check", result: "\(check.result)", action: action, session: session,
            extra: ["iprev": "\(check.authenticationResultsFragment)", "trail": "\(check.trail.joined(separator: "; "))"])
        return action.decision(
            reject: Reply(.mailboxUnavailable, EnhancedStatusCode(5, 7, 25), "Reverse DNS validation failed for [\(check.clientIP)]"),
            tempfail: DefenseReplies.temporaryDNSFailure)
    }

    // MARK: - Replies

    /// Generic rejections of the HELO check.
    public static func heloReply(_ result: HELOResult) -> Reply {
        switch result {
        case .notFQDN:
            // RFC 5321 §4.3.2 lists 504 and 550 for HELO/EHLO; X.5.2 syntax error.
            Reply(.parameterNotImplemented, .syntaxError, "HELO name must be a fully-qualified domain name or an address literal")
        case .impersonation: Reply(.mailboxUnavailable, .policyRejection, "HELO name rejected: it names this server")
        case .literalMismatch: Reply(.mailboxUnavailable, .policyRejection, "HELO address literal does not match your address")
        case .unresolvable: Reply(.mailboxUnavailable, .policyRejection, "HELO name does not resolve")
        case .temperror, .pass: DefenseReplies.temporaryDNSFailure
        }
    }

    /// Generic rejections of the sender-domain check.
    public static func senderDomainReply(_ result: SenderDomainResult) -> Reply {
        switch result {
        case .nullMX:
            // RFC 7505 §4.2: a sender domain with a null MX gets 550 5.7.27 "Sender address has
            // null MX" (5.1.10 with 556 is for a recipient domain, §4.1).
            Reply(.mailboxUnavailable, EnhancedStatusCode(5, 7, 27), "Sender address has null MX")
        case .nonexistent:
            // RFC 3463 X.1.8 "bad sender's system address".
            Reply(.mailboxUnavailable, .badSenderSystemAddress, "Sender address rejected: domain not found")
        case .noMailHost:
            Reply(.mailboxUnavailable, .badSenderSystemAddress, "Sender address rejected: domain has no mail server")
        case .invalid:
            Reply(.mailboxNameNotAllowed, .badSenderSyntax, "Sender address rejected: invalid domain")
        case .temperror, .pass, .none:
            DefenseReplies.temporaryDNSFailure
        }
    }

    // MARK: - Helpers

    private func isExempt(_ session: SessionContext) -> Bool {
        DefenseHookSupport.isExempt(session, authenticated: policy.exemptAuthenticated, trusted: policy.trustedNetworks)
    }

    private func action(_ configured: DefenseAction?, temporary: Bool) -> DefenseAction {
        let action = configured ?? .ignore
        return temporary ? action.forTemporaryFailure : action
    }

    /// A 5xx before a 4xx before `.continue`; the first of equals.
    static func mostSevere(_ decisions: [HookDecision]) -> HookDecision {
        func rank(_ decision: HookDecision) -> Int {
            switch decision {
            case .continue: 0
            case .reply(let reply), .disconnect(let reply):
                reply.code.isPermanentFailure ? 2 : (reply.code.isTransientFailure ? 1 : 0)
            }
        }
        return decisions.reduce(HookDecision.continue) { best, next in rank(next) > rank(best) ? next : best }
    }

    private func log(_ message: Logger.Message, result: String, action: DefenseAction, session: SessionContext, extra: Logger.Metadata) {
        let level: Logger.Level = action == .ignore || result == "pass" ? .debug : .notice
        guard logger.logLevel <= level else { return }   // the metadata is built only for a line that is written
        var metadata: Logger.Metadata = [
            "defense": "\(Self.id)", "session": "\(session.sessionID)",
            "client": "\(DefenseHookSupport.clientIP(session)?.description ?? "-")",
            "result": "\(result)", "action": "\(action)",
        ]
        metadata.merge(extra) { current, _ in current }
        logger.log(level: level, message, metadata: metadata)
    }
}
