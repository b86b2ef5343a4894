import Foundation

/// One ``DMARCAggregateRecord`` as a line of JSON, the on-disk form of
/// ``DMARCReportFileStore``: short, stable key names, nothing the report does not need.
///
/// ```json
/// {"t":1733300000,"ip":"192.0.2.1","from":"example.com","mfrom":"example.com","pd":"example.com",
///  "p":"reject","pct":100,"adkim":"r","aspf":"r","rua":["mailto:d@example.com"],"disp":"reject",
///  "dkim_ok":false,"spf_ok":false,"dkim":[{"d":"example.com","s":"s1","r":"fail","a":true}],
///  "spf":{"d":"example.com","scope":"mfrom","r":"fail","a":true}}
/// ```
struct DMARCRecordLine: Codable, Sendable {
    struct Result: Codable, Sendable {
        var d: String
        var s: String?
        var scope: String?
        var r: String
        /// Aligned with the From domain.
        var a: Bool
    }

    var t: Int64
    var ip: String
    var from: String
    var mfrom: String?
    var pd: String
    var p: String
    var sp: String?
    var np: String?
    var pct: Int
    var adkim: String
    var aspf: String
    var rua: [String]
    var fo: [String]?
    var disp: String
    var dkim_ok: Bool
    var spf_ok: Bool
    var reasons: [String]?
    var dkim: [Result]
    var spf: Result?

    init(_ record: DMARCAggregateRecord) {
        let policy = record.policyPublished
        t = record.date
        ip = record.sourceIP.description
        from = record.headerFrom
        mfrom = record.envelopeFrom
        pd = record.policyDomain
        p = policy.policy.rawValue
        sp = policy.subdomainPolicy?.rawValue
        np = policy.nonexistentPolicy?.rawValue
        pct = policy.percentage
        adkim = policy.dkimAlignment.rawValue
        aspf = policy.spfAlignment.rawValue
        rua = policy.aggregateReportURIs
        fo = policy.failureOptions == ["0"] ? nil : policy.failureOptions
        disp = record.disposition.rawValue
        dkim_ok = record.dkimAligned
        spf_ok = record.spfAligned
        reasons = record.overrideReasons.isEmpty ? nil : record.overrideReasons
        dkim = record.dkim.map { Result(d: $0.domain, s: $0.selector, r: $0.result, a: $0.aligned) }
        spf = record.spf.map { Result(d: $0.domain, scope: record.spfScope, r: $0.result, a: $0.aligned) }
    }

    /// The record again; `nil` when a value is not one this version writes (a line from a
    /// newer version, or damaged).
    var record: DMARCAggregateRecord? {
        guard let address = IPAddress(ip), let policy = DMARCPolicy(rawValue: p), let disposition = DMARCDisposition(rawValue: disp),
              let dkimMode = DMARCAlignmentMode(rawValue: adkim), let spfMode = DMARCAlignmentMode(rawValue: aspf),
              (0...100).contains(pct) else { return nil }
        let published = DMARCRecord(
            policy: policy, subdomainPolicy: sp.flatMap(DMARCPolicy.init(rawValue:)),
            nonexistentPolicy: np.flatMap(DMARCPolicy.init(rawValue:)), percentage: pct, dkimAlignment: dkimMode,
            spfAlignment: spfMode, aggregateReportURIs: rua, failureOptions: fo ?? ["0"])
        return DMARCAggregateRecord(
            date: t, sourceIP: address, headerFrom: from, envelopeFrom: mfrom, policyDomain: pd, policyPublished: published,
            disposition: disposition, dkimAligned: dkim_ok, spfAligned: spf_ok, overrideReasons: reasons ?? [],
            dkim: dkim.map { DMARCIdentifierAlignment(method: "dkim", domain: $0.d, result: $0.r, selector: $0.s, aligned: $0.a) },
            spf: spf.map { DMARCIdentifierAlignment(method: "spf", domain: $0.d, result: $0.r, aligned: $0.a) },
            spfScope: spf?.scope)
    }
}
