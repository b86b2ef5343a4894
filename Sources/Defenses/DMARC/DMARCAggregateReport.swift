/// An aggregate ("rua") report for one policy domain and period, in the XML format of
/// [RFC 7489 Appendix C](https://www.rfc-editor.org/rfc/rfc7489#appendix-C): the records
/// of ``DMARCReportStore`` grouped into rows of identical source IP, evaluation and
/// identifiers, each with its message count.
///
/// Only the document is built here; compressing it, naming the file (§7.2.1.1, ``fileName``)
/// and mailing it to the `rua` URIs after the §7.1 external-destination check are the sender's
/// job.
public struct DMARCAggregateReport: Sendable {
    /// `report_metadata`: who reports.
    public struct Reporter: Sendable, Hashable {
        /// `org_name`.
        public var organization: String
        /// `email`: where the domain owner can write back.
        public var email: String
        /// `extra_contact_info` (a URL or phone number), optional.
        public var extraContact: String?
        /// The receiving domain, the first part of the file name.
        public var domain: String

        public init(organization: String, email: String, extraContact: String? = nil, domain: String) {
            self.organization = organization
            self.email = email
            self.extraContact = extraContact
            self.domain = domain
        }
    }

    /// One `record` element: a group of messages alike in everything the report shows.
    public struct Row: Sendable, Hashable {
        public var sourceIP: String
        public var headerFrom: String
        public var disposition: DMARCDisposition
        public var dkimAligned: Bool
        public var spfAligned: Bool
        public var reasons: [String]
        /// `(domain, selector, result)` per DKIM signature.
        public var dkim: [DKIMAuthResult]
        public var spfDomain: String
        public var spfScope: String
        public var spfResult: String

        public struct DKIMAuthResult: Sendable, Hashable {
            public var domain: String
            public var selector: String?
            public var result: String
        }
    }

    public var reporter: Reporter
    /// `report_id`: unique per report from this reporter.
    public var reportID: String
    /// `date_range`, seconds since the epoch, `end` exclusive.
    public var begin: Int64
    public var end: Int64
    public var policyDomain: String
    /// `policy_published`: the newest record seen in the period (policies change rarely; when
    /// they did, the report says what applied last).
    public var policyPublished: DMARCRecord
    /// The rows with their message counts, in order of first appearance.
    public var rows: [(row: Row, count: Int)]

    /// Groups `records` (all of `policyDomain`); `nil` when there are none.
    public init?(reporter: Reporter, reportID: String, begin: Int64, end: Int64, policyDomain: String,
                 records: [DMARCAggregateRecord]) {
        guard let newest = records.max(by: { $0.date < $1.date }) else { return nil }
        self.reporter = reporter
        self.reportID = reportID
        self.begin = begin
        self.end = end
        self.policyDomain = policyDomain
        policyPublished = newest.policyPublished
        var index: [Row: Int] = [:]
        var rows: [(row: Row, count: Int)] = []
        for record in records {
            let row = Row(record)
            if let at = index[row] {
                rows[at].count += 1
            } else {
                index[row] = rows.count
                rows.append((row, 1))
            }
        }
        self.rows = rows
    }

    /// How many messages the report covers.
    public var messageCount: Int { rows.reduce(0) { $0 + $1.count } }

    /// The file name of §7.2.1.1 without the compression suffix:
    /// `receiver!policy-domain!begin!end.xml`.
    public var fileName: String { "\(reporter.domain)!\(policyDomain)!\(begin)!\(end).xml" }

