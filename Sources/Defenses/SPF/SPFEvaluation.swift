import SMTPCore

/// Why an evaluation stops early: the two error results of `check_host()`.
enum SPFAbort: Error {
    /// [RFC 7208 §2.6.6](https://www.rfc-editor.org/rfc/rfc7208#section-2.6.6).
    case temperror(String)
    /// [RFC 7208 §2.6.7](https://www.rfc-editor.org/rfc/rfc7208#section-2.6.7).
    case permerror(String)
}

/// The result of one (possibly nested) `check_host()` call.
struct SPFOutcome {
    var result: SPFResult
    var mechanism: String?
    var explanation: String?
    var problem: String?
}

/// One run of `check_host()` with everything it shares across `include` and `redirect`: the
/// counters of §4.6.4, the reverse-DNS results for `ptr` and `%{p}`, and the trail.
struct SPFEvaluation {
    let resolver: any DNSResolver
    let configuration: SPFConfiguration
    let records: SPFRecordCache
    /// `<ip>`, IPv4-mapped addresses already turned into IPv4.
    let ip: IPAddress
    let sender: SPFSender
    let helo: String

    private(set) var dnsTerms = 0
    private(set) var voidLookups = 0
    private(set) var trail: [String] = []
    /// The first PTR names of `<ip>` (§5.5), once looked up; `.failure` after a DNS error.
    private var ptrNames: Result<[String], DNSError>? = nil
    /// Names of `ptrNames` already validated (true: one of its addresses is `<ip>`).
    private var validated: [String: Bool] = [:]

    init(resolver: any DNSResolver, configuration: SPFConfiguration, records: SPFRecordCache = SPFRecordCache(), ip: IPAddress,
         sender: SPFSender, helo: String) {
        self.resolver = resolver
        self.configuration = configuration
        self.records = records
        self.ip = ip
        self.sender = sender
        self.helo = helo
    }

    // MARK: - Entry

    /// The top-level `check_host()` with its explanation, as an ``SPFCheck``.
    mutating func check(domain: String, identity: SPFIdentity) async -> SPFCheck {
        let outcome = await checkHost(domain: domain, explain: true)
        return SPFCheck(
            result: outcome.result, identity: identity, clientIP: ip,
            domain: Self.checkableDomain(domain) ?? domain, sender: sender, helo: helo,
            mechanism: outcome.mechanism, explanation: outcome.explanation, problem: outcome.problem, trail: trail,
            dnsTerms: dnsTerms, voidLookups: voidLookups)
    }

    /// `check_host()` for `domain`: record lookup (§4.3–4.5), evaluation (§4.6–4.7) and, on
    /// fail, the explanation (§6.2) when `explain` (never for `include`, §6.2: "MUST NOT" use
    /// the included domain's exp=).
    mutating func checkHost(domain rawDomain: String, explain: Bool) async -> SPFOutcome {
        // RFC 7208 §4.3: a malformed <domain> (label over 63 octets, empty label, not a
        // multi-label name, an address literal) gives "none" before any DNS query.
        guard let domain = Self.checkableDomain(rawDomain) else {
            note("\(rawDomain): not a domain that can be checked")
            return SPFOutcome(result: .none, problem: "\"\(rawDomain)\" is not a valid domain name")
        }
        let record: SPFRecord
        do {
            guard let found = try await lookupRecord(domain) else {
                return SPFOutcome(result: .none, problem: "no SPF record at \(domain)")
            }
            record = found
        } catch {
            return outcome(for: error)
        }
        do {
            return try await evaluate(record, domain: domain, explain: explain)
        } catch {
            return outcome(for: error)
        }
    }

    private mutating func outcome(for abort: SPFAbort) -> SPFOutcome {
        switch abort {
        case .temperror(let reason):
            note("temperror: \(reason)")
            return SPFOutcome(result: .temperror, problem: reason)
        case .permerror(let reason):
            note("permerror: \(reason)")
            return SPFOutcome(result: .permerror, problem: reason)
        }
    }

