/// Settings of DMARC evaluation.
public struct DMARCConfiguration: Sendable {
    /// Where organisational domains come from (``PublicSuffixList/embedded`` by default: ICANN
    /// and PRIVATE sections, see docs/dmarc.md).
    public var publicSuffixList: PublicSuffixList
    /// A number in 0..<100 per failing message, compared with `pct=`
    /// ([RFC 7489 §6.6.4](https://www.rfc-editor.org/rfc/rfc7489#section-6.6.4)); tests fix it.
    public var sample: @Sendable () -> Int
    /// Whether to look for A/AAAA/MX of a subdomain to apply `np=` (RFC 9091); costs up to three
    /// queries, only when the organisational record has `np=`.
    public var checkNonexistentDomains: Bool

    public init(
        publicSuffixList: PublicSuffixList = .embedded, sample: @escaping @Sendable () -> Int = { Int.random(in: 0..<100) },
        checkNonexistentDomains: Bool = true
    ) {
        self.publicSuffixList = publicSuffixList
        self.sample = sample
        self.checkNonexistentDomains = checkNonexistentDomains
    }
}

/// DMARC ([RFC 7489](https://www.rfc-editor.org/rfc/rfc7489)): does the domain in the From
/// field — the one the reader sees — match a domain that SPF or DKIM authenticated, and what does
/// that domain ask receivers to do when it does not?
///
/// A pure async function of the message's From field, the SPF and DKIM results already computed,
/// and the injected resolver (policy records at `_dmarc.<domain>`). It returns a verdict and a
/// disposition; what a role does with them is its policy's business.
///
/// ```swift
/// let dmarc = DMARCVerifier(resolver: dns)
/// let evaluation = await dmarc.evaluate(header: header, spf: spfVerification.mailFrom, dkim: dkimResults)
/// evaluation.result        // .pass .fail .none .temperror .permerror
/// evaluation.disposition   // .none .quarantine .reject (after pct sampling)
/// ```
public struct DMARCVerifier: Sendable {
    /// DM31 in the defense catalog ("DomainKeys (today DKIM, with DMARC alignment)").
    public static let defenseID = DefenseID.dmarc

    public var resolver: any DNSResolver
    public var configuration: DMARCConfiguration

    public init(resolver: any DNSResolver, configuration: DMARCConfiguration = DMARCConfiguration()) {
        self.resolver = resolver
        self.configuration = configuration
    }

    /// Evaluates a message: its From domain (§6.6.1), then ``evaluate(fromDomain:spf:dkim:)``.
    public func evaluate(header: MessageHeader, spf: SPFCheck?, dkim: [DKIMVerification]) async -> DMARCEvaluation {
        switch DMARCFromDomain.extract(from: header) {
        case .failure(let error):
            return DMARCEvaluation(
                result: .permerror, reason: "\(error) (RFC 7489 §6.6.1)",
                trail: ["From: \(error); no single author domain to evaluate (RFC 7489 §6.6.1)"])
        case .success(let domain):
            return await evaluate(fromDomain: domain, spf: spf, dkim: dkim)
        }
    }

    /// Evaluates an author domain against the SPF result (its MAIL FROM domain, or the HELO
    /// domain for a null sender, §4.1 note) and the DKIM results (`d=` of each signature).
    public func evaluate(fromDomain: String, spf: SPFCheck?, dkim: [DKIMVerification]) async -> DMARCEvaluation {
        let psl = configuration.publicSuffixList
        var from = MessageASCII.lowercased(fromDomain)
        if from.hasSuffix(".") { from.removeLast() }
        let organizational = psl.organizationalDomain(of: from)
        var evaluation = DMARCEvaluation(result: .none, fromDomain: from, organizationalDomain: organizational)
        evaluation.trail.append("From domain \(from), organisational domain \(organizational) (public suffix \(psl.publicSuffix(of: from) ?? "?"))")

        // §6.6.3 policy discovery.
        let found: (record: DMARCRecord, domain: String)
        switch await lookup(from, trail: &evaluation.trail) {
        case .found(let record):
            found = (record, from)
        case .failed(let result, let reason):
            evaluation.result = result
            evaluation.reason = reason
            return evaluation
        case .absent:
            guard organizational != from else {
                evaluation.reason = "no DMARC record"
                return evaluation
            }
            switch await lookup(organizational, trail: &evaluation.trail) {
            case .found(let record):
                found = (record, organizational)
            case .failed(let result, let reason):
                evaluation.result = result
                evaluation.reason = reason
                return evaluation
            case .absent:
                evaluation.reason = "no DMARC record"
                return evaluation
            }
        }
        let record = found.record
        evaluation.record = record
        evaluation.policyDomain = found.domain
        for note in record.ignored { evaluation.trail.append("  \(note)") }
        if record.policyImplied { evaluation.trail.append("  no valid p=, but a valid rua=: p=none (RFC 7489 §6.6.3)") }

        // Which policy applies.
        var policy = record.policy
        var source = DMARCPolicySource.domain
        if found.domain != from {
            source = .subdomain
            policy = record.subdomainPolicy ?? record.policy
            if let np = record.nonexistentPolicy, configuration.checkNonexistentDomains {
                if await isNonexistent(from, trail: &evaluation.trail) {
                    source = .nonexistent
                    policy = np
                }
            }
        }
        evaluation.policySource = source
        evaluation.requestedPolicy = policy

        // §3.1 identifier alignment.
        if let spf {
            let domain = MessageASCII.lowercased(spf.sender.domain)
            let aligned = Self.aligned(domain, from, mode: record.spfAlignment, psl: psl)
            evaluation.spf = DMARCIdentifierAlignment(method: "spf", domain: domain, result: spf.result.rawValue, aligned: aligned)
        }
        for verification in dkim {
            guard let signature = verification.signature else { continue }
            let aligned = Self.aligned(signature.domain, from, mode: record.dkimAlignment, psl: psl)
            evaluation.dkim.append(DMARCIdentifierAlignment(
                method: "dkim", domain: signature.domain, result: verification.result.rawValue, selector: signature.selector, aligned: aligned))
        }
        if let spf = evaluation.spf { evaluation.trail.append("SPF (\(record.spfAlignment)): \(spf)") } else { evaluation.trail.append("SPF: no result given") }
        if evaluation.dkim.isEmpty { evaluation.trail.append("DKIM (\(record.dkimAlignment)): no usable signature") }
        for entry in evaluation.dkim { evaluation.trail.append("DKIM (\(record.dkimAlignment)): \(entry)") }

        // §6.6.2 step 6: pass if either passes aligned.
        guard !evaluation.spfAligned && !evaluation.dkimAligned else {
            evaluation.result = .pass
            evaluation.trail.append("result pass: \(evaluation.dkimAligned ? "DKIM" : "SPF") passed aligned")
            return evaluation
        }
        evaluation.result = .fail
        // §6.6.4 with pct (§6.3): mail not sampled gets the next less strict policy.
        var disposition = DMARCDisposition(policy)
        if record.percentage < 100 {
            let draw = configuration.sample()
            if draw >= record.percentage {
                evaluation.sampledOut = true
                disposition = disposition.lowered
                evaluation.trail.append("pct=\(record.percentage): sample \(draw) not selected, \(policy) lowered to \(disposition)")
            } else {
                evaluation.trail.append("pct=\(record.percentage): sample \(draw) selected")
            }
        }
        evaluation.disposition = disposition
        evaluation.trail.append("result fail: no aligned pass; \(source)=\(policy), disposition \(disposition)")
        return evaluation
    }

