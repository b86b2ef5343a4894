import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import SMTPCore

/// The mx role's message stage for sender authentication: DKIM (DM31,
/// [RFC 6376](https://www.rfc-editor.org/rfc/rfc6376)), ARC (MN10,
/// [RFC 8617](https://www.rfc-editor.org/rfc/rfc8617)) and DMARC (MN04,
/// [RFC 7489](https://www.rfc-editor.org/rfc/rfc7489)) over every message as it arrives, with
/// the session's SPF result (DM30), written into one `Authentication-Results` field
/// ([RFC 8601](https://www.rfc-editor.org/rfc/rfc8601)) on top of the stored message.
///
/// - Incoming `Authentication-Results` fields that claim our authserv-id are removed
///   (RFC 8601 §5) — from every client outside ``Configuration/trustedNetworks``.
/// - DKIM body hashes are computed while the bytes stream into the spool; keys and the DMARC
///   record are looked up at the end of DATA, before the 250.
/// - The DMARC disposition is acted on per ``Configuration``: `p=reject` → `550 5.7.1` by
///   default, `p=quarantine` → tagged (the store files it as junk), DNS trouble → tagged, never
///   a permanent refusal. A chain sealed by a trusted ARC sealer whose `cv=pass` overrides a
///   DMARC fail (RFC 7489 §7.2 `local_policy`; RFC 8617 §7.2.1).
/// - Authenticated sessions and trusted networks are not checked (they are our users and our
///   stages).
public struct MessageAuthentication: MessageInspector {
    public struct Configuration: Sendable, Hashable {
        /// The `authserv-id` of our field and of the fields we remove (default: the node's name).
        public var authservID: String
        public var verifyDKIM: Bool
        public var verifyARC: Bool
        public var evaluateDMARC: Bool
        /// A DMARC fail whose policy (after `pct`) is reject.
        public var onReject: DefenseAction
        /// A DMARC fail whose policy is quarantine.
        public var onQuarantine: DefenseAction
        /// DMARC temperror (the policy or a key could not be fetched); never a 5xx.
        public var onTemperror: DefenseAction
        /// Sealing domains whose ARC `cv=pass` chain overrides a DMARC fail.
        public var trustedARCSealers: Set<String>
        /// Clients never checked and whose fields are kept (upstream stages, our own relays).
        public var trustedNetworks: [IPNetwork]
        /// Largest body held in memory for ARC (whose verifier needs it whole); a larger body
        /// gets `arc=none` with a reason and no override.
        public var maxARCBody: Int
        /// Whether a `Received-SPF` field ([RFC 7208 §9.1](https://www.rfc-editor.org/rfc/rfc7208#section-9.1))
        /// goes above the `Authentication-Results` field when the session has an SPF result.
        public var receivedSPF: Bool
        public var messageLimits: MessageLimits

        public init(authservID: String, verifyDKIM: Bool = true, verifyARC: Bool = true, evaluateDMARC: Bool = true,
                    onReject: DefenseAction = .reject, onQuarantine: DefenseAction = .tag, onTemperror: DefenseAction = .tag,
                    trustedARCSealers: Set<String> = [], trustedNetworks: [IPNetwork] = [], maxARCBody: Int = 10 * 1024 * 1024,
                    receivedSPF: Bool = true, messageLimits: MessageLimits = MessageLimits()) {
            self.authservID = authservID
            self.verifyDKIM = verifyDKIM
            self.verifyARC = verifyARC
            self.evaluateDMARC = evaluateDMARC
            self.onReject = onReject
            self.onQuarantine = onQuarantine
            self.onTemperror = onTemperror
            self.trustedARCSealers = Set(trustedARCSealers.map { MessageASCII.lowercased($0) })
            self.trustedNetworks = trustedNetworks
            self.maxARCBody = maxARCBody
            self.receivedSPF = receivedSPF
            self.messageLimits = messageLimits
        }
    }

    /// `550 5.7.1` for a DMARC reject: the words name the policy, not our internals.
    public static let rejectReply = Reply(.mailboxUnavailable, EnhancedStatusCode(5, 7, 1),
                                          "Message rejected by the sender domain's DMARC policy")
    /// `451 4.7.5` (RFC 7372 "cryptographic failure"; used when a DMARC look-up must be retried).
    public static let temporaryReply = Reply(.localError, EnhancedStatusCode(4, 7, 5), "DMARC check failed temporarily, try again later")