    // MARK: - Record lookup and selection (§4.4, §4.5)

    /// The one `v=spf1` TXT record of `domain`, parsed; `nil` for "none".
    private mutating func lookupRecord(_ domain: String) async throws(SPFAbort) -> SPFRecord? {
        let answer: DNSAnswer<TXTRecord>
        do {
            // RFC 7208 §4.4: TXT only; the SPF RR type (99) is not used any more (§3.1).
            answer = try await resolver.lookupTXT(Self.queryName(domain))
        } catch {
            if !error.isTemporary {
                // RFC 7208 §4.4: NXDOMAIN or no records: "none".
                note("\(domain): no TXT records (\(error))")
                return nil
            }
            // RFC 7208 §4.4: "If the DNS lookup returns a server failure (RCODE 2) or some other
            // error (RCODE other than 0 or 3), or if the lookup times out, then check_host()
            // terminates immediately with the result "temperror"."
            throw .temperror("TXT lookup of \(domain): \(error)")
        }
        // RFC 7208 §4.5: keep the records that begin with "v=spf1" followed by a space or the end.
        let candidates = answer.records.filter { SPFRecord.isSPFv1($0.strings.joined()) }
        guard !candidates.isEmpty else {
            note("\(domain): no v=spf1 record among \(answer.records.count) TXT records")
            return nil
        }
        // RFC 7208 §4.5: "If the resultant record set includes more than one record,
        // check_host() produces the "permerror" result."
        guard candidates.count == 1 else {
            throw .permerror("\(domain) publishes \(candidates.count) SPF records")
        }
        // RFC 7208 §3.3: the character-strings of one record are joined without separator.
        let text = String(decoding: candidates[0].strings.joined(), as: UTF8.self)
        note("\(domain): \"\(text)\"")
        do {
            return try records.record(text)
        } catch {
            throw .permerror("\(domain): \(error.reason)")  // RFC 7208 §4.6
        }
    }

    // MARK: - Evaluation (§4.6, §4.7, §5, §6)

    private mutating func evaluate(_ record: SPFRecord, domain: String, explain: Bool) async throws(SPFAbort) -> SPFOutcome {
        for directive in record.directives {
            if Task.isCancelled { throw .temperror("evaluation cancelled") }
            if directive.mechanism.queriesDNS { try countDNSTerm(directive.text) }
            guard try await matches(directive.mechanism, domain: domain) else { continue }
            let result = directive.qualifier.result
            note("\(domain): \(directive.text) matched: \(result)")
            var outcome = SPFOutcome(result: result, mechanism: directive.text)
            if result == .fail && explain {
                outcome.explanation = await explanation(record, domain: domain)
            }
            return outcome
        }
        // RFC 7208 §6.1: redirect applies only when no mechanism matched (and an "all" always does).
        if let redirect = record.redirect {
            try countDNSTerm("redirect=\(redirect)")
            guard let target = try await expandDomain(redirect, domain: domain) else {
                throw .permerror("redirect=\(redirect) expands to an invalid domain name")
            }
            note("\(domain): redirect to \(target)")
            // The redirected domain's own exp= applies, not this one's (§6.2).
            var inner = await checkHost(domain: target, explain: explain)
            // RFC 7208 §6.1: "if no SPF record is found, or if the <target-name> is malformed,
            // the result is a "permerror" rather than "none"".
            if inner.result == .none {
                inner = SPFOutcome(result: .permerror, mechanism: "redirect=\(redirect)", problem: "redirect target \(target) has no SPF record")
            }
            return inner
        }
        // RFC 7208 §4.7: no match and no redirect: "neutral".
        note("\(domain): no mechanism matched: neutral")
        return SPFOutcome(result: .neutral, mechanism: "default")
    }

    /// RFC 7208 §4.6.4: at most `maxDNSTerms` DNS-querying terms in the whole evaluation.
    private mutating func countDNSTerm(_ term: String) throws(SPFAbort) {
        dnsTerms += 1
        guard dnsTerms <= configuration.maxDNSTerms else {
            throw .permerror("more than \(configuration.maxDNSTerms) DNS-querying terms (at \(term))")
        }
    }

