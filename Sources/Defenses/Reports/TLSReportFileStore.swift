import Foundation
import SMTPCore

/// One TLS session with a recipient domain's mail exchanger, as a TLS report
/// ([RFC 8460 §4.3](https://www.rfc-editor.org/rfc/rfc8460#section-4.3)) counts it: the policy
/// that applied and either success or a result type, with the MX host and address.
public struct TLSReportRecord: Sendable, Hashable, Codable {
    /// Seconds since 1970.
    public var date: Int64
    /// The recipient domain (`policy-domain`).
    public var domain: String
    /// `policy-type`: `tlsa` when DANE authenticated the exchanger, `sts` when an MTA-STS policy
    /// applied, else `no-policy-found`.
    public var policyType: String
    /// `success`, or a `result-type` of §4.4: `starttls-not-supported`,
    /// `certificate-host-mismatch`, `certificate-expired`, `certificate-not-trusted`,
    /// `validation-failure`.
    public var result: String
    /// `receiving-mx-hostname`.
    public var mx: String
    /// `receiving-ip`.
    public var ip: String
    /// The client's words for a failure (`additional-information`), nil on success.
    public var reason: String?

    public init(date: Int64, domain: String, policyType: String, result: String, mx: String, ip: String, reason: String? = nil) {
        self.date = date
        self.domain = domain
        self.policyType = policyType
        self.result = result
        self.mx = mx
        self.ip = ip
        self.reason = reason
    }

    /// The record of an observed session; `nil` for a plaintext session under no policy, which
    /// RFC 8460 does not ask to count (no TLS was expected). `sts` says whether an MTA-STS
    /// policy (enforce or testing) applied to the domain.
    public init?(_ observation: TLSSessionObservation, sts: Bool) {
        let result: String
        var reason: String?
        switch observation.outcome {
        case .negotiated: result = "success"
        case .plaintext:
            guard sts else { return nil }
            result = "starttls-not-supported"
        case .startTLSNotOffered: result = "starttls-not-supported"
        case .failed(let text):
            result = Self.resultType(text)
            reason = text
        }
        // RFC 8460 §4.3: a DANE-authenticated exchanger reports under its TLSA policy.
        let dane = observation.hop.dane != nil
        self.init(date: Int64(observation.date.timeIntervalSince1970), domain: observation.domain,
                  policyType: dane ? "tlsa" : sts ? "sts" : "no-policy-found", result: result,
                  mx: observation.hop.tlsServerName ?? observation.hop.name, ip: observation.hop.host, reason: reason)
    }

    /// The §4.4 result type of a TLS failure, from the TLS library's message.
    static func resultType(_ text: String) -> String {
        if text.hasPrefix(DANEVerifier.noMatchingRecord) { return "tlsa-invalid" }
        if text.hasPrefix(DANEVerifier.anchorChainInvalid) { return "certificate-host-mismatch" }
        let lower = text.lowercased()
        if lower.contains("hostname") || lower.contains("couldn't find") { return "certificate-host-mismatch" }
        if lower.contains("expired") { return "certificate-expired" }
        if lower.contains("issuer") || lower.contains("self signed") || lower.contains("self-signed")
            || lower.contains("certificate verify failed") || lower.contains("untrusted") { return "certificate-not-trusted" }
        return "validation-failure"
    }
}

/// Where the outbound stage keeps ``TLSReportRecord``s: one JSON line per session in
/// `DIR/YYYY-MM-DD.jsonl` (``DayFileLog``: no fsync, torn lines skipped, old days removed),
/// the data a daily TLS report is built from.
public actor TLSReportFileStore {
    public nonisolated let directory: String
    private var log: DayFileLog
    /// Lines that could not be read back, since this instance started.
    public private(set) var skippedLines = 0

    public init(directory: String, retentionDays: Int = 31) throws {
        log = try DayFileLog(directory: directory, retentionDays: retentionDays)
        self.directory = directory
    }

    deinit {
        log.close()
    }

    public func append(_ record: TLSReportRecord) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        try log.append(try encoder.encode(record), day: UTCDay.day(of: record.date))
    }

    /// The records in `[from, to)` (seconds since 1970), oldest first.
    public func records(from: Int64, to: Int64) throws -> [TLSReportRecord] {
        guard from < to else { return [] }
        var records: [TLSReportRecord] = []
        for line in try log.lines(days: UTCDay.day(of: from), UTCDay.day(of: to - 1)) {
            guard let record = try? JSONDecoder().decode(TLSReportRecord.self, from: line) else { skippedLines += 1; continue }
            if record.date >= from && record.date < to { records.append(record) }
        }
        return records.sorted { $0.date < $1.date }
    }
}