    public let configuration: Configuration
    public let resolver: any DNSResolver
    let spf: SPFChecker
    let dkim: DKIMVerifier
    let dmarc: DMARCVerifier
    let arc: ARCVerifier
    let forged: ForgedAuthenticationResults
    let reports: (any DMARCReportStore)?
    let metrics: DefenseMetrics?
    let logger: Logger

    /// `reports` receives one aggregate-report record per message whose From domain has a DMARC
    /// record (``DMARCReportFileStore`` on a node); `nil` records nothing.
    /// `spf` configures the check made when no SPF hook kept the session's result (DM30 off).
    public init(configuration: Configuration, resolver: any DNSResolver, spf: SPFConfiguration = SPFConfiguration(),
                dmarc: DMARCConfiguration = DMARCConfiguration(), reports: (any DMARCReportStore)? = nil,
                metrics: DefenseMetrics? = nil, logger: Logger = Logger(label: "mailnode.defense.authentication")) {
        self.configuration = configuration
        self.resolver = resolver
        self.spf = SPFChecker(resolver: resolver, configuration: spf)
        var dkimConfiguration = DKIMVerifierConfiguration()
        dkimConfiguration.messageLimits = configuration.messageLimits
        dkim = DKIMVerifier(resolver: resolver, configuration: dkimConfiguration)
        self.dmarc = DMARCVerifier(resolver: resolver, configuration: dmarc)
        arc = ARCVerifier(resolver: resolver, configuration: dkimConfiguration)
        forged = ForgedAuthenticationResults(authservID: configuration.authservID)
        self.reports = reports
        self.metrics = metrics
        self.logger = logger
    }

    public func begin(envelope: Envelope, session: SessionContext) async -> (any MessageInspection)? {
        guard !DefenseHookSupport.isExempt(session, authenticated: true, trusted: configuration.trustedNetworks) else { return nil }
        return Inspection(owner: self, envelope: envelope, session: session)
    }

    public func removesField(name: String, value: String, session: SessionContext) -> Bool {
        guard MessageASCII.lowercased(name) == "authentication-results",
              !DefenseHookSupport.isExempt(session, authenticated: false, trusted: configuration.trustedNetworks) else { return false }
        return forged.isForged(HeaderField(name: name, value: value))
    }

    /// What the verdict rests on, for logs and tests.
    public struct Findings: Sendable, Hashable {
        public var spf: SPFCheck?
        public var dkim: [DKIMVerification]
        public var arc: ARCVerification?
        public var dmarc: DMARCEvaluation?
        /// The header could not be read (too large, malformed): DKIM and DMARC are permerror.
        public var headerProblem: String?
        /// The ARC sealer whose chain overrode a DMARC fail.
        public var overriddenBy: String?
        public var action: DefenseAction
    }

    /// Decides from the findings (the DMARC disposition and the configured actions).
    func decide(_ findings: inout Findings) -> InspectionVerdict.Disposition {
        guard let evaluation = findings.dmarc else { return .accept }
        let action: DefenseAction
        switch (evaluation.result, evaluation.disposition) {
        case (.fail, .reject): action = configuration.onReject
        case (.fail, .quarantine): action = configuration.onQuarantine
        case (.temperror, _): action = configuration.onTemperror.forTemporaryFailure
        default: action = .ignore
        }
        findings.action = action
        guard action == .reject || action == .tempfail else { return .accept }
        if evaluation.result == .fail, let arc = findings.arc, arc.result == .pass,
           let sealer = arc.sets.first(where: { $0.instance == arc.instances })?.sealDomain,
           configuration.trustedARCSealers.contains(MessageASCII.lowercased(sealer)) {
            findings.overriddenBy = sealer
            findings.action = .tag
            return .accept
        }
        return .refuse(action == .reject ? Self.rejectReply : Self.temporaryReply)
    }

