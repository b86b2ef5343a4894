#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import SMTPCore

/// Limits and local values of SPF evaluation. Defaults follow RFC 7208.
public struct SPFConfiguration: Sendable {
    /// Terms that query DNS (`include`, `a`, `mx`, `ptr`, `exists`, `redirect`) per check;
    /// one more is ``SPFResult/permerror``
    /// ([RFC 7208 §4.6.4](https://www.rfc-editor.org/rfc/rfc7208#section-4.6.4)).
    public var maxDNSTerms: Int
    /// Look-ups answered NXDOMAIN or with no records; one more is permerror (§4.6.4: "SHOULD
    /// limit ... to two").
    public var maxVoidLookups: Int
    /// MX records one `mx` mechanism may look at; more is permerror (§4.6.4).
    public var maxMXRecords: Int
    /// PTR names a `ptr` mechanism or `%{p}` looks at; the rest are ignored (§4.6.4).
    public var maxPTRNames: Int
    /// Wall-clock limit of one check; past it the result is temperror (§4.6.4: "SHOULD allow
    /// at least 20 seconds").
    public var timeLimit: Duration
    /// The receiving host's domain name, for `%{r}` in explanations (§7.3: "unknown" when
    /// there is none).
    public var receivingHost: String
    /// The explanation used on fail when the domain gives none: a macro-string that may use
    /// every macro (§6.2). `nil` (the default) leaves ``SPFCheck/explanation`` empty, so an SMTP
    /// reply keeps to generic words (DESIGN §3.5).
    public var defaultExplanation: String?
    /// Whether to look up `exp=` texts at all on fail (§6.2).
    public var fetchExplanation: Bool
    /// Whether ``SPFChecker/verify(clientIP:mailFrom:helo:)`` also checks the HELO identity
    /// (§2.3: RECOMMENDED).
    public var checkHELO: Bool
    /// Seconds since the epoch, for `%{t}`.
    public var now: @Sendable () -> Int64

    public init(
        maxDNSTerms: Int = 10, maxVoidLookups: Int = 2, maxMXRecords: Int = 10, maxPTRNames: Int = 10,
        timeLimit: Duration = .seconds(20), receivingHost: String = "unknown", defaultExplanation: String? = nil,
        fetchExplanation: Bool = true, checkHELO: Bool = true,
        now: @escaping @Sendable () -> Int64 = { Int64(time(nil)) }
    ) {
        self.maxDNSTerms = maxDNSTerms
        self.maxVoidLookups = maxVoidLookups
        self.maxMXRecords = maxMXRecords
        self.maxPTRNames = maxPTRNames
        self.timeLimit = timeLimit
        self.receivingHost = receivingHost
        self.defaultExplanation = defaultExplanation
        self.fetchExplanation = fetchExplanation
        self.checkHELO = checkHELO
        self.now = now
    }
}

/// SPF, the Sender Policy Framework ([RFC 7208](https://www.rfc-editor.org/rfc/rfc7208)): is the
/// client allowed to send mail for the domain of its MAIL FROM (and of its HELO name)?
///
/// A pure, asynchronous function of its inputs and the injected resolver: nothing is cached
/// here (put a ``DNSCachingResolver`` in front) and no policy is applied — the result is a verdict
/// (``SPFResult``) that a role's policy maps to an action. Catalog id: ``defenseID`` (DM30).
///
/// ```swift
/// let spf = SPFChecker(resolver: dns)
/// let verification = await spf.verify(clientIP: ip, mailFrom: .mailbox(from), helo: "mail.example.org")
/// verification.mailFrom.result                    // .pass
/// verification.mailFrom.receivedSPFHeader(receiver: "mx.example.net")
/// verification.mailFrom.authenticationResultsFragment   // "spf=pass smtp.mailfrom=example.org"
/// ```
public struct SPFChecker: Sendable {
    /// DM30 "Sender Policy Framework (SPF)" in the defense catalog.
    public static let defenseID = DefenseID.senderPolicyFramework

    public var resolver: any DNSResolver
    public var configuration: SPFConfiguration
    /// Records parsed once per text, shared by the copies of this checker.
    let records = SPFRecordCache()

    public init(resolver: any DNSResolver, configuration: SPFConfiguration = SPFConfiguration()) {
        self.resolver = resolver
        self.configuration = configuration
    }

