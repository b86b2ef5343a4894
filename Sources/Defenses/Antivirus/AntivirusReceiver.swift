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
        return AntivirusWriter(inner: inner, configuration: configuration, logger: logger,
                               sessionID: session.sessionID, sender: envelope.reversePath.description)
    }
}

/// One message on its way through ``AntivirusReceiver``.
actor AntivirusWriter: MessageWriter {
    private let inner: any MessageWriter
    private let configuration: AntivirusConfiguration
    private let logger: Logger
    private let sessionID: String
    private let sender: String
    private var buffer = ByteBuffer()
    private var octets = 0

    init(inner: any MessageWriter, configuration: AntivirusConfiguration, logger: Logger, sessionID: String, sender: String) {
        self.inner = inner
        self.configuration = configuration
        self.logger = logger
        self.sessionID = sessionID
        self.sender = sender
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

    private func decide() async -> AntivirusDecision {
        guard octets <= configuration.maxMessageSize else {
            return .refuse(reply: AntivirusDecision.tooBigReply,
                           reason: "message of \(octets) octets exceeds the scan limit of \(configuration.maxMessageSize)",
                           defense: .antivirus)
        }
        var walk: Result<Void, MIMEError> = .success(())
        var attachment: AttachmentVerdict?
        do {
            let parts = try MIMEWalker(limits: configuration.mimeLimits).parts(of: buffer.readableBytesView)
            attachment = configuration.attachments?.evaluate(parts, limits: configuration.mimeLimits)
        } catch {
            walk = .failure(error)
        }
        var scan: ScanOutcome?
        if case .success = walk, attachment == nil, let scanner = configuration.scanner {
            scan = await scanner.scan(buffer)
        }
        return AntivirusDecision.decide(walk: walk, attachment: attachment, scan: scan, configuration: configuration)
    }
}
