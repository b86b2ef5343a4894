/// A DMARC policy record, the TXT record at `_dmarc.<domain>`
/// ([RFC 7489 §6.3](https://www.rfc-editor.org/rfc/rfc7489#section-6.3)), with `np`
/// ([RFC 9091 §4.1](https://www.rfc-editor.org/rfc/rfc9091#section-4.1)).
///
/// Parsing follows §6.3 and §6.6.3: `v=DMARC1` must be the first tag; unknown tags are ignored;
/// a known tag with an invalid value is ignored (its default applies) — except `p`: a record
/// without a valid `p` is used as `p=none` when it has a valid `rua` URI, and is otherwise an
/// error (no policy). Tag names are case-insensitive here (the RFC's examples are lower case;
/// receivers accept `P=reject`).
public struct DMARCRecord: Hashable, Sendable {
    /// `p=`: the policy for the domain itself.
    public var policy: DMARCPolicy
    /// `sp=`: the policy for subdomains; `nil` when absent (then ``policy``).
    public var subdomainPolicy: DMARCPolicy?
    /// `np=`: the policy for non-existent subdomains (RFC 9091); `nil` when absent (then the
    /// subdomain policy).
    public var nonexistentPolicy: DMARCPolicy?
    /// `pct=`: the percentage of failing mail the policy applies to (0–100, default 100).
    public var percentage: Int
    /// `adkim=`: DKIM alignment (default relaxed).
    public var dkimAlignment: DMARCAlignmentMode
    /// `aspf=`: SPF alignment (default relaxed).
    public var spfAlignment: DMARCAlignmentMode
    /// `rua=`: where aggregate reports go (kept as written, split at commas).
    public var aggregateReportURIs: [String]
    /// `ruf=`: where failure reports go.
    public var failureReportURIs: [String]
    /// `fo=`: failure reporting options (`0`, `1`, `d`, `s`; default `0`).
    public var failureOptions: [String]
    /// `rf=`: failure report formats (default `afrf`).
    public var reportFormats: [String]
    /// `ri=`: seconds between aggregate reports (default 86400).
    public var reportInterval: UInt32
    /// Tags that were ignored, with why (for the reasoning trail).
    public var ignored: [String]
    /// Whether `p` was missing or invalid and a valid `rua` made it `p=none` (§6.6.3).
    public var policyImplied: Bool

    public init(
        policy: DMARCPolicy, subdomainPolicy: DMARCPolicy? = nil, nonexistentPolicy: DMARCPolicy? = nil, percentage: Int = 100,
        dkimAlignment: DMARCAlignmentMode = .relaxed, spfAlignment: DMARCAlignmentMode = .relaxed,
        aggregateReportURIs: [String] = [], failureReportURIs: [String] = [], failureOptions: [String] = ["0"],
        reportFormats: [String] = ["afrf"], reportInterval: UInt32 = 86400, ignored: [String] = [], policyImplied: Bool = false
    ) {
        self.policy = policy
        self.subdomainPolicy = subdomainPolicy
        self.nonexistentPolicy = nonexistentPolicy
        self.percentage = percentage
        self.dkimAlignment = dkimAlignment
        self.spfAlignment = spfAlignment
        self.aggregateReportURIs = aggregateReportURIs
        self.failureReportURIs = failureReportURIs
        self.failureOptions = failureOptions
        self.reportFormats = reportFormats
        self.reportInterval = reportInterval
        self.ignored = ignored
        self.policyImplied = policyImplied
    }

    /// Whether a TXT record is a DMARC record at all: it starts with `v=DMARC1` (§6.6.3 step 2:
    /// other records at the name are discarded).
    public static func isDMARC(_ text: String) -> Bool {
        var bytes = Array(text.utf8)[...]
        while let first = bytes.first, MessageASCII.isWSP(first) { bytes.removeFirst() }
        guard bytes.count >= 2, MessageASCII.lowercased(bytes[bytes.startIndex]) == UInt8(ascii: "v") else { return false }
        bytes.removeFirst()
        while let first = bytes.first, MessageASCII.isWSP(first) { bytes.removeFirst() }
        guard bytes.first == UInt8(ascii: "=") else { return false }
        bytes.removeFirst()
        while let first = bytes.first, MessageASCII.isWSP(first) { bytes.removeFirst() }
        let version = bytes.prefix { $0 != UInt8(ascii: ";") && !MessageASCII.isWSP($0) }
        return String(decoding: version, as: UTF8.self) == "DMARC1"
    }

