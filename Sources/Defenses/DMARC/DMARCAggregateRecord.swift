#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// One message's line in a future aggregate report
/// ([RFC 7489 Appendix C](https://www.rfc-editor.org/rfc/rfc7489#appendix-C), the `record`
/// element): who sent it, what the policy said, what was done, and the raw SPF/DKIM results.
/// Reports are built later by grouping these per policy domain and period; here they are only
/// recorded.
public struct DMARCAggregateRecord: Hashable, Sendable {
    /// When the message was evaluated (seconds since the epoch), to cut report periods.
    public var date: Int64
    /// `row/source_ip`.
    public var sourceIP: IPAddress
    /// `identifiers/header_from`.
    public var headerFrom: String
    /// `identifiers/envelope_from`: the MAIL FROM domain (empty for the null sender).
    public var envelopeFrom: String?
    /// The domain whose record applied (the report goes to its `rua`).
    public var policyDomain: String
    /// `policy_published` as it was seen (`p`, `sp`, `pct`, `adkim`, `aspf`, `rua`).
    public var policyPublished: DMARCRecord
    /// `policy_evaluated/disposition`.
    public var disposition: DMARCDisposition
    /// `policy_evaluated/dkim`: pass when some signature passed aligned.
    public var dkimAligned: Bool
    /// `policy_evaluated/spf`: pass when SPF passed aligned.
    public var spfAligned: Bool
    /// `policy_evaluated/reason`: `sampled_out` when pct lowered the policy.
    public var overrideReasons: [String]
    /// `auth_results/dkim`: domain, selector, result for each signature.
    public var dkim: [DMARCIdentifierAlignment]
    /// `auth_results/spf`: domain, scope (`mfrom` or `helo`), result.
    public var spf: DMARCIdentifierAlignment?
    /// `auth_results/spf/scope`.
    public var spfScope: String?

    public init(
        date: Int64, sourceIP: IPAddress, headerFrom: String, envelopeFrom: String?, policyDomain: String,
        policyPublished: DMARCRecord, disposition: DMARCDisposition, dkimAligned: Bool, spfAligned: Bool,
        overrideReasons: [String] = [], dkim: [DMARCIdentifierAlignment] = [], spf: DMARCIdentifierAlignment? = nil,
        spfScope: String? = nil
    ) {
        self.date = date
        self.sourceIP = sourceIP
        self.headerFrom = headerFrom
        self.envelopeFrom = envelopeFrom
        self.policyDomain = policyDomain
        self.policyPublished = policyPublished
        self.disposition = disposition
        self.dkimAligned = dkimAligned
        self.spfAligned = spfAligned
        self.overrideReasons = overrideReasons
        self.dkim = dkim
        self.spf = spf
        self.spfScope = spfScope
    }

    /// The record for an evaluation that found a policy (`nil` otherwise: without a record
    /// there is no one to report to). `envelopeFrom` is the MAIL FROM domain, `""` for the null
    /// sender (then the SPF scope is `helo`); by default it is taken from `spf`, which cannot tell
    /// a null sender from `postmaster@<helo>`.
    public init?(
        _ evaluation: DMARCEvaluation, sourceIP: IPAddress, spf: SPFCheck? = nil, envelopeFrom: String? = nil,
        date: Int64 = Int64(time(nil))
    ) {
        guard let record = evaluation.record, let policyDomain = evaluation.policyDomain, let from = evaluation.fromDomain else { return nil }
        let envelope = envelopeFrom ?? spf.map { $0.identity == .mailFrom ? $0.sender.domain : "" }
        let scope = spf.map { $0.identity == .helo || envelope == "" ? "helo" : "mfrom" }
        self.init(
            date: date, sourceIP: sourceIP, headerFrom: from, envelopeFrom: envelope,
            policyDomain: policyDomain, policyPublished: record, disposition: evaluation.disposition,
            dkimAligned: evaluation.dkimAligned, spfAligned: evaluation.spfAligned,
            overrideReasons: evaluation.sampledOut ? ["sampled_out"] : [], dkim: evaluation.dkim, spf: evaluation.spf,
            spfScope: scope)
    }
}
