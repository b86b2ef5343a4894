/// Why a scan produced no verdict.
public enum ScanError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The message is longer than the scanner accepts: our own
    /// ``ClamdConfiguration/maxStreamLength`` (nothing was sent) or clamd's `StreamMaxLength`
    /// (clamd answered `INSTREAM size limit exceeded. ERROR`). Retrying elsewhere does not help.
    case sizeLimitExceeded(limit: Int?)
    /// The connection could not be made (refused, no such socket, connect timeout).
    case connectFailed(endpoint: String, reason: String)
    /// No complete reply within ``ClamdConfiguration/scanTimeout``.
    case timedOut(endpoint: String)
    /// The connection closed, or failed, before a reply arrived.
    case connectionLost(endpoint: String, reason: String)
    /// clamd answered with an error line (`... ERROR`) or something we do not understand.
    case scannerError(endpoint: String, reply: String)
    /// No scanner is configured.
    case noScanner

    /// True when another clamd instance might succeed (the message itself is not the problem).
    public var isInstanceFailure: Bool {
        switch self {
        case .sizeLimitExceeded, .noScanner: false
        case .connectFailed, .timedOut, .connectionLost, .scannerError: true
        }
    }

    public var description: String {
        switch self {
        case .sizeLimitExceeded(let limit?): "size limit exceeded (\(limit) octets)"
        case .sizeLimitExceeded(nil): "size limit exceeded (clamd StreamMaxLength)"
        case .connectFailed(let endpoint, let reason): "connect to \(endpoint) failed: \(reason)"
        case .timedOut(let endpoint): "no reply from \(endpoint) in time"
        case .connectionLost(let endpoint, let reason): "connection to \(endpoint) lost: \(reason)"
        case .scannerError(let endpoint, let reply): "\(endpoint) answered \"\(reply)\""
        case .noScanner: "no scanner configured"
        }
    }
}
