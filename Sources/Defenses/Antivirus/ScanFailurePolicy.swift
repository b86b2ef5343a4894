/// What the antivirus stage does when no scanner produced a verdict (every clamd instance down,
/// timed out or answering errors). Never "pass silently" (DESIGN.md §6).
public enum ScanFailurePolicy: String, Hashable, Sendable, CaseIterable {
    /// `451 4.3.0`: the message stays with the previous stage, which retries later. The default.
    case tempfail
    /// Accept the message with `X-Virus-Scanned: unscanned ...` and log an error for each one.
    /// Opt-in, for sites that prefer delivery to delay.
    case passWithHeader = "pass-with-header"
}