    /// Checks both identities of a session ([RFC 7208 §2.3, §2.4](https://www.rfc-editor.org/rfc/rfc7208#section-2.3)):
    /// the HELO name (when it is a domain and ``SPFConfiguration/checkHELO`` is on) and the MAIL
    /// FROM reverse-path. For the null reverse-path the MAIL FROM identity is
    /// `postmaster@<helo>`, the same evaluation as the HELO check, which is then done once.
    public func verify(clientIP: IPAddress, mailFrom: ReversePath, helo: String) async -> SPFVerification {
        await verify(clientIP: clientIP, sender: mailFrom.mailbox.map(SPFSender.init), helo: helo)
    }

    /// ``verify(clientIP:mailFrom:helo:)`` with MAIL FROM as text: `local@domain`; empty or
    /// `<>` is the null reverse-path. Angle brackets around a mailbox are dropped.
    public func verify(clientIP: IPAddress, mailFrom: String, helo: String) async -> SPFVerification {
        await verify(clientIP: clientIP, sender: Self.sender(mailFrom), helo: helo)
    }

    private func verify(clientIP: IPAddress, sender: SPFSender?, helo: String) async -> SPFVerification {
        var heloCheck: SPFCheck? = nil
        if configuration.checkHELO, SPFEvaluation.checkableDomain(helo) != nil {
            heloCheck = await checkHELO(clientIP: clientIP, helo: helo)
        }
        guard let sender else {
            // RFC 7208 §2.4: a null reverse-path is checked as postmaster@<helo>, which is what
            // the HELO check evaluated.
            if var same = heloCheck {
                same.identity = .mailFrom
                return SPFVerification(helo: heloCheck, mailFrom: same)
            }
            let check = await checkHost(clientIP: clientIP, domain: helo, sender: .postmaster(helo), helo: helo, identity: .mailFrom)
            return SPFVerification(helo: nil, mailFrom: check)
        }
        let check = await checkHost(clientIP: clientIP, domain: sender.domain, sender: sender, helo: helo, identity: .mailFrom)
        return SPFVerification(helo: heloCheck, mailFrom: check)
    }

    /// The MAIL FROM identity alone (§2.4): `mailFrom` as text, empty or `<>` for the null path.
    public func checkMailFrom(clientIP: IPAddress, mailFrom: String, helo: String) async -> SPFCheck {
        let sender = Self.sender(mailFrom) ?? .postmaster(helo)
        return await checkHost(clientIP: clientIP, domain: sender.domain, sender: sender, helo: helo, identity: .mailFrom)
    }

    /// The HELO identity alone (§2.3): `<sender>` is `postmaster@<helo>`.
    public func checkHELO(clientIP: IPAddress, helo: String) async -> SPFCheck {
        await checkHost(clientIP: clientIP, domain: helo, sender: .postmaster(helo), helo: helo, identity: .helo)
    }

    /// `check_host(<ip>, <domain>, <sender>)` ([RFC 7208 §4](https://www.rfc-editor.org/rfc/rfc7208#section-4)),
    /// with the HELO name for `%{h}`, bounded by ``SPFConfiguration/timeLimit``.
    public func checkHost(
        clientIP: IPAddress, domain: String, sender: SPFSender, helo: String, identity: SPFIdentity
    ) async -> SPFCheck {
        // RFC 7208 §5 (ip4/ip6, §5.6 note): an IPv4-mapped IPv6 address is an IPv4 address.
        let ip = SPFEvaluation.unmapped(clientIP)
        let resolver = resolver
        let configuration = configuration
        let records = records
        let run: @Sendable () async -> SPFCheck = {
            var evaluation = SPFEvaluation(resolver: resolver, configuration: configuration, records: records, ip: ip,
                                           sender: sender, helo: helo)
            return await evaluation.check(domain: domain, identity: identity)
        }
        // RFC 7208 §4.6.4: "MTAs or other processors SHOULD impose a limit on the maximum amount of
        // elapsed time to evaluate check_host() ... If such a limit is exceeded, the result of
        // authorization SHOULD be "temperror"."
        let limit = configuration.timeLimit
        return await withTimeLimit(limit, run) {
            SPFCheck(
                result: .temperror, identity: identity, clientIP: ip, domain: domain, sender: sender, helo: helo,
                problem: "SPF evaluation took longer than \(limit)", trail: ["time limit \(limit) exceeded"])
        }
    }

    /// MAIL FROM text to a sender; `nil` for the null reverse-path.
    static func sender(_ mailFrom: String) -> SPFSender? {
        var text = Substring(mailFrom)
        if text.hasPrefix("<") && text.hasSuffix(">") { text = text.dropFirst().dropLast() }
        return text.isEmpty ? nil : SPFSender(String(text))
    }
}