    /// The aggregate-report record of a decided message: the disposition we applied, not only
    /// the one the policy asked for (RFC 7489 §7.2 `PolicyOverrideReason`: `trusted_forwarder`
    /// for a trusted ARC sealer, `local_policy` when our configured action was milder).
    /// `nil` without a DMARC record, and for a temporary refusal (the client retries; that
    /// attempt is the one counted).
    func reportRecord(_ findings: Findings, disposition: InspectionVerdict.Disposition, clientIP: IPAddress?,
                      envelope: Envelope, date: Int64) -> DMARCAggregateRecord? {
        guard let evaluation = findings.dmarc, let clientIP, findings.action != .tempfail else { return nil }
        let mailFrom = envelope.reversePath.mailbox.map { "\($0.host)".lowercased() } ?? ""
        guard var record = DMARCAggregateRecord(evaluation, sourceIP: clientIP, spf: findings.spf, envelopeFrom: mailFrom, date: date)
        else { return nil }
        if case .refuse = disposition {
            record.disposition = .reject
        } else if findings.overriddenBy != nil {
            record.disposition = .none
            record.overrideReasons.append("trusted_forwarder")
        } else if evaluation.result == .fail && evaluation.disposition != .none {
            let applied: DMARCDisposition = findings.action == .tag ? .quarantine : .none
            if applied != evaluation.disposition {
                record.disposition = applied
                record.overrideReasons.append("local_policy")
            }
        }
        return record
    }

    /// The fields we put on top of the message: `Received-SPF` (when the session has an SPF
    /// result and ``Configuration/receivedSPF`` is on), then `Authentication-Results`.
    func field(_ findings: Findings, session: SessionContext) -> String {
        var text = ""
        if configuration.receivedSPF, let check = findings.spf {
            text = check.receivedSPFField(receiver: configuration.authservID)
        }
        return text + authenticationResultsField(findings, session: session)
    }

    /// Our `Authentication-Results` field (RFC 8601).
    func authenticationResultsField(_ findings: Findings, session: SessionContext) -> String {
        var results = AuthenticationResults(authservID: configuration.authservID)
        if let check = findings.spf { results.append(.spf(check)) }
        if let problem = findings.headerProblem {
            var dkim = AuthenticationResult(method: "dkim", result: "permerror")
            dkim.reason = problem
            results.append(dkim)
        } else if configuration.verifyDKIM {
            results.append(dkim: findings.dkim)
        }
        if let arc = findings.arc { results.append(.arc(arc, remoteIP: DefenseHookSupport.clientIP(session))) }
        if let evaluation = findings.dmarc {
            var result = AuthenticationResult.dmarc(evaluation)
            if let sealer = findings.overriddenBy {
                result.comment = (result.comment.map { $0 + "; " } ?? "") + "overridden: trusted ARC sealer \(sealer)"
            }
            results.append(result)
        }
        return "Authentication-Results:" + results.fieldValue + "\r\n"
    }

    /// One message.
    final class Inspection: MessageInspection {
        let owner: MessageAuthentication
        let envelope: Envelope
        let session: SessionContext

        struct State {
            var reader: MessageReader
            var pending: DKIMPendingVerification?
            /// The body, kept only when the header has ARC sets and while under the limit.
            var arcBody: [UInt8]?
            var arcTooLarge = false
            var problem: String?
        }
        /// Methods are called one at a time; the lock only makes the class `Sendable`.
        private let state: NIOLockedValueBox<State>

        init(owner: MessageAuthentication, envelope: Envelope, session: SessionContext) {
            self.owner = owner
            self.envelope = envelope
            self.session = session
            state = NIOLockedValueBox(State(reader: MessageReader(limits: owner.configuration.messageLimits)))
        }

        func update(_ chunk: ByteBuffer) async {
            state.withLockedValue { state in
                guard state.problem == nil else { return }
                let bytes = Array(chunk.readableBytesView)
                let body: ArraySlice<UInt8>
                do {
                    body = try state.reader.feed(bytes[...])
                } catch {
                    state.problem = "message header: \(error)"
                    return
                }
                if state.pending == nil, let header = state.reader.header { start(&state, header: header) }
                feed(&state, body)
            }
        }

        private func start(_ state: inout State, header: MessageHeader) {
            state.pending = owner.dkim.begin(header: header)
            if owner.configuration.verifyARC, header.first(named: "ARC-Seal") != nil { state.arcBody = [] }
        }

        private func feed(_ state: inout State, _ body: ArraySlice<UInt8>) {
            guard !body.isEmpty else { return }
            state.pending?.update(body)
            if state.arcBody != nil {
                if state.arcBody!.count + body.count > owner.configuration.maxARCBody {
                    state.arcBody = nil
                    state.arcTooLarge = true
                } else {
                    state.arcBody!.append(contentsOf: body)
                }
            }
        }