    /// Parses a record's text (the strings of one TXT record joined).
    public static func parse(_ text: String) throws(DMARCRecordError) -> DMARCRecord {
        guard text.utf8.count <= 4096 else { throw DMARCRecordError("record longer than 4096 bytes") }
        let tags: DKIMTagList
        do {
            tags = try DKIMTagList.parse(Array(text.utf8))
        } catch {
            throw DMARCRecordError("syntax error: \(error)")
        }
        // §6.4: "v=" MUST be the first tag, with the value DMARC1 (case-sensitive).
        guard let first = tags.tags.first, first.name == "v" || first.name == "V" else { throw DMARCRecordError("v=DMARC1 is not the first tag") }
        guard first.value == "DMARC1" else { throw DMARCRecordError("unknown version v=\(first.value)") }
        var record = DMARCRecord(policy: .none)
        var policy: DMARCPolicy?
        for tag in tags.tags.dropFirst() {
            let name = MessageASCII.lowercased(tag.name)
            let value = tag.value
            let lower = MessageASCII.lowercased(value)
            func ignore() { record.ignored.append("\(tag.name)=\(value): invalid value, ignored") }
            switch name {
            case "p":
                if let parsed = DMARCPolicy(rawValue: lower) { policy = parsed } else { ignore() }
            case "sp":
                if let parsed = DMARCPolicy(rawValue: lower) { record.subdomainPolicy = parsed } else { ignore() }
            case "np":
                if let parsed = DMARCPolicy(rawValue: lower) { record.nonexistentPolicy = parsed } else { ignore() }
            case "pct":
                if value.utf8.count <= 3, let number = Int(value), (0...100).contains(number) { record.percentage = number } else { ignore() }
            case "adkim":
                if let mode = DMARCAlignmentMode(rawValue: lower) { record.dkimAlignment = mode } else { ignore() }
            case "aspf":
                if let mode = DMARCAlignmentMode(rawValue: lower) { record.spfAlignment = mode } else { ignore() }
            case "rua":
                record.aggregateReportURIs = uriList(value)
                if record.aggregateReportURIs.isEmpty { ignore() }
            case "ruf":
                record.failureReportURIs = uriList(value)
                if record.failureReportURIs.isEmpty { ignore() }
            case "fo":
                let options = lower.split(separator: ":").map { String($0).trimmingWSP() }
                if !options.isEmpty, options.allSatisfy({ ["0", "1", "d", "s"].contains($0) }) { record.failureOptions = options } else { ignore() }
            case "rf":
                let formats = lower.split(separator: ":").map { String($0).trimmingWSP() }
                if !formats.isEmpty, formats.allSatisfy({ $0 == "afrf" }) { record.reportFormats = formats } else { ignore() }
            case "ri":
                if value.utf8.count <= 10, let seconds = UInt32(value) { record.reportInterval = seconds } else { ignore() }
            case "v":
                throw DMARCRecordError("v= appears twice")
            default:
                record.ignored.append("\(tag.name)=: unknown tag, ignored")  // §6.3: "MUST be ignored"
            }
        }
        if let policy {
            record.policy = policy
        } else if !record.aggregateReportURIs.isEmpty {
            // §6.6.3 step 6: no valid p, but a valid rua: act as if p=none.
            record.policy = .none
            record.policyImplied = true
        } else {
            throw DMARCRecordError("no valid p= tag")
        }
        return record
    }

    /// A comma-separated list of `DMARC-URI`s (§6.4): each `scheme:...` with an optional `!size`.
    /// Entries without a scheme are dropped.
    private static func uriList(_ value: String) -> [String] {
        value.split(separator: ",").map { String($0).trimmingWSP() }.filter { uri in
            guard let colon = uri.firstIndex(of: ":"), colon != uri.startIndex else { return false }
            return uri[..<colon].allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "+-.".contains($0)) }
        }
    }

    /// The record as text (the tags that differ from their defaults, in RFC order).
    public var text: String {
        var parts = ["v=DMARC1", "p=\(policy)"]
        if let subdomainPolicy { parts.append("sp=\(subdomainPolicy)") }
        if let nonexistentPolicy { parts.append("np=\(nonexistentPolicy)") }
        if percentage != 100 { parts.append("pct=\(percentage)") }
        if dkimAlignment != .relaxed { parts.append("adkim=\(dkimAlignment.rawValue)") }
        if spfAlignment != .relaxed { parts.append("aspf=\(spfAlignment.rawValue)") }
        if !aggregateReportURIs.isEmpty { parts.append("rua=" + aggregateReportURIs.joined(separator: ",")) }
        if !failureReportURIs.isEmpty { parts.append("ruf=" + failureReportURIs.joined(separator: ",")) }
        return parts.joined(separator: "; ")
    }
}

/// Why a DMARC record cannot be used; DMARC then applies no policy (§6.6.3).
public struct DMARCRecordError: Error, Hashable, Sendable, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}

/// `p=`, `sp=`, `np=` values ([RFC 7489 §6.3](https://www.rfc-editor.org/rfc/rfc7489#section-6.3)).
public enum DMARCPolicy: String, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    /// Monitoring only.
    case none
    /// Treat failing mail as suspicious (spam folder, quarantine).
    case quarantine
    /// Reject failing mail during the SMTP transaction.
    case reject

    public var description: String { rawValue }
}

/// `adkim=` / `aspf=` ([RFC 7489 §3.1](https://www.rfc-editor.org/rfc/rfc7489#section-3.1)).
public enum DMARCAlignmentMode: String, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    /// `r`: the organisational domains match.
    case relaxed = "r"
    /// `s`: the domains match exactly.
    case strict = "s"

    public var description: String { self == .relaxed ? "relaxed" : "strict" }
}

extension String {
    /// Without leading and trailing SP/HTAB.
    func trimmingWSP() -> String {
        var bytes = utf8[...]
        while let first = bytes.first, MessageASCII.isWSP(first) { bytes.removeFirst() }
        while let last = bytes.last, MessageASCII.isWSP(last) { bytes.removeLast() }
        return String(decoding: bytes, as: UTF8.self)
    }
}