    /// RFC 7208 §4.6.4: at most `maxVoidLookups` look-ups answered NXDOMAIN or empty.
    private mutating func countVoidLookup(_ what: String) throws(SPFAbort) {
        voidLookups += 1
        note("void lookup \(voidLookups): \(what)")
        guard voidLookups <= configuration.maxVoidLookups else {
            throw .permerror("more than \(configuration.maxVoidLookups) void DNS lookups (at \(what))")
        }
    }

    private mutating func matches(_ mechanism: SPFMechanism, domain: String) async throws(SPFAbort) -> Bool {
        switch mechanism {
        case .all:
            return true  // RFC 7208 §5.1

        case .include(let spec):
            // RFC 7208 §5.2: the result of the recursive check_host() decides.
            guard let target = try await expandDomain(spec, domain: domain) else {
                throw .permerror("include:\(spec) expands to an invalid domain name")
            }
            let inner = await checkHost(domain: target, explain: false)
            switch inner.result {
            case .pass: return true
            case .fail, .softfail, .neutral: return false
            case .temperror: throw .temperror(inner.problem ?? "include:\(target): temperror")
            case .permerror: throw .permerror(inner.problem ?? "include:\(target): permerror")
            // RFC 7208 §5.2: an included domain without a record is a permerror.
            case .none: throw .permerror("include:\(target) has no SPF record")
            }

        case .a(let spec, let cidr):
            // RFC 7208 §5.3: the A (IPv4 client) or AAAA (IPv6 client) records of the target.
            guard let target = try await targetOrDomain(spec, domain: domain) else { return false }
            let addresses = try await addresses(of: target, countVoid: true)
            return addresses.contains { Self.ip(ip, isIn: $0, cidr: cidr) }

        case .mx(let spec, let cidr):
            // RFC 7208 §5.4: the addresses of every MX host of the target.
            guard let target = try await targetOrDomain(spec, domain: domain) else { return false }
            let exchanges: [MXRecord]
            do {
                exchanges = try await resolver.lookupMX(Self.queryName(target)).records
            } catch {
                try handleLookupError(error, what: "MX \(target)")
                return false
            }
            // RFC 7208 §4.6.4: "the evaluation of each "MX" record MUST NOT result in querying more
            // than 10 address records ... If this limit is exceeded, the "mx" mechanism MUST
            // produce a "permerror" result."
            guard exchanges.count <= configuration.maxMXRecords else {
                throw .permerror("\(target) has \(exchanges.count) MX records, more than \(configuration.maxMXRecords)")
            }
            for exchange in exchanges where !exchange.isNullMX && exchange.exchange != "." {
                // RFC 7208 §5.4: the target-name is not used as an implicit MX.
                let addresses = try await addresses(of: Self.stripDot(exchange.exchange), countVoid: false)
                if addresses.contains(where: { Self.ip(ip, isIn: $0, cidr: cidr) }) { return true }
            }
            return false

        case .ptr(let spec):
            // RFC 7208 §5.5: a validated PTR name equal to or under the target.
            guard let target = try await targetOrDomain(spec, domain: domain) else { return false }
            let names: [String]
            switch await reverseNames() {
            case .success(let found): names = found
            case .failure(let error):
                // RFC 7208 §5.5: "If a DNS error occurs while doing the PTR RR lookup, then this
                // mechanism fails to match."
                if error.isNotFound { try countVoidLookup("PTR \(ip)") }
                return false
            }
            let wanted = target.lowercased()
            for name in names {
                let lower = name.lowercased()
                guard lower == wanted || lower.hasSuffix("." + wanted) else { continue }
                if await isValidated(name) { return true }
            }
            return false

        case .ip4(let network, let prefix):
            // RFC 7208 §5.6: IPv4 clients only (IPv4-mapped addresses were made IPv4 already).
            guard case .v4(let address) = ip else { return false }
            return Self.prefixMatches(address.octets, network.octets, prefix)

        case .ip6(let network, let prefix):
            guard case .v6(let address) = ip else { return false }
            return Self.prefixMatches(address.octets, network.octets, prefix)

        case .exists(let spec):
            // RFC 7208 §5.7: an A query, whatever the client's address family.
            guard let target = try await expandDomain(spec, domain: domain) else { return false }
            do {
                let answer = try await resolver.lookupA(Self.queryName(target))
                return !answer.records.isEmpty
            } catch {
                try handleLookupError(error, what: "A \(target)")
                return false
            }
        }
    }