    /// The report document (UTF-8).
    public var xml: String {
        var out = XMLWriter()
        out.line("<?xml version=\"1.0\" encoding=\"UTF-8\"?>")
        out.open("feedback")
        out.element("version", "1.0")
        out.open("report_metadata")
        out.element("org_name", reporter.organization)
        out.element("email", reporter.email)
        if let extra = reporter.extraContact { out.element("extra_contact_info", extra) }
        out.element("report_id", reportID)
        out.open("date_range")
        out.element("begin", "\(begin)")
        out.element("end", "\(end)")
        out.close("date_range")
        out.close("report_metadata")
        out.open("policy_published")
        out.element("domain", policyDomain)
        out.element("adkim", policyPublished.dkimAlignment.rawValue)
        out.element("aspf", policyPublished.spfAlignment.rawValue)
        out.element("p", policyPublished.policy.rawValue)
        out.element("sp", (policyPublished.subdomainPolicy ?? policyPublished.policy).rawValue)
        out.element("pct", "\(policyPublished.percentage)")
        out.element("fo", policyPublished.failureOptions.joined(separator: ":"))
        out.close("policy_published")
        for (row, count) in rows {
            out.open("record")
            out.open("row")
            out.element("source_ip", row.sourceIP)
            out.element("count", "\(count)")
            out.open("policy_evaluated")
            out.element("disposition", row.disposition.rawValue)
            out.element("dkim", row.dkimAligned ? "pass" : "fail")
            out.element("spf", row.spfAligned ? "pass" : "fail")
            for reason in row.reasons {
                out.open("reason")
                out.element("type", reason)
                out.close("reason")
            }
            out.close("policy_evaluated")
            out.close("row")
            out.open("identifiers")
            out.element("header_from", row.headerFrom)
            out.close("identifiers")
            out.open("auth_results")
            for dkim in row.dkim {
                out.open("dkim")
                out.element("domain", dkim.domain)
                if let selector = dkim.selector { out.element("selector", selector) }
                out.element("result", dkim.result)
                out.close("dkim")
            }
            out.open("spf")
            out.element("domain", row.spfDomain)
            out.element("scope", row.spfScope)
            out.element("result", row.spfResult)
            out.close("spf")
            out.close("auth_results")
            out.close("record")
        }
        out.close("feedback")
        return out.text
    }
}

extension DMARCAggregateReport.Row {
    /// The row of one record. A result outside the report's vocabulary (DKIM: `none pass fail
    /// policy neutral temperror permerror`; SPF: `none neutral pass fail softfail temperror
    /// permerror`) is reported as `none`; a message without an SPF result reports SPF `none`
    /// for its envelope (or From) domain, since the schema requires one `spf` element.
    init(_ record: DMARCAggregateRecord) {
        sourceIP = record.sourceIP.description
        headerFrom = record.headerFrom
        disposition = record.disposition
        dkimAligned = record.dkimAligned
        spfAligned = record.spfAligned
        reasons = record.overrideReasons.filter(Self.reasonTypes.contains)
        dkim = record.dkim.map {
            DKIMAuthResult(domain: $0.domain, selector: $0.selector, result: Self.dkimResults.contains($0.result) ? $0.result : "none")
        }
        let spfDomain = record.spf?.domain ?? ""
        self.spfDomain = spfDomain.isEmpty ? (record.envelopeFrom.flatMap { $0.isEmpty ? nil : $0 } ?? record.headerFrom) : spfDomain
        spfScope = record.spfScope ?? "mfrom"
        spfResult = record.spf.map { Self.spfResults.contains($0.result) ? $0.result : "none" } ?? "none"
    }

    /// `PolicyOverrideType` of Appendix C.
    static let reasonTypes: Set<String> = ["forwarded", "sampled_out", "trusted_forwarder", "mailing_list", "local_policy", "other"]
    /// `DKIMResultType`.
    static let dkimResults: Set<String> = ["none", "pass", "fail", "policy", "neutral", "temperror", "permerror"]
    /// `SPFResultType`.
    static let spfResults: Set<String> = ["none", "neutral", "pass", "fail", "softfail", "temperror", "permerror"]
}

/// Indented XML with text escaped (`& < > "`), enough for the report's flat elements.
struct XMLWriter {
    private(set) var text = ""
    private var depth = 0

    mutating func line(_ content: String) {
        text += String(repeating: "  ", count: depth) + content + "\n"
    }

    mutating func open(_ name: String) {
        line("<\(name)>")
        depth += 1
    }

    mutating func close(_ name: String) {
        depth -= 1
        line("</\(name)>")
    }

    mutating func element(_ name: String, _ value: String) {
        line("<\(name)>\(Self.escape(value))</\(name)>")
    }

    static func escape(_ value: String) -> String {
        var out = ""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            // Control characters other than tab are not allowed in XML 1.0.
            case _ where scalar.value < 0x20 && scalar != "\t": out += "?"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}