        func finish(summary: MessageDataSummary) async -> InspectionVerdict {
            let configuration = owner.configuration
            var (header, pending, arcBody, arcTooLarge, problem): (MessageHeader?, DKIMPendingVerification?, [UInt8]?, Bool, String?)
                = state.withLockedValue { state in
                    if state.problem == nil, state.reader.header == nil {
                        do {
                            let header = try state.reader.finish()
                            start(&state, header: header)
                        } catch {
                            state.problem = "message header: \(error)"
                        }
                    }
                    return (state.reader.header, state.pending, state.arcBody, state.arcTooLarge, state.problem)
                }
            if problem != nil { header = nil; pending = nil }

            let client = DefenseHookSupport.clientIP(session)
            var findings = Findings(spf: nil, dkim: [], arc: nil, dmarc: nil, headerProblem: problem, overriddenBy: nil, action: .ignore)
            if let kept = SPFSessionResult.check(for: envelope.reversePath, in: session) {
                findings.spf = kept
            } else if let client {
                findings.spf = await owner.spf.checkMailFrom(clientIP: client, mailFrom: envelope.reversePath.mailbox.map { "\($0)" } ?? "",
                                                             helo: session.heloName.map { "\($0)" } ?? "")
            }
            if let header, let pending, configuration.verifyDKIM || configuration.evaluateDMARC {
                findings.dkim = await owner.dkim.finish(pending)
                if let arcBody {
                    findings.arc = await owner.arc.verify(header: header, body: arcBody)
                } else if arcTooLarge {
                    findings.arc = ARCVerification(result: .none, reason: "not checked: body over \(configuration.maxARCBody) octets")
                }
                if configuration.evaluateDMARC {
                    findings.dmarc = await owner.dmarc.evaluate(header: owner.forged.removing(from: header).header,
                                                                spf: findings.spf, dkim: findings.dkim)
                }
            } else if problem != nil, configuration.evaluateDMARC {
                findings.dmarc = DMARCEvaluation(result: .permerror, reason: problem)
            }
            let disposition = owner.decide(&findings)
            log(findings, disposition: disposition)
            await report(findings, disposition: disposition, clientIP: client)
            let prepend = owner.field(findings, session: session)
            switch disposition {
            case .accept: return InspectionVerdict(prepend: prepend)
            case .refuse(let reply): return .refuse(reply, defense: "\(DefenseID.dmarc)", prepend: prepend)
            }
        }

        /// Records the message for the aggregate report; a failing store is logged, never
        /// allowed to change the verdict.
        private func report(_ findings: Findings, disposition: InspectionVerdict.Disposition, clientIP: IPAddress?) async {
            guard let reports = owner.reports,
                  let record = owner.reportRecord(findings, disposition: disposition, clientIP: clientIP, envelope: envelope,
                                                  date: Int64(Date().timeIntervalSince1970)) else { return }
            do {
                try await reports.append(record)
            } catch {
                owner.logger.warning("DMARC report record not kept", metadata: [
                    "defense": "\(DefenseID.dmarc)", "session": "\(session.sessionID)", "error": "\(error)",
                ])
            }
        }

        private func log(_ findings: Findings, disposition: InspectionVerdict.Disposition) {
            let quiet = disposition == .accept && findings.dmarc?.result != .fail
            if quiet, owner.logger.logLevel > .info { return }   // the metadata only for a line that is written
            var metadata: Logger.Metadata = [
                "defense": "\(DefenseID.dmarc)", "session": "\(session.sessionID)",
                "spf": "\(findings.spf.map { "\($0.result)" } ?? "-")",
                "dkim": "\(findings.dkim.isEmpty ? "none" : findings.dkim.map { "\($0.result)\($0.domain.map { "(\($0))" } ?? "")" }.joined(separator: ","))",
                "dmarc": "\(findings.dmarc.map { "\($0.result)" } ?? "-")",
                "from_domain": "\(findings.dmarc?.fromDomain ?? "-")", "action": "\(findings.action)",
            ]
            if let arc = findings.arc { metadata["arc"] = "\(arc.result)" }
            if let sealer = findings.overriddenBy { metadata["override"] = "trusted ARC sealer \(sealer)" }
            if let problem = findings.headerProblem { metadata["problem"] = "\(problem)" }
            switch disposition {
            case .refuse:
                owner.logger.notice("message refused by DMARC policy", metadata: metadata)
                owner.metrics?.record("\(DefenseID.dmarc)", .rejected)
            case .accept:
                if findings.dmarc?.result == .fail {
                    owner.logger.notice("authentication", metadata: metadata)
                    owner.metrics?.record("\(DefenseID.dmarc)", .tagged)
                } else {
                    owner.logger.info("authentication", metadata: metadata)
                }
            }
        }
    }
}
