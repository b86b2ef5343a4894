import Logging
import NIOCore
import SMTPCore

/// The antivirus stage as a ``MessageReceiver`` wrapper: it holds each message until the end
/// of DATA, walks its MIME tree, applies the attachment policy, streams it to clamd, and only
/// then hands it — with an `X-Virus-Scanned` trace header on top (``TraceHeader``: earlier
/// fields of that name are removed) — to the receiver behind it (the durable spool).
///
/// Why a receiver and not a ``SessionHooks`` `dataEnd` hook: the hook sees the envelope and a
/// summary, never the message bytes, and cannot add a header. The writer's commit reply is
/// what the client sees, so a refusal still happens at the end of DATA while the previous stage
/// is connected: `554 5.7.0` for a virus, a blocked attachment or a MIME bomb (never a bounce,
/// the sender is likely forged), `451 4.3.0` when no scanner answers (``ScanFailurePolicy``),
/// `552 5.3.4` beyond ``AntivirusConfiguration/maxMessageSize``. The log line names the
/// signature, the scanner and the defense id; the wire text does not.
///
/// Memory: one message up to ``AntivirusConfiguration/maxMessageSize`` plus its decoded parts
/// (``MIMELimits/maxDecodedBytes``) per session in DATA; past the size limit nothing more is kept.
public struct AntivirusReceiver: MessageReceiver {
    public let next: any MessageReceiver
    public let configuration: AntivirusConfiguration
    let logger: Logger

    public init(next: any MessageReceiver, configuration: AntivirusConfiguration,
                logger: Logger = Logger(label: "mailnode.antivirus")) {
        self.next = next
        self.configuration = configuration
        self.logger = logger
    }

    public func open(envelope: Envelope, session: SessionContext) async throws -> any MessageWriter {
        // Opened now so that a full spool answers at DATA, as without this stage.
        let inner = try await next.open(envelope: envelope, session: session)
        return AntivirusWriter(inner: inner, configuration: configuration, logger: logger, envelope: envelope, session: session)
    }
}

