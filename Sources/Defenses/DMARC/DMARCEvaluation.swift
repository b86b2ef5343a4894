/// One authenticated identifier and whether it aligns with the From domain
/// ([RFC 7489 §3.1](https://www.rfc-editor.org/rfc/rfc7489#section-3.1)).
public struct DMARCIdentifierAlignment: Hashable, Sendable, CustomStringConvertible {
    /// `spf` or `dkim`.
    public var method: String
    /// The authenticated domain (MAIL FROM or HELO domain, DKIM `d=`).
    public var domain: String
    /// The method's own result (`pass`, `fail`, ...).
    public var result: String
    /// The DKIM selector, for reports.
    public var selector: String?
    /// Whether the domain aligns with the From domain under the record's mode.
    public var aligned: Bool

    public init(method: String, domain: String, result: String, selector: String? = nil, aligned: Bool) {
        self.method = method
        self.domain = domain
        self.result = result
        self.selector = selector
        self.aligned = aligned
    }

    /// Counts for DMARC: the method passed and the domain aligns.
    public var alignedPass: Bool { aligned && result == "pass" }

    public var description: String {
        "\(method)=\(result) \(domain)\(selector.map { " s=\($0)" } ?? "") \(aligned ? "aligned" : "not aligned")"
    }
}

/// Everything DMARC decided about one message.
public struct DMARCEvaluation: Hashable, Sendable {
    /// The verdict.
    public var result: DMARCResult
    /// What the policy asks for after sampling (``DMARCDisposition/none`` unless ``result`` is fail).
    public var disposition: DMARCDisposition
    /// The From domain, when one was found.
    public var fromDomain: String?
    /// The From domain's organisational domain.
    public var organizationalDomain: String?
    /// Where the record was found (`example.com` for `_dmarc.example.com`).
    public var policyDomain: String?
    /// The record that applied.
    public var record: DMARCRecord?
    /// Which tag gave the policy.
    public var policySource: DMARCPolicySource?
    /// The policy before sampling (`p`, `sp` or `np`).
    public var requestedPolicy: DMARCPolicy?
    /// Whether `pct` sampling lowered the policy (report reason `sampled_out`).
    public var sampledOut: Bool
    /// The SPF identifier with its alignment; `nil` when no SPF result was given.
    public var spf: DMARCIdentifierAlignment?
    /// One entry per DKIM signature that named a domain.
    public var dkim: [DMARCIdentifierAlignment]
    /// Why, when the result is none, temperror or permerror.
    public var reason: String?
    /// What was looked up and what decided, in order.
    public var trail: [String]

    public init(
        result: DMARCResult, disposition: DMARCDisposition = .none, fromDomain: String? = nil, organizationalDomain: String? = nil,
        policyDomain: String? = nil, record: DMARCRecord? = nil, policySource: DMARCPolicySource? = nil,
        requestedPolicy: DMARCPolicy? = nil, sampledOut: Bool = false, spf: DMARCIdentifierAlignment? = nil,
        dkim: [DMARCIdentifierAlignment] = [], reason: String? = nil, trail: [String] = []
    ) {
        self.result = result
        self.disposition = disposition
        self.fromDomain = fromDomain
        self.organizationalDomain = organizationalDomain
        self.policyDomain = policyDomain
        self.record = record
        self.policySource = policySource
        self.requestedPolicy = requestedPolicy
        self.sampledOut = sampledOut
        self.spf = spf
        self.dkim = dkim
        self.reason = reason
        self.trail = trail
    }

    /// Whether SPF passed aligned.
    public var spfAligned: Bool { spf?.alignedPass ?? false }
    /// Whether some DKIM signature passed aligned.
    public var dkimAligned: Bool { dkim.contains(where: \.alignedPass) }
}

extension AuthenticationResult {
    /// `dmarc=fail (p=reject sp=quarantine dis=quarantine) header.from=example.com`
    /// ([RFC 7489 §11.2](https://www.rfc-editor.org/rfc/rfc7489#section-11.2) registers `dmarc`
    /// with `header.from`); the comment carries the policy and disposition as receivers
    /// commonly write them; `policy.dmarc` names the disposition taken.
    public static func dmarc(_ evaluation: DMARCEvaluation) -> AuthenticationResult {
        var result = AuthenticationResult(method: "dmarc", result: evaluation.result.rawValue)
        if let record = evaluation.record {
            var comment = "p=\(record.policy)"
            if let sp = record.subdomainPolicy { comment += " sp=\(sp)" }
            if let np = record.nonexistentPolicy { comment += " np=\(np)" }
            if record.percentage != 100 { comment += " pct=\(record.percentage)" }
            comment += " dis=\(evaluation.disposition)"
            result.comment = comment
        }
        if evaluation.result == .temperror || evaluation.result == .permerror || evaluation.result == .none { result.reason = evaluation.reason }
        if let from = evaluation.fromDomain { result.properties.append(AuthenticationProperty("header", "from", from)) }
        if evaluation.result == .fail { result.properties.append(AuthenticationProperty("policy", "dmarc", evaluation.disposition.rawValue)) }
        return result
    }
}
