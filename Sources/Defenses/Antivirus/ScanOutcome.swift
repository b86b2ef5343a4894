/// A scan result and who produced it (for the log line and the trace header).
public struct ScanOutcome: Hashable, Sendable {
    public var result: ScanResult
    /// The instance that answered (`127.0.0.1:3310`, `unix:/run/clamav/clamd.ctl`), or nil when
    /// none did.
    public var scanner: String?
    /// Instances that failed before one answered, with the reason, in the order tried.
    public var failures: [String]

    public init(result: ScanResult, scanner: String? = nil, failures: [String] = []) {
        self.result = result
        self.scanner = scanner
        self.failures = failures
    }
}
