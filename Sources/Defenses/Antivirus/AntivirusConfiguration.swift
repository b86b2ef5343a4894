import SMTPCore

/// How the antivirus stage checks each message (DM28 with clamd, plus the attachment policy).
/// Every value has a default except the scanner.
public struct AntivirusConfiguration: Sendable {
    /// The signature scanner (a ``ClamdClient``); nil runs the attachment policy alone and marks
    /// messages `unscanned` in the trace header, as ``ScanFailurePolicy/passWithHeader`` does.
    public var scanner: (any VirusScanner)?
    /// The attachment policy; nil turns attachment blocking off.
    public var attachments: AttachmentPolicy?
    /// Bounds of the MIME walk (a message beyond them is refused).
    public var mimeLimits: MIMELimits
    /// When no scanner answers.
    public var failurePolicy: ScanFailurePolicy
    /// The largest message the stage buffers and scans; a larger one is refused with
    /// `552 5.3.4` (permanent: retrying would not make it smaller). Keep it at or below the
    /// scanner's limit (``ClamdConfiguration/maxStreamLength``). Default 25 MiB.
    public var maxMessageSize: Int
    /// The trace header added to every accepted message. Default `X-Virus-Scanned`.
    public var headerName: String
    /// Who scanned, as named in the trace header (a host or stage name, never a version).
    public var scannerName: String
    /// Refuse or quarantine what does not pass. Default ``AntivirusAction/reject``.
    public var action: AntivirusAction = .reject
    /// Replace blocked attachments by a note (``AttachmentStripper``) and pass the rest of the
    /// message on, instead of treating the message like a virus. Viruses and MIME bombs are
    /// never stripped. Default false.
    public var stripBlockedAttachments = false
    /// Where ``AntivirusAction/quarantine`` holds messages; without one, quarantine falls back
    /// to rejecting (a message is never accepted and lost).
    public var quarantine: QuarantineStore?
    /// The node's counters: DM28's outcomes and ``DefenseMetrics/antivirus``. Nil: not counted.
    public var metrics: DefenseMetrics?

    public init(
        scanner: (any VirusScanner)?,
        attachments: AttachmentPolicy? = .default,
        mimeLimits: MIMELimits = MIMELimits(),
        failurePolicy: ScanFailurePolicy = .tempfail,
        maxMessageSize: Int = 25 * 1024 * 1024,
        headerName: String = "X-Virus-Scanned",
        scannerName: String = "mailnode"
    ) {
        self.scanner = scanner
        self.attachments = attachments
        self.mimeLimits = mimeLimits
        self.failurePolicy = failurePolicy
        self.maxMessageSize = maxMessageSize
        self.headerName = headerName
        self.scannerName = scannerName
    }
}
