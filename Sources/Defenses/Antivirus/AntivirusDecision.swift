import SMTPCore

/// The antivirus stage's decision on one message: what the client hears and what the log says.
/// Pure: computed from the walk, the policy and the scan, so it is tested without sockets.
public enum AntivirusDecision: Hashable, Sendable {
    /// Pass the message on with this trace header value.
    case accept(headerValue: String)
    /// Refuse with `reply`; `reason` goes to the log only (generic words on the wire).
    case refuse(reply: Reply, reason: String, defense: DefenseID)

    /// `554 5.7.0`: a virus, a blocked attachment, a structure we will not walk. Generic on
    /// purpose: the sender learns the message was refused, not which signature or rule matched.
    public static let rejectedReply = Reply(.transactionFailed, EnhancedStatusCode(5, 7, 0), "Message content rejected")
    /// `451 4.3.0`: no scanner answered; the previous stage keeps the message and retries.
    public static let tempfailReply = Reply(.localError, .temporarySystemError, "Message could not be checked, try again later")
    /// `552 5.3.4`: larger than the stage scans.
    public static let tooBigReply = Reply(.exceededStorage, .messageTooBig, "Message too big for content checks")

    /// Decides from the parts of the walk (or its error), the attachment verdict and the scan.
    static func decide(walk: Result<Void, MIMEError>, attachment: AttachmentVerdict?, scan: ScanOutcome?,
                       configuration: AntivirusConfiguration) -> AntivirusDecision {
        if case .failure(let error) = walk {
            return .refuse(reply: rejectedReply, reason: "MIME structure refused: \(error)", defense: .antivirus)
        }
        if let attachment {
            return .refuse(reply: rejectedReply, reason: "attachment blocked: \(attachment)", defense: .antivirus)
        }
        let checks = configuration.attachments == nil ? "" : "; attachments=checked"
        guard let scan else {
            return .accept(headerValue: "unscanned (no scanner configured) by \(configuration.scannerName)\(checks)")
        }
        let scanner = scan.scanner.map { " via \($0)" } ?? ""
        switch scan.result {
        case .clean:
            return .accept(headerValue: "clean (ClamAV) by \(configuration.scannerName)\(checks)")
        case .infected(let signature):
            return .refuse(reply: rejectedReply, reason: "virus \(signature) found by clamd\(scanner)", defense: .antivirus)
        case .error(.sizeLimitExceeded(let limit)):
            let text = limit.map { "\($0) octets" } ?? "clamd StreamMaxLength"
            return .refuse(reply: tooBigReply, reason: "too big to scan (\(text))\(scanner)", defense: .antivirus)
        case .error(let error):
            let tried = scan.failures.isEmpty ? "\(error)" : scan.failures.joined(separator: "; ")
            switch configuration.failurePolicy {
            case .tempfail:
                return .refuse(reply: tempfailReply, reason: "no scanner answered: \(tried)", defense: .antivirus)
            case .passWithHeader:
                return .accept(headerValue: "unscanned (scanner unavailable) by \(configuration.scannerName)\(checks)")
            }
        }
    }
}
