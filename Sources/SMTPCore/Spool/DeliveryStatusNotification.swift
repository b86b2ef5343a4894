import Foundation
import NIOCore

/// Builds a delivery status notification (RFC 3464): a bounce for recipients that failed, a
/// warning for recipients still being retried, or a success report.
///
/// `multipart/report; report-type=delivery-status` with a human-readable part, the
/// `message/delivery-status` part (per-message and per-recipient fields, RFC 3464 §2.2–2.3),
/// and the original. A failure report returns the whole message (`message/rfc822`) when the
/// sender asked for it or did not say (RFC 3461 §4.3, as Postfix does) and it is small and
/// 7-bit, else its header section (`text/rfc822-headers`, RFC 6522). RET is about failed
/// messages; delay and success reports carry the header section only (as Postfix's do).
public struct DeliveryStatusNotification: Sendable {
    /// What happened to a recipient (RFC 3464 §2.3.3, `Action`).
    public enum Action: String, Sendable, Hashable {
        /// Could not be delivered; no further attempt.
        case failed
        /// Not delivered yet; still being retried (a warning).
        case delayed
        /// Delivered into the recipient's mailbox (here: accepted by an LMTP hop, the store).
        case delivered
        /// Handed to a next hop that does not offer DSN: no further notice will come
        /// (RFC 3461 §5.2.2).
        case relayed
    }

    /// Which report this is: decides the subject, the explanation, the actions allowed and
    /// what of the original is returned.
    public enum Kind: String, Sendable, Hashable {
        /// A bounce: every recipient ``Action/failed``.
        case failure
        /// A delayed-delivery warning: every recipient ``Action/delayed``.
        case delay
        /// A success report: recipients ``Action/delivered`` or ``Action/relayed``.
        case success
    }

    /// One recipient the report is about, with the reply that explains its action.
    public struct ReportedRecipient: Sendable, Hashable {
        public var recipient: EnvelopeRecipient
        public var action: Action
        /// The last reply for this recipient: the next hop's, or one we synthesised.
        public var reply: Reply
        /// The hop that gave the reply, if any.
        public var remoteMTA: String?

        public init(recipient: EnvelopeRecipient, action: Action = .failed, reply: Reply, remoteMTA: String?) {
            self.recipient = recipient
            self.action = action
            self.reply = reply
            self.remoteMTA = remoteMTA
        }
    }

    /// The name from when every report was a bounce.
    public typealias FailedRecipient = ReportedRecipient

    public var kind: Kind
    public var reportingMTA: String
    public var record: SpoolRecord
    public var recipients: [ReportedRecipient]
    /// The original message's header section (up to the empty line), CRLF line endings.
    public var originalHeaders: String
    /// The whole original message when it is returned (failure reports only, see
    /// ``returnsFullMessage(_:size:)``).
    public var originalMessage: String?
    /// Until when a delayed recipient is retried (RFC 3464 §2.3.8 `Will-Retry-Until`): the
    /// message's arrival plus the retry lifetime. Delay reports only.
    public var willRetryUntil: Date?
    public var date: Date

    /// Largest original returned whole (octets); larger ones are returned as headers only.
    /// Postfix's `bounce_size_limit` default.
    public static let fullMessageLimit = 50_000

    public init(kind: Kind, reportingMTA: String, record: SpoolRecord, recipients: [ReportedRecipient],
                originalHeaders: String, originalMessage: String? = nil, willRetryUntil: Date? = nil, date: Date = Date()) {
        self.kind = kind
        self.reportingMTA = reportingMTA
        self.record = record
        self.recipients = recipients
        self.originalHeaders = originalHeaders
        self.originalMessage = kind == .failure ? originalMessage : nil
        self.willRetryUntil = kind == .delay ? willRetryUntil : nil
        self.date = date
    }