    /// A mechanism's target-name: its expanded domain-spec, or `<domain>` (§4.8); `nil` when the
    /// expansion is no usable name (then the mechanism does not match, §4.8/§4.3 by analogy).
    private mutating func targetOrDomain(_ spec: SPFMacroString?, domain: String) async throws(SPFAbort) -> String? {
        guard let spec else { return domain }
        return try await expandDomain(spec, domain: domain)
    }

    /// Not found counts as a void look-up and does not match; other errors are temperror.
    private mutating func handleLookupError(_ error: DNSError, what: String) throws(SPFAbort) {
        if error.isNotFound {
            try countVoidLookup(what)
        } else if case .invalidName = error {
            note("\(what): invalid name, no match")
        } else {
            throw .temperror("\(what): \(error)")
        }
    }

    /// The A or AAAA records of `name`, matching the client's family.
    private mutating func addresses(of name: String, countVoid: Bool) async throws(SPFAbort) -> [IPAddress] {
        do {
            switch ip {
            case .v4: return try await resolver.lookupA(Self.queryName(name)).records.map(IPAddress.v4)
            case .v6: return try await resolver.lookupAAAA(Self.queryName(name)).records.map(IPAddress.v6)
            }
        } catch {
            let type = if case .v4 = ip { "A" } else { "AAAA" }
            if countVoid {
                try handleLookupError(error, what: "\(type) \(name)")
            } else if !error.isNotFound, error.isTemporary {
                throw .temperror("\(type) \(name): \(error)")
            }
            return []
        }
    }

    // MARK: - Reverse DNS (§5.5, %{p})

    /// The first `maxPTRNames` PTR names of `<ip>`, looked up once per evaluation.
    private mutating func reverseNames() async -> Result<[String], DNSError> {
        if let ptrNames { return ptrNames }
        let result: Result<[String], DNSError>
        do {
            let answer = try await resolver.lookupPTR(ip)
            // RFC 7208 §4.6.4: "If this limit is exceeded, all records other than the first 10
            // MUST be ignored."
            result = .success(answer.records.prefix(configuration.maxPTRNames).map(Self.stripDot))
        } catch {
            result = .failure(error)
        }
        note("PTR \(ip): \((try? result.get())?.joined(separator: ", ") ?? "error")")
        ptrNames = result
        return result
    }

    /// RFC 7208 §5.5: a name is validated when one of its A/AAAA records is `<ip>`; "If a DNS
    /// error occurs while doing an A RR lookup, then that domain name is skipped".
    private mutating func isValidated(_ name: String) async -> Bool {
        let key = name.lowercased()
        if let known = validated[key] { return known }
        var found = false
        do {
            switch ip {
            case .v4(let address): found = try await resolver.lookupA(Self.queryName(name)).records.contains(address)
            case .v6(let address): found = try await resolver.lookupAAAA(Self.queryName(name)).records.contains(address)
            }
        } catch {
            note("validating \(name): \(error)")
        }
        validated[key] = found
        return found
    }

    /// `%{p}` (§7.3): `<domain>` if validated, else a validated subdomain of it, else any
    /// validated name, else "unknown".
    private mutating func validatedName(domain: String) async -> String {
        guard case .success(let names) = await reverseNames() else { return "unknown" }
        var valid: [String] = []
        for name in names {
            if await isValidated(name) { valid.append(name) }
        }
        let wanted = domain.lowercased()
        if let exact = valid.first(where: { $0.lowercased() == wanted }) { return exact }
        if let sub = valid.first(where: { $0.lowercased().hasSuffix("." + wanted) }) { return sub }
        return valid.first ?? "unknown"
    }