/// One message on its way through ``AntivirusReceiver``.
actor AntivirusWriter: MessageWriter {
    private let inner: any MessageWriter
    private let configuration: AntivirusConfiguration
    private let logger: Logger
    private let envelope: Envelope
    private let session: SessionContext
    private var buffer = ByteBuffer()
    private var octets = 0
    /// What the last ``decide()`` found, for the quarantine record.
    private var signature: String?
    private var attachmentName: String?

    private var sessionID: String { session.sessionID }
    private var sender: String { envelope.reversePath.description }

    init(inner: any MessageWriter, configuration: AntivirusConfiguration, logger: Logger, envelope: Envelope, session: SessionContext) {
        self.inner = inner
        self.configuration = configuration
        self.logger = logger
        self.envelope = envelope
        self.session = session
    }

    func write(_ chunk: ByteBuffer) async throws {
        octets += chunk.readableBytes
        guard octets <= configuration.maxMessageSize else {
            if buffer.capacity > 0 { buffer = ByteBuffer() }  // bounded: keep nothing once too big
            return
        }
        var chunk = chunk
        buffer.writeBuffer(&chunk)
    }

    func commit(summary: MessageDataSummary) async throws -> CommitResult {
        let decision = await decide()
        switch decision {
        case .refuse(let reply, let reason, let defense):
            await inner.abort()
            if configuration.action == .quarantine, reply == AntivirusDecision.rejectedReply, let quarantine = configuration.quarantine {
                return await hold(in: quarantine, reason: reason, defense: defense)
            }
            configuration.metrics?.record(defense.description, reply.code.rawValue >= 500 ? .rejected : .deferred)
            let level: Logger.Level = reply.code.rawValue >= 500 ? .notice : .warning
            logger.log(level: level, "message refused", metadata: [
                "session": "\(sessionID)", "defense": "\(defense)", "reason": "\(reason)",
                "from": "\(sender)", "size": "\(octets)", "reply": "\(reply)",
            ])
            buffer = ByteBuffer()
            return CommitResult(reply: reply)
        case .accept(let headerValue):
            if headerValue.hasPrefix("unscanned"), configuration.scanner != nil {
                logger.error("MESSAGE PASSED WITHOUT VIRUS SCAN (failure policy pass-with-header)", metadata: [
                    "session": "\(sessionID)", "defense": "\(DefenseID.antivirus)", "from": "\(sender)", "size": "\(octets)",
                ])
            }
            let message = TraceHeader.apply(name: configuration.headerName, value: headerValue, to: buffer,
                                            limits: configuration.mimeLimits.header)
            buffer = ByteBuffer()
            try await inner.write(message)
            var adjusted = summary
            adjusted.octets = message.readableBytes
            return try await inner.commit(summary: adjusted)
        }
    }

    func abort() async {
        buffer = ByteBuffer()
        await inner.abort()
    }

    /// `action = "quarantine"`: the message goes to the quarantine (fsynced) and the client
    /// hears 250 — the previous stage is done with it, nobody is bounced. When the quarantine
    /// cannot store it, 451: the previous stage keeps it.
    private func hold(in quarantine: QuarantineStore, reason: String, defense: DefenseID) async -> CommitResult {
        let record = QuarantineRecord(reason: reason, defense: defense.description, signature: signature, attachment: attachmentName,
                                      envelope: envelope, client: session.remoteAddress?.ipAddress,
                                      helo: session.heloName?.description, session: sessionID, size: octets)
        do {
            try await quarantine.hold(record, message: buffer)
        } catch {
            logger.error("cannot quarantine: message deferred", metadata: [
                "session": "\(sessionID)", "defense": "\(defense)", "reason": "\(reason)", "error": "\(error)",
            ])
            configuration.metrics?.record(defense.description, .deferred)
            buffer = ByteBuffer()
            return CommitResult(reply: AntivirusDecision.tempfailReply)
        }
        buffer = ByteBuffer()
        configuration.metrics?.record(defense.description, .quarantined)
        logger.notice("message quarantined", metadata: [
            "session": "\(sessionID)", "defense": "\(defense)", "reason": "\(reason)", "from": "\(sender)",
            "size": "\(octets)", "quarantine_id": "\(record.id)",
        ])
        return CommitResult(reply: Reply(.ok, .ok, "Queued as \(record.id)"), queueID: record.id)
    }

    /// Counts the scan in ``DefenseMetrics/antivirus`` and remembers a signature.
    private func record(_ outcome: ScanOutcome, seconds: Double) {
        let metrics = configuration.metrics?.antivirus
        metrics?.observeScan(seconds: seconds)
        metrics?.record(.scannerError, count: outcome.failures.count)
        switch outcome.result {
        case .clean:
            metrics?.record(.scanned)
        case .infected(let name):
            signature = name
            metrics?.record(.scanned)
            metrics?.record(.infected)
        case .error(let error):
            if outcome.failures.isEmpty, error.isInstanceFailure { metrics?.record(.scannerError) }
        }
    }

    private func decide() async -> AntivirusDecision {
        guard octets <= configuration.maxMessageSize else {
            return .refuse(reply: AntivirusDecision.tooBigReply,
                           reason: "message of \(octets) octets exceeds the scan limit of \(configuration.maxMessageSize)",
                           defense: .antivirus)
        }
        var walk: Result<Void, MIMEError> = .success(())
        var attachment: AttachmentVerdict?
        var removed: [String] = []
        do {
            let parts = try MIMEWalker(limits: configuration.mimeLimits).parts(of: buffer.readableBytesView)
            if configuration.stripBlockedAttachments, let policy = configuration.attachments {
                let blocked = policy.evaluateAll(parts, limits: configuration.mimeLimits)
                if !blocked.isEmpty, let stripped = AttachmentStripper.strip(Array(buffer.readableBytesView), blocked: blocked) {
                    // The rest of the message goes on (and is scanned as it will be delivered).
                    buffer = ByteBuffer(bytes: stripped)
                    removed = blocked.map { $0.part.filename ?? "part \($0.part.path)" }
                    for _ in blocked { configuration.metrics?.antivirus.record(.blockedAttachment) }
                    logger.notice("attachments removed", metadata: [
                        "session": "\(sessionID)", "defense": "\(DefenseID.antivirus)", "from": "\(sender)",
                        "removed": "\(blocked.map { "\($0.verdict)" }.joined(separator: "; "))",
                    ])
                } else {
                    attachment = blocked.first?.verdict
                }
            } else {
                attachment = configuration.attachments?.evaluate(parts, limits: configuration.mimeLimits)
            }
        } catch {
            walk = .failure(error)
        }
        attachmentName = attachment.map { $0.filename ?? "part \($0.part)" }
        if attachment != nil { configuration.metrics?.antivirus.record(.blockedAttachment) }
        var scan: ScanOutcome?
        if case .success = walk, attachment == nil, let scanner = configuration.scanner {
            let started = ContinuousClock.now
            let outcome = await scanner.scan(buffer)
            scan = outcome
            record(outcome, seconds: (ContinuousClock.now - started) / .seconds(1))
        }
        let decision = AntivirusDecision.decide(walk: walk, attachment: attachment, scan: scan, configuration: configuration)
        if case .accept(let value) = decision, !removed.isEmpty {
            let names = removed.map { $0.filter { $0.isASCII && !$0.isNewline && $0 != ";" } }.joined(separator: ", ")
            return .accept(headerValue: value + "; removed=\(names.count > 200 ? String(names.prefix(200)) + "..." : names)")
        }
        return decision
    }
}