    /// A bounce for `failures`.
    public init(reportingMTA: String, record: SpoolRecord, failures: [ReportedRecipient], originalHeaders: String,
                originalMessage: String? = nil, date: Date = Date()) {
        self.init(kind: .failure, reportingMTA: reportingMTA, record: record, recipients: failures,
                  originalHeaders: originalHeaders, originalMessage: originalMessage, date: date)
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

    /// Whether a delay of `recipient` is reported. RFC 3461 §4.1 lets an MTA read a missing
    /// NOTIFY as FAILURE or as FAILURE,DELAY; we read it as FAILURE,DELAY (as sendmail and
    /// Postfix do when their warnings are on): a sender who asked for nothing still learns that
    /// the message is stuck. NOTIFY=NEVER, or a list without DELAY, means no warning.
    public static func wantsDelayNotice(_ recipient: EnvelopeRecipient) -> Bool {
        switch recipient.parameters.notify {
        case nil: return true
        case .never: return false
        case .on(_, _, let delay): return delay
        }
    }

    /// Whether a successful delivery (or relay) of `recipient` is reported: only when asked,
    /// NOTIFY=SUCCESS (RFC 3461 §4.1).
    public static func wantsSuccessNotice(_ recipient: EnvelopeRecipient) -> Bool {
        if case .on(let success, _, _)? = recipient.parameters.notify { return success }
        return false
    }

    /// Whether `kind` is wanted for `recipient` by its NOTIFY.
    public static func wants(_ kind: Kind, _ recipient: EnvelopeRecipient) -> Bool {
        switch kind {
        case .failure: return wantsFailureNotice(recipient)
        case .delay: return wantsDelayNotice(recipient)
        case .success: return wantsSuccessNotice(recipient)
        }
    }

    /// The failures the sender gets a bounce for: none for `<>` (no bounce loops, RFC 5321 §6.1).
    public static func reportable(_ failures: [ReportedRecipient], sender: ReversePath) -> [ReportedRecipient] {
        reportable(failures, kind: .failure, sender: sender)
    }

    /// The recipients a `kind` report goes out for: none for `<>` (RFC 3461 §6.2: reports are
    /// sent from `<>` and never answered), else those whose NOTIFY asks for it.
    public static func reportable(_ recipients: [ReportedRecipient], kind: Kind, sender: ReversePath) -> [ReportedRecipient] {
        guard sender != .null else { return [] }
        return recipients.filter { wants(kind, $0.recipient) }
    }

    /// Whether a message's header section says it is itself a delivery report
    /// (`Content-Type: multipart/report; report-type=delivery-status`, RFC 3464 §2). Such a
    /// message gets no delay or success report (a report about a report helps nobody); its
    /// sender should be `<>` anyway, this catches reports sent with a real sender.
    public static func isDeliveryReport(headers: String) -> Bool {
        // Unfold (RFC 5322 §2.2.3), then look at the Content-Type fields.
        let unfolded = headers.replacingOccurrences(of: "\r\n ", with: " ").replacingOccurrences(of: "\r\n\t", with: " ")
        for line in unfolded.components(separatedBy: "\r\n") {
            guard let colon = line.firstIndex(of: ":"),
                  line[..<colon].trimmingCharacters(in: .whitespaces).lowercased() == "content-type" else { continue }
            let value = String(line[line.index(after: colon)...].lowercased().filter { $0 != " " && $0 != "\t" })
            if value.hasPrefix("multipart/report"),
               value.contains("report-type=delivery-status") || value.contains("report-type=\"delivery-status\"") {
                return true
            }
        }
        return false
    }

    /// The envelope of the report: from `<>` to the original sender.
    public var envelope: Envelope? {
        guard case .mailbox(let sender) = record.envelope.reversePath else { return nil }
        return Envelope(reversePath: .null, recipients: [EnvelopeRecipient(path: .mailbox(sender))])
    }

    var subject: String {
        switch kind {
        case .failure: return "Undelivered Mail Returned to Sender"
        case .delay: return "Delayed Mail (still being retried)"
        case .success: return "Successful Mail Delivery Report"
        }
    }

    /// The human-readable explanation above the list of recipients.
    var explanation: [String] {
        switch kind {
        case .failure:
            return ["Your message could not be delivered to one or more recipients."]
        case .delay:
            var text = ["Your message could not be delivered yet to the recipients below.",
                        "This is only a warning: you do not need to send it again."]
            if let willRetryUntil {
                text.append("The mail system keeps trying until \(ReceivedHeader.date(willRetryUntil)).")
            }
            return text
        case .success:
            var text: [String] = []
            if recipients.contains(where: { $0.action == .delivered }) {
                text.append("Your message was delivered to the mailboxes of the recipients marked delivered.")
            }
            if recipients.contains(where: { $0.action == .relayed }) {
                text += ["Your message was passed on for the recipients marked relayed, to a mail server that",
                         "does not send delivery notifications: you will get no further notice about them."]
            }
            return text
        }
    }

    /// The `Status` of a recipient (RFC 3464 §2.3.4): the reply's enhanced code in the class
    /// the action implies (a temporary reply that ended in expiry is a failure: 5.x.x).
    static func status(of recipient: ReportedRecipient) -> EnhancedStatusCode {
        let statusClass: Int
        switch recipient.action {
        case .failed: statusClass = 5
        case .delayed: statusClass = 4
        case .delivered, .relayed: statusClass = 2
        }
        guard let code = recipient.reply.enhancedCode else { return EnhancedStatusCode(statusClass, 0, 0) }
        if code.statusClass == statusClass { return code }
        // A success keeps no failure detail (2.0.0); the other classes keep subject and detail.
        return statusClass == 2 ? EnhancedStatusCode(2, 0, 0) : EnhancedStatusCode(statusClass, code.subject, code.detail)
    }

    /// The complete message, CRLF line endings.
    public var message: String {
        let boundary = "=_\(record.id)_dsn"
        let sender = record.envelope.reversePath.mailbox.map { "\($0)" } ?? ""
        // Unique per report: one message can get several (a warning, success reports, bounces).
        let unique = String(Int64(date.timeIntervalSince1970 * 1000), radix: 36)
        let tag = kind == .failure ? "dsn" : kind.rawValue
        var lines: [String] = [
            "From: Mail Delivery System <MAILER-DAEMON@\(reportingMTA)>",
            "To: <\(sender)>",
            "Subject: \(subject)",
            "Date: \(ReceivedHeader.date(date))",
            "Message-ID: <\(record.id).\(tag).\(unique)@\(reportingMTA)>",
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
        ]
        lines += explanation
        lines.append("")
        for reported in recipients {
            let action = kind == .success ? " (\(reported.action.rawValue))" : ""
            lines.append("<\(Self.address(reported.recipient.path))>\(action): \(reported.reply.code) \(reported.reply.text)")
        }
        lines += ["", "--\(boundary)", "Content-Type: message/delivery-status", ""]
        // Per-message fields (RFC 3464 §2.2).
        lines.append("Reporting-MTA: dns; \(reportingMTA)")
        if let envid = record.envelope.parameters.envelopeID { lines.append("Original-Envelope-Id: \(envid)") }
        lines.append("Arrival-Date: \(ReceivedHeader.date(record.arrival))")
        // Per-recipient fields (RFC 3464 §2.3).
        for reported in recipients {
            lines.append("")
            if let orcpt = reported.recipient.parameters.originalRecipient {
                lines.append("Original-Recipient: \(orcpt.addressType); \(orcpt.address)")
            }
            lines.append("Final-Recipient: rfc822; \(Self.address(reported.recipient.path))")
            lines.append("Action: \(reported.action.rawValue)")
            lines.append("Status: \(Self.status(of: reported))")
            if let remote = reported.remoteMTA { lines.append("Remote-MTA: dns; \(remote)") }
            let reply = reported.reply
            lines.append("Diagnostic-Code: smtp; \(reply.code) \(reply.enhancedCode.map { "\($0) " } ?? "")\(reply.text)")
            if reported.action == .delayed, let willRetryUntil {
                lines.append("Will-Retry-Until: \(ReceivedHeader.date(willRetryUntil))")   // RFC 3464 §2.3.8
            }
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