    // MARK: - Explanation (§6.2)

    /// The explanation of a fail: the `exp=` TXT record, macro-expanded, or the configured
    /// default. Look-ups here count against no limit (§4.6.4 lists no `exp`).
    private mutating func explanation(_ record: SPFRecord, domain: String) async -> String? {
        if configuration.fetchExplanation, let spec = record.explanation, let text = await fetchExplanation(spec, domain: domain) {
            return text
        }
        guard let fallback = configuration.defaultExplanation else { return nil }
        guard let parsed = try? SPFMacroString.parse(Substring(fallback), context: .explanation) else { return fallback }
        return (try? await expand(parsed, domain: domain)) ?? fallback
    }

    /// RFC 7208 §6.2: "If there are any DNS processing errors (any RCODE other than 0), or if no
    /// records are returned, or if more than one record is returned, or if there are syntax
    /// errors in the explanation string, then proceed as if no "exp" modifier was given."
    private mutating func fetchExplanation(_ spec: SPFMacroString, domain: String) async -> String? {
        guard let target = try? await expandDomain(spec, domain: domain) else { return nil }
        guard let answer = try? await resolver.lookupTXT(Self.queryName(target)), answer.records.count == 1 else {
            note("exp=\(target): no single TXT record, ignored")
            return nil
        }
        let bytes = answer.records[0].strings.joined()
        // RFC 7208 §6.2 (explain-string = *( macro-string / SP )): US-ASCII only.
        guard bytes.allSatisfy({ $0 < 0x80 }),
            let parsed = try? SPFMacroString.parse(Substring(String(decoding: bytes, as: UTF8.self)), context: .explanation),
            let text = try? await expand(parsed, domain: domain)
        else {
            note("exp=\(target): invalid explanation text, ignored")
            return nil
        }
        return text
    }

    // MARK: - Macro expansion (§7)

    /// Expands a domain-spec into a name to query (§4.8, §7.3); `nil` when the result cannot be
    /// a DNS name (empty or over-long label).
    private mutating func expandDomain(_ spec: SPFMacroString, domain: String) async throws(SPFAbort) -> String? {
        let expanded = try await expand(spec, domain: domain)
        guard let name = Self.truncated(expanded) else {
            note("\"\(expanded)\" is not a usable domain name")
            return nil
        }
        return name
    }

    /// Expands every macro of `string` (§7.3) for the current `<domain>`.
    mutating func expand(_ string: SPFMacroString, domain: String) async throws(SPFAbort) -> String {
        var out = ""
        for part in string.parts {
            switch part {
            case .literal(let text):
                out += text
            case .macro(let macro):
                out += macro.transform(await value(of: macro.letter, domain: domain))
            }
        }
        return out
    }

    /// The value of a macro letter before transformation (§7.3).
    private mutating func value(of letter: SPFMacro.Letter, domain: String) async -> String {
        switch letter {
        case .sender: return sender.description  // RFC 7208 §4.3: "postmaster" for a missing local-part
        case .localPart: return sender.effectiveLocalPart
        case .senderDomain: return Self.checkableDomain(sender.domain) ?? Self.stripDot(sender.domain)
        case .domain: return domain
        case .ip: return Self.macroIP(ip)
        case .validatedName: return await validatedName(domain: domain)
        case .ipVersion: if case .v4 = ip { return "in-addr" } else { return "ip6" }
        case .helo: return helo
        case .clientIP: return ip.description
        case .receiver: return configuration.receivingHost
        case .timestamp: return String(configuration.now())
        }
    }

    /// `%{i}`: dotted quad, or for IPv6 the 32 nibbles dot-separated, most significant first
    /// (§7.3; upper-case hex as in the examples of §7.4).
    static func macroIP(_ ip: IPAddress) -> String {
        switch ip {
        case .v4(let address): return address.description
        case .v6(let address):
            return address.octets.flatMap { [$0 >> 4, $0 & 0x0F] }.map { String($0, radix: 16, uppercase: true) }
                .joined(separator: ".")
        }
    }

