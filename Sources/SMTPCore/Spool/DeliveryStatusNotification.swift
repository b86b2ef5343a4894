import Foundation
import NIOCore

/// Builds a delivery status notification (RFC 3464) for recipients that failed.
///
/// `multipart/report; report-type=delivery-status` with a human-readable part, the
/// `message/delivery-status` part (per-message and per-recipient fields, RFC 3464 §2.2–2.3),
/// and the original: the whole message (`message/rfc822`) when the sender asked for it or did
/// not say (RFC 3461 §4.3, as Postfix does) and it is small and 7-bit, else its header section
/// (`text/rfc822-headers`, RFC 6522).
public struct DeliveryStatusNotification: Sendable {
    public struct FailedRecipient: Sendable, Hashable {
        public var recipient: EnvelopeRecipient
        public var reply: Reply
        /// The hop that gave the reply, if any.
        public var remoteMTA: String?

        public init(recipient: EnvelopeRecipient, reply: Reply, remoteMTA: String?) {
            self.recipient = recipient
            self.reply = reply
            self.remoteMTA = remoteMTA
        }
    }

    public var reportingMTA: String
    public var record: SpoolRecord
    public var failures: [FailedRecipient]
    /// The original message's header section (up to the empty line), CRLF line endings.
    public var originalHeaders: String
    /// The whole original message when it is returned (see ``returnsFullMessage(_:size:)``).
    public var originalMessage: String?
    public var date: Date

    /// Largest original returned whole (octets); larger ones are returned as headers only.
    /// Postfix's `bounce_size_limit` default.
    public static let fullMessageLimit = 50_000

    public init(reportingMTA: String, record: SpoolRecord, failures: [FailedRecipient], originalHeaders: String,
                originalMessage: String? = nil, date: Date = Date()) {
        self.reportingMTA = reportingMTA
        self.record = record
        self.failures = failures
        self.originalHeaders = originalHeaders
        self.originalMessage = originalMessage
        self.date = date
    }

    /// Whether the whole original is wanted and may be attached: RET=FULL or no RET
    /// (RFC 3461 §4.3 leaves that to us), and at most ``fullMessageLimit`` octets.
    public static func returnsFullMessage(_ parameters: MailParameters, size: Int) -> Bool {
        parameters.dsnReturn != .headers && size <= fullMessageLimit
    }

    /// The message as text when it can travel inside a 7-bit bounce unchanged; nil otherwise
    /// (8-bit or binary content is then returned as headers only).
    public static func attachable(_ bytes: [UInt8]) -> String? {
        guard bytes.allSatisfy({ $0 < 0x80 && $0 != 0 }) else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Whether a failure of `recipient` is reported (RFC 3461 §4.1: no NOTIFY means FAILURE and
    /// DELAY; NOTIFY=NEVER means nothing).
    public static func wantsFailureNotice(_ recipient: EnvelopeRecipient) -> Bool {
        switch recipient.parameters.notify {
        case nil: return true
        case .never: return false
        case .on(_, let failure, _): return failure
        }
    }

    /// The failures the sender gets a bounce for: none for `<>` (no bounce loops, RFC 5321 §6.1).
    public static func reportable(_ failures: [FailedRecipient], sender: ReversePath) -> [FailedRecipient] {
        guard sender != .null else { return [] }
        return failures.filter { wantsFailureNotice($0.recipient) }
    }

    /// The envelope of the bounce: from `<>` to the original sender.
    public var envelope: Envelope? {
        guard case .mailbox(let sender) = record.envelope.reversePath else { return nil }
        return Envelope(reversePath: .null, recipients: [EnvelopeRecipient(path: .mailbox(sender))])
    }

    /// The complete message, CRLF line endings.
    public var message: String {
        let boundary = "=_\(record.id)_dsn"
        let sender = record.envelope.reversePath.mailbox.map { "\($0)" } ?? ""
        var lines: [String] = [
            "From: Mail Delivery System <MAILER-DAEMON@\(reportingMTA)>",
            "To: <\(sender)>",
            "Subject: Undelivered Mail Returned to Sender",
            "Date: \(ReceivedHeader.date(date))",
            "Message-ID: <\(record.id).dsn@\(reportingMTA)>",
            "Auto-Submitted: auto-replied",   // RFC 3834 §5
            "MIME-Version: 1.0",
            "Content-Type: multipart/report; report-type=delivery-status; boundary=\"\(boundary)\"",
            "",
            "This is a MIME-encapsulated message.",
            "",
            "--\(boundary)",
            "Content-Type: text/plain; charset=utf-8",
            "",
            "This is the mail system at \(reportingMTA).",
            "",
            "Your message could not be delivered to one or more recipients.",
            "",
        ]
        for failure in failures {
            lines.append("<\(Self.address(failure.recipient.path))>: \(failure.reply.code) \(failure.reply.text)")
        }
        lines += ["", "--\(boundary)", "Content-Type: message/delivery-status", ""]
        // Per-message fields (RFC 3464 §2.2).
        lines.append("Reporting-MTA: dns; \(reportingMTA)")
        if let envid = record.envelope.parameters.envelopeID { lines.append("Original-Envelope-Id: \(envid)") }
        lines.append("Arrival-Date: \(ReceivedHeader.date(record.arrival))")
        // Per-recipient fields (RFC 3464 §2.3).
        for failure in failures {
            lines.append("")
            if let orcpt = failure.recipient.parameters.originalRecipient {
                lines.append("Original-Recipient: \(orcpt.addressType); \(orcpt.address)")
            }
            lines.append("Final-Recipient: rfc822; \(Self.address(failure.recipient.path))")
            lines.append("Action: failed")
            let status = failure.reply.enhancedCode ?? EnhancedStatusCode(5, 0, 0)
            lines.append("Status: \(status.statusClass == 5 ? status : EnhancedStatusCode(5, status.subject, status.detail))")
            if let remote = failure.remoteMTA { lines.append("Remote-MTA: dns; \(remote)") }
            lines.append("Diagnostic-Code: smtp; \(failure.reply.code) \(failure.reply.enhancedCode.map { "\($0) " } ?? "")\(failure.reply.text)")
        }
        let original = originalMessage ?? originalHeaders
        lines += ["", "--\(boundary)", "Content-Type: \(originalMessage == nil ? "text/rfc822-headers" : "message/rfc822")", ""]
        var text = lines.joined(separator: "\r\n") + "\r\n"
        text += original
        if !original.hasSuffix("\r\n") { text += "\r\n" }
        text += "\r\n--\(boundary)--\r\n"
        return text
    }

    static func address(_ path: ForwardPath) -> String {
        switch path {
        case .postmaster: return "Postmaster"
        case .mailbox(let mailbox): return mailbox.description
        }
    }

    /// Reads the whole message (callers check the size first).
    static func wholeMessage(of stream: SpoolMessageStream) async throws -> [UInt8] {
        var collected: [UInt8] = []
        for try await chunk in stream { collected += chunk.readableBytesView }
        return collected
    }

    /// Reads the header section (until the first empty line, at most `limit` octets).
    static func headerSection(of stream: SpoolMessageStream, limit: Int = 64 * 1024) async throws -> String {
        var collected: [UInt8] = []
        for try await chunk in stream {
            collected += chunk.readableBytesView
            if let end = collected.firstRange(of: [0x0D, 0x0A, 0x0D, 0x0A]) {
                return String(decoding: collected[..<(end.lowerBound + 2)], as: UTF8.self)
            }
            if collected.count >= limit { break }
        }
        return String(decoding: collected.prefix(limit), as: UTF8.self)
    }
}
