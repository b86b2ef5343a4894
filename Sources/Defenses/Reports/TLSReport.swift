import Foundation

/// A TLS report ([RFC 8460 §4](https://www.rfc-editor.org/rfc/rfc8460#section-4)) for one
/// recipient domain and day, built from ``TLSReportRecord``s: one `policies` entry per policy
/// type seen (`sts`, `no-policy-found`) with the session totals and the failures grouped by
/// result type, MX host and address.
///
/// Only the document is built; compressing it and delivering it to the domain's
/// `_smtp._tls.<domain>` `rua` (mailto or https, §3) are the sender's job for now.
public struct TLSReport: Sendable {
    public var organization: String
    public var contact: String
    public var reportID: String
    /// The day's first second and the first second after it (seconds since 1970).
    public var begin: Int64
    public var end: Int64
    public var domain: String
    /// The sender's domain, the first part of the file name.
    public var sender: String
    public var records: [TLSReportRecord]

    public init?(organization: String, contact: String, reportID: String, begin: Int64, end: Int64, domain: String, sender: String,
                 records: [TLSReportRecord]) {
        guard !records.isEmpty else { return nil }
        self.organization = organization
        self.contact = contact
        self.reportID = reportID
        self.begin = begin
        self.end = end
        self.domain = domain
        self.sender = sender
        self.records = records
    }

    /// `sender!policy-domain!begin!end.json` (§5.1, without `.gz`).
    public var fileName: String { "\(sender)!\(domain)!\(begin)!\(end).json" }

    public var successCount: Int { records.filter { $0.result == "success" }.count }
    public var failureCount: Int { records.count - successCount }

    /// The report as the JSON of §4.4 (keys sorted, so one day's data gives one document).
    public var json: Data {
        var policies: [[String: Any]] = []
        for type in ["sts", "no-policy-found"] {
            let matching = records.filter { $0.policyType == type }
            guard !matching.isEmpty else { continue }
            var policy: [String: Any] = ["policy-type": type, "policy-domain": domain]
            let hosts = Array(Set(matching.map(\.mx))).sorted()
            if type == "sts" { policy["mx-host"] = hosts }
            var failures: [String: (record: TLSReportRecord, count: Int)] = [:]
            for record in matching where record.result != "success" {
                let key = [record.result, record.mx, record.ip].joined(separator: "|")
                failures[key, default: (record, 0)].count += 1
            }
            let details: [[String: Any]] = failures.keys.sorted().map { key in
                let (record, count) = failures[key]!
                var detail: [String: Any] = [
                    "result-type": record.result, "receiving-mx-hostname": record.mx, "receiving-ip": record.ip,
                    "failed-session-count": count,
                ]
                if let reason = record.reason { detail["additional-information"] = reason }
                return detail
            }
            let successes = matching.filter { $0.result == "success" }.count
            var entry: [String: Any] = [
                "policy": policy,
                "summary": ["total-successful-session-count": successes, "total-failure-session-count": matching.count - successes],
            ]
            if !details.isEmpty { entry["failure-details"] = details }
            policies.append(entry)
        }
        let document: [String: Any] = [
            "organization-name": organization,
            "date-range": ["start-datetime": Self.timestamp(begin), "end-datetime": Self.timestamp(end - 1)],
            "contact-info": contact,
            "report-id": reportID,
            "policies": policies,
        ]
        return (try? JSONSerialization.data(withJSONObject: document, options: [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]))
            ?? Data()
    }

    /// RFC 3339 in UTC, `2026-12-03T00:00:00Z`.
    static func timestamp(_ seconds: Int64) -> String {
        let day = UTCDay.day(of: seconds)
        let rest = seconds - UTCDay.start(of: day)
        func two(_ value: Int64) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(UTCDay.name(of: day))T\(two(rest / 3600)):\(two(rest % 3600 / 60)):\(two(rest % 60))Z"
    }
}