    // MARK: - Names and addresses

    /// RFC 7208 §4.3: the initial <domain> must be a multi-label domain name with no empty
    /// label and no label over 63 octets; U-labels become A-labels (IDNA), one trailing dot goes.
    static func checkableDomain(_ text: String) -> String? {
        var name = text
        if name.hasPrefix("[") { return nil }  // an address literal is no domain (§2.3, §4.3)
        if !name.utf8.allSatisfy({ $0 < 0x80 }) {
            guard let ascii = try? IDNA.toASCII(name) else { return nil }
            name = ascii
        }
        guard let truncated = truncated(name) else { return nil }
        guard truncated.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else { return nil }
        guard truncated.split(separator: ".", omittingEmptySubsequences: false).count >= 2 else { return nil }
        return truncated
    }

    /// Drops one trailing dot; "if the expanded domain name exceeds 253 characters ... the left
    /// side is truncated to fit, by removing successive domain labels" (RFC 7208 §7.3); `nil`
    /// when a label is empty or longer than 63 octets (RFC 1035 §2.3.4).
    static func truncated(_ text: String) -> String? {
        var labels = stripDot(text).split(separator: ".", omittingEmptySubsequences: false)
        while labels.count > 1 && labels.reduce(labels.count - 1, { $0 + $1.utf8.count }) > 253 {
            labels.removeFirst()
        }
        guard !labels.isEmpty, labels.allSatisfy({ !$0.isEmpty && $0.utf8.count <= 63 }) else { return nil }
        return labels.joined(separator: ".")
    }

    static func stripDot(_ name: String) -> String {
        name.hasSuffix(".") ? String(name.dropLast()) : name
    }

    /// The name in the presentation form ``DNSQuestion`` takes: bytes that are not visible
    /// ASCII (a space from `%_`, a local-part's UTF-8) and backslashes become `\DDD` escapes, so
    /// a macro-built name is asked for exactly as built (RFC 2181 §11: any octet in a label).
    static func queryName(_ name: String) -> String {
        guard name.utf8.contains(where: { $0 <= 0x20 || $0 >= 0x7F || $0 == UInt8(ascii: "\\") }) else { return name }
        var out = ""
        for byte in name.utf8 {
            if byte <= 0x20 || byte >= 0x7F || byte == UInt8(ascii: "\\") {
                let digits = String(byte)
                out += "\\" + String(repeating: "0", count: 3 - digits.count) + digits
            } else {
                out.unicodeScalars.append(UnicodeScalar(byte))
            }
        }
        return out
    }

    /// `::ffff:a.b.c.d` as the IPv4 address a.b.c.d (RFC 4291 §2.5.5.2, RFC 7208 §5.6).
    static func unmapped(_ ip: IPAddress) -> IPAddress {
        ip.unmapped
    }

    /// Whether `ip` lies in `network`/cidr for the family of both.
    static func ip(_ ip: IPAddress, isIn network: IPAddress, cidr: SPFDualCIDR) -> Bool {
        switch (ip, network) {
        case (.v4(let a), .v4(let b)): prefixMatches(a.octets, b.octets, cidr.ipv4)
        case (.v6(let a), .v6(let b)): prefixMatches(a.octets, b.octets, cidr.ipv6)
        default: false
        }
    }

    /// The first `prefix` bits of two addresses agree.
    static func prefixMatches(_ a: [UInt8], _ b: [UInt8], _ prefix: Int) -> Bool {
        guard a.count == b.count else { return false }
        var bits = prefix
        for (x, y) in zip(a, b) {
            if bits <= 0 { return true }
            let mask: UInt8 = bits >= 8 ? 0xFF : ~(0xFF >> UInt8(bits))
            if x & mask != y & mask { return false }
            bits -= 8
        }
        return true
    }

    private mutating func note(_ line: String) {
        trail.append(line)
    }
}