    /// Whether two domains align (§3.1.1, §3.1.2): strict — equal; relaxed — the same
    /// organisational domain.
    public static func aligned(_ authenticated: String, _ from: String, mode: DMARCAlignmentMode, psl: PublicSuffixList) -> Bool {
        guard let a = PublicSuffixList.labels(authenticated)?.joined(separator: "."),
            let b = PublicSuffixList.labels(from)?.joined(separator: ".")
        else { return false }
        switch mode {
        case .strict: return a == b
        case .relaxed: return psl.organizationalDomain(of: a) == psl.organizationalDomain(of: b)
        }
    }

    // MARK: - Discovery

    enum Lookup {
        case found(DMARCRecord)
        case absent
        case failed(DMARCResult, String)
    }

    /// The DMARC record at `_dmarc.<domain>` (§6.6.3 steps 1–2, 5).
    private func lookup(_ domain: String, trail: inout [String]) async -> Lookup {
        let name = "_dmarc." + domain
        let answer: DNSAnswer<TXTRecord>
        do {
            answer = try await resolver.lookupTXT(name)
        } catch {
            if error.isNotFound {
                trail.append("\(name) TXT: \(error)")
                return .absent
            }
            if case .invalidName = error {
                trail.append("\(name) TXT: \(error)")
                return .failed(.permerror, "invalid name \(name)")
            }
            trail.append("\(name) TXT: \(error) → temperror")
            return .failed(.temperror, "policy look-up for \(domain) failed: \(error)")
        }
        let records = answer.records.map(\.text).filter(DMARCRecord.isDMARC)
        trail.append("\(name) TXT: \(answer.records.count) record(s), \(records.count) DMARC")
        guard !records.isEmpty else { return .absent }
        guard records.count == 1 else {
            return .failed(.permerror, "\(records.count) DMARC records at \(name)")
        }
        trail.append("  \"\(records[0])\"")
        do {
            return .found(try DMARCRecord.parse(records[0]))
        } catch {
            trail.append("  unusable: \(error)")
            return .failed(.permerror, "DMARC record at \(name): \(error)")
        }
    }

    /// RFC 9091 §2.1: no A, AAAA nor MX (NXDOMAIN or NODATA for each); a DNS failure counts as
    /// existing (the less strict choice).
    private func isNonexistent(_ domain: String, trail: inout [String]) async -> Bool {
        for type in [DNSRecordType.a, .aaaa, .mx] {
            do {
                _ = try await resolver.resolve(domain, type)
                trail.append("\(domain) \(type): exists, np= does not apply")
                return false
            } catch {
                guard error.isNotFound else {
                    trail.append("\(domain) \(type): \(error), treated as existing")
                    return false
                }
            }
        }
        trail.append("\(domain): no A, AAAA or MX, np= applies (RFC 9091)")
        return true
    }
}

extension DMARCDisposition {
    init(_ policy: DMARCPolicy) {
        switch policy {
        case .none: self = .none
        case .quarantine: self = .quarantine
        case .reject: self = .reject
        }
    }

    /// The next less strict disposition (§6.6.4: reject → quarantine → none).
    var lowered: DMARCDisposition {
        switch self {
        case .reject: .quarantine
        case .quarantine, .none: .none
        }
    }
}
