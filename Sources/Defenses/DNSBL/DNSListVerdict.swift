/// The combined answer of all configured DNS lists for one client.
public enum DNSListResult: String, Hashable, Sendable, CustomStringConvertible {
    /// No block list reached the threshold and every list that could have did answer.
    case notListed = "none"
    /// The block-list score reached the threshold, and no allow list listed the client.
    case listed
    /// An allow list (DNSWL) listed the client: it wins over every block list.
    case allowed
    /// Not listed by what answered, but lists that did not answer (timeout, SERVFAIL, refusal
    /// code) could have reached the threshold. Never a reason for a permanent rejection.
    case unknown

    public var description: String { rawValue }
}

/// One look-up: one zone asked about one subject.
public struct DNSListLookup: Hashable, Sendable, CustomStringConvertible {
    public enum Outcome: Hashable, Sendable {
        /// The list has an entry whose code counts (``DNSListZone/codes``).
        case listed(codes: [IPv4Address], labels: [String])
        /// NXDOMAIN or NODATA, or only answers that do not count (`ignored`, logged).
        case notListed(ignored: [IPv4Address])
        /// No answer that can be trusted: timeout, SERVFAIL, a refusal code, the time limit.
        case unknown(String)
        /// The zone failed its [RFC 5782 §5](https://www.rfc-editor.org/rfc/rfc5782#section-5)
        /// health check and was not asked.
        case unusable(String)
        /// Not asked: the name cannot be formed (too long, invalid), or the zone has no IPv6 entries.
        case skipped(String)
    }

    /// The zone name.
    public var zone: String
    public var kind: DNSListZone.Kind
    public var subject: DNSListSubject
    /// The IP address or domain looked up.
    public var value: String
    /// The name asked, when one could be formed.
    public var queryName: String?
    public var outcome: Outcome
    /// What a listing adds to the score (the zone's or its code's weight); for an unknown or
    /// unusable look-up what it could have added.
    public var weight: Double
    /// The list's TXT record for a listing, for the log only (never on the wire); control
    /// characters removed, at most ``DNSListConfiguration/maxReasonLength`` characters.
    public var reason: String?

    public var isListed: Bool {
        if case .listed = outcome { return true }
        return false
    }

    public var isUnknown: Bool {
        if case .unknown = outcome { return true }
        return false
    }

    /// One trail line: zone, subject, the query asked and what it found, e.g.
    /// `bl.example ip=192.0.2.99 (99.2.0.192.bl.example A) listed 127.0.0.2 weight 1.0 "reason"`.
    public var description: String {
        var head = "\(zone) \(subject)=\(value)"
        if let queryName { head += " (\(queryName) A)" }
        switch outcome {
        case .listed(let codes, let labels):
            var text = "\(head) listed \(codes.map(\.description).joined(separator: ","))"
            if !labels.isEmpty { text += " [\(labels.joined(separator: ","))]" }
            if kind == .block { text += " weight \(weight)" }
            if let reason { text += " \"\(reason)\"" }
            return text
        case .notListed(let ignored) where ignored.isEmpty: return "\(head) not listed"
        case .notListed(let ignored): return "\(head) not listed (ignored answer \(ignored.map(\.description).joined(separator: ",")))"
        case .unknown(let why): return "\(head) unknown: \(why)"
        case .unusable(let why): return "\(head) zone unusable: \(why)"
        case .skipped(let why): return "\(head) skipped: \(why)"
        }
    }
}

/// What ``DNSListChecker/check(clientIP:helo:mailFromDomain:)`` found: the combined result, the
/// score and every look-up behind it.
public struct DNSListVerdict: Hashable, Sendable {
    public var result: DNSListResult
    /// The sum of the weights of block-list listings.
    public var score: Double
    /// ``DNSListConfiguration/threshold`` at the time of the check.
    public var threshold: Double
    /// Every look-up, in configuration order (zones, then subjects).
    public var lookups: [DNSListLookup]

    public init(result: DNSListResult, score: Double, threshold: Double, lookups: [DNSListLookup]) {
        self.result = result
        self.score = score
        self.threshold = threshold
        self.lookups = lookups
    }

    /// Block-list listings.
    public var listings: [DNSListLookup] { lookups.filter { $0.kind == .block && $0.isListed } }
    /// Allow-list listings.
    public var allowances: [DNSListLookup] { lookups.filter { $0.kind == .allow && $0.isListed } }
    /// Zones that gave no usable answer (named in the log).
    public var unknownZones: [String] { Self.unique(lookups.filter(\.isUnknown).map(\.zone)) }
    /// Zones ignored because they failed their health check.
    public var unusableZones: [String] {
        Self.unique(lookups.compactMap { if case .unusable = $0.outcome { $0.zone } else { nil } })
    }

    /// The reasoning trail: one line per look-up, then the decision.
    public var trail: [String] {
        lookups.map(\.description) + ["score \(score) threshold \(threshold): \(result)"]
    }

    /// A one-line summary for a log field: `listed score=2.0 zen.test=127.0.0.2 ...`.
    public var logSummary: String {
        var parts = ["\(result)", "score=\(score)/\(threshold)"]
        for lookup in lookups {
            switch lookup.outcome {
            case .listed(let codes, _):
                parts.append("\(lookup.zone)[\(lookup.subject)]=\(codes.map(\.description).joined(separator: ","))")
            case .unknown(let why): parts.append("\(lookup.zone)[\(lookup.subject)]=unknown(\(why))")
            case .unusable: parts.append("\(lookup.zone)=unusable")
            default: continue
            }
        }
        return parts.joined(separator: " ")
    }

    /// The subjects that block lists listed, in the order of ``DNSListSubject/allCases``.
    public var listedSubjects: [DNSListSubject] {
        DNSListSubject.allCases.filter { subject in listings.contains { $0.subject == subject } }
    }

    /// The `dnswl` method of Authentication-Results for an allow-list listing
    /// ([RFC 8904 §3](https://www.rfc-editor.org/rfc/rfc8904#section-3)):
    /// `dnswl=pass dns.zone=list.dnswl.example policy.ip=127.0.10.2`; `nil` without one.
    /// The list's TXT is not included.
    public var authenticationResultsFragment: String? {
        guard let allowed = allowances.first, case .listed(let codes, _) = allowed.outcome else { return nil }
        var text = "dnswl=pass dns.zone=\(allowed.zone)"
        if let code = codes.first { text += " policy.ip=\(code)" }
        return text
    }

    private static func unique(_ names: [String]) -> [String] {
        var seen = Set<String>()
        return names.filter { seen.insert($0).inserted }
    }
}
