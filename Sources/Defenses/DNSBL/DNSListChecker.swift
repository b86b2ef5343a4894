import Logging
import SMTPCore

/// The lists to ask and how to combine their answers.
public struct DNSListConfiguration: Sendable {
    /// The lists, in the order their look-ups are reported.
    public var zones: [DNSListZone]
    /// The block-list score at which the verdict is ``DNSListResult/listed``.
    public var threshold: Double
    /// Wall-clock limit of one check (all look-ups run in parallel); a look-up still running then
    /// is ``DNSListLookup/Outcome/unknown(_:)``.
    public var timeLimit: Duration
    /// How long a conclusive health-check result is trusted before the test points are asked again.
    public var healthCheckInterval: Duration
    /// Longest TXT reason kept for the log.
    public var maxReasonLength: Int

    public init(
        zones: [DNSListZone], threshold: Double = 1, timeLimit: Duration = .seconds(10),
        healthCheckInterval: Duration = .seconds(3600), maxReasonLength: Int = 200
    ) {
        self.zones = zones
        self.threshold = threshold
        self.timeLimit = timeLimit
        self.healthCheckInterval = healthCheckInterval
        self.maxReasonLength = maxReasonLength
    }
}

/// DNS block and allow lists ([RFC 5782](https://www.rfc-editor.org/rfc/rfc5782)), catalog id
/// DM20: asks every configured list about the client address, the HELO name and the MAIL FROM
/// domain, and combines the answers.
///
/// - Each list has a weight and a filter of the answer codes that count
///   (``DNSListZone/codes``); the weights of the block lists that list a subject add up, and the
///   verdict is ``DNSListResult/listed`` at ``DNSListConfiguration/threshold``.
/// - A listing on an allow list (DNSWL) makes the verdict ``DNSListResult/allowed``, whatever
///   the block lists say.
/// - A list that does not answer (timeout, SERVFAIL, a refusal code such as `127.255.255.254`)
///   makes the verdict ``DNSListResult/unknown`` when its weight could have reached the
///   threshold — never ``DNSListResult/listed``. The zone is named in the look-up.
/// - Before a list is trusted, its [RFC 5782 §5](https://www.rfc-editor.org/rfc/rfc5782#section-5)
///   test points are asked (`127.0.0.2` listed, `127.0.0.1` not; the IPv6 and domain
///   equivalents); a list failing them is ignored and logged as an error until a later check
///   passes (every ``DNSListConfiguration/healthCheckInterval``).
/// - The TXT record of a listing is fetched for the log ([RFC 5782 §2.1](https://www.rfc-editor.org/rfc/rfc5782#section-2.1)),
///   never for the wire.
///
/// A pure async function over the injected resolver (put a ``DNSCachingResolver`` in front); the
/// only state is the health-check memory, shared by copies of the checker.
public struct DNSListChecker: Sendable {
    /// DM20 "DNSBL (centralised blacklists)" in the defense catalog.
    public static let defenseID = DefenseID.dnsBlockLists

    public var resolver: any DNSResolver
    public var configuration: DNSListConfiguration
    public var logger: Logger
    let monitor = DNSListHealthMonitor()

    public init(
        resolver: any DNSResolver, configuration: DNSListConfiguration,
        logger: Logger = Logger(label: "mailnode.defense.dnsbl")
    ) {
        self.resolver = resolver
        self.configuration = configuration
        self.logger = logger
    }

    private enum Value: Sendable {
        case address(IPAddress)
        case domain(String)

        var text: String {
            switch self {
            case .address(let address): address.description
            case .domain(let domain): domain
            }
        }
    }

    /// Asks every list about the subjects it lists. `helo` and `mailFromDomain` are domains
    /// (U-labels are converted); an address literal or an empty value is not looked up.
    public func check(clientIP: IPAddress?, helo: String? = nil, mailFromDomain: String? = nil) async -> DNSListVerdict {
        var jobs: [(zone: DNSListZone, subject: DNSListSubject, value: Value)] = []
        for zone in configuration.zones {
            for subject in DNSListSubject.allCases where zone.subjects.contains(subject) {
                switch subject {
                case .clientIP:
                    if let clientIP { jobs.append((zone, subject, .address(SPFEvaluation.unmapped(clientIP)))) }
                case .heloName:
                    if let name = Self.domain(helo) { jobs.append((zone, subject, .domain(name))) }
                case .mailFromDomain:
                    if let name = Self.domain(mailFromDomain) { jobs.append((zone, subject, .domain(name))) }
                }
            }
        }
        var lookups: [DNSListLookup?] = Array(repeating: nil, count: jobs.count)
        let limit = configuration.timeLimit
        let gate = DNSListHealthGate()
        if jobs.count == 1, let job = jobs.first {
            // One list asked about one subject (the common set-up): one task under the limit, not a group of two.
            lookups[0] = await withTimeLimit(limit, { await self.lookup(job.zone, job.subject, job.value, gate: gate) },
                                             timedOut: { nil })
        } else {
            await withTaskGroup(of: (Int, DNSListLookup)?.self) { group in
                for (index, job) in jobs.enumerated() {
                    group.addTask { (index, await self.lookup(job.zone, job.subject, job.value, gate: gate)) }
                }
                group.addTask {
                    await waitForTimeLimit(limit)
                    return nil
                }
                var remaining = jobs.count
                while remaining > 0, let next = await group.next() {
                    guard let (index, lookup) = next else { break }   // the time limit
                    lookups[index] = lookup
                    remaining -= 1
                }
                group.cancelAll()
            }
        }
        let results = jobs.enumerated().map { index, job in
            lookups[index] ?? DNSListLookup(
                zone: job.zone.name, kind: job.zone.kind, subject: job.subject, value: job.value.text,
                queryName: nil, outcome: .unknown("no answer within the time limit of \(limit)"),
                weight: Self.potentialWeight(job.zone))
        }
        let verdict = combine(results)
        for zone in verdict.unknownZones {
            logger.warning("DNS list gave no answer", metadata: ["defense": "\(Self.defenseID)", "zone": "\(zone)"])
        }
        return verdict
    }

    /// Whether a zone lists client addresses (``DNSListSubject/clientIP``).
    public var listsClients: Bool {
        configuration.zones.contains { $0.subjects.contains(.clientIP) }
    }

    /// Whether a zone lists HELO names or sender domains.
    public var listsDomains: Bool {
        configuration.zones.contains { $0.subjects.contains(.heloName) || $0.subjects.contains(.mailFromDomain) }
    }

    /// Adds the HELO-name and sender-domain look-ups to a verdict about the client address alone
    /// (``check(clientIP:helo:mailFromDomain:)`` without domains, e.g. at connect), without
    /// asking about the address again; the look-ups are combined as if asked together.
    public func check(adding clientVerdict: DNSListVerdict, helo: String?, mailFromDomain: String?) async -> DNSListVerdict {
        let domains = await check(clientIP: nil, helo: helo, mailFromDomain: mailFromDomain)
        guard !domains.lookups.isEmpty else { return clientVerdict }
        // Configuration order: zones, then subjects, as one check would report them.
        let zoneOrder = Dictionary(configuration.zones.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { first, _ in first })
        let subjectOrder = Dictionary(uniqueKeysWithValues: DNSListSubject.allCases.enumerated().map { ($1, $0) })
        let merged = (clientVerdict.lookups + domains.lookups).enumerated().sorted { a, b in
            let left = (zoneOrder[a.element.zone] ?? .max, subjectOrder[a.element.subject] ?? .max, a.offset)
            let right = (zoneOrder[b.element.zone] ?? .max, subjectOrder[b.element.subject] ?? .max, b.offset)
            return left < right
        }
        return combine(merged.map(\.element))
    }

    /// Combines look-ups: allow lists win, block weights add up, unanswered lists that could
    /// have reached the threshold make the verdict unknown.
    func combine(_ lookups: [DNSListLookup]) -> DNSListVerdict {
        let threshold = configuration.threshold
        let score = lookups.filter { $0.kind == .block && $0.isListed }.map(\.weight).reduce(0, +)
        let result: DNSListResult
        if lookups.contains(where: { $0.kind == .allow && $0.isListed }) {
            result = .allowed
        } else if score >= threshold {
            result = .listed
        } else {
            let open = lookups.filter { $0.kind == .block && $0.isUnknown }.map(\.weight).reduce(0, +)
            result = score + open >= threshold ? .unknown : .notListed
        }
        return DNSListVerdict(result: result, score: score, threshold: threshold, lookups: lookups)
    }

    /// Runs the [RFC 5782 §5](https://www.rfc-editor.org/rfc/rfc5782#section-5) test points of a
    /// zone now (ignoring any remembered result) and remembers a conclusive answer.
    public func healthCheck(_ zone: DNSListZone, family: DNSListTestFamily) async -> DNSListHealthReport {
        let report = await runHealthCheck(zone, family: family)
        await remember(report)
        return report
    }

    /// Checks every configured zone for every family it serves, e.g. at start-up, so the first
    /// sessions do not pay for it and broken lists are reported at once.
    public func healthCheckAll() async -> [DNSListHealthReport] {
        var reports: [DNSListHealthReport] = []
        for zone in configuration.zones where zone.healthCheck {
            for family in Self.families(of: zone) {
                reports.append(await healthCheck(zone, family: family))
            }
        }
        return reports
    }

    /// The remembered conclusive health-check results.
    public func healthReports() async -> [DNSListHealthReport] {
        monitor.all()
    }

    // MARK: - One look-up

    private func lookup(_ zone: DNSListZone, _ subject: DNSListSubject, _ value: Value, gate: DNSListHealthGate) async -> DNSListLookup {
        var lookup = DNSListLookup(
            zone: zone.name, kind: zone.kind, subject: subject, value: value.text, queryName: nil,
            outcome: .skipped(""), weight: Self.potentialWeight(zone))
        let name: String
        let family: DNSListTestFamily
        switch value {
        case .address(.v6) where !zone.ipv6:
            lookup.outcome = .skipped("the zone has no IPv6 entries")
            return lookup
        case .address(let address):
            name = zone.queryName(for: address)
            if case .v4 = address { family = .ipv4 } else { family = .ipv6 }
        case .domain(let domain):
            do {
                name = try zone.queryName(forDomain: domain)
            } catch {
                lookup.outcome = .skipped("\(error)")
                return lookup
            }
            family = .domain
        }
        lookup.queryName = name

        if zone.healthCheck {
            var report = monitor.cached(zone: zone.name, family: family, interval: configuration.healthCheckInterval)
            if report == nil {
                // One health check per zone and family per check, however many subjects ask.
                let task = gate.task(zone: zone.name, family: family) {
                    Task {
                        let fresh = await self.runHealthCheck(zone, family: family)
                        if !Task.isCancelled { await self.remember(fresh) }
                        return fresh
                    }
                }
                let fresh = await withTaskCancellationHandler { await task.value } onCancel: { task.cancel() }
                if Task.isCancelled { return lookup.with(.unknown("no answer within the time limit of \(configuration.timeLimit)")) }
                report = fresh
            }
            if case .unhealthy(let why)? = report?.health {
                return lookup.with(.unusable(why))
            }
        }

        let resolver = zone.resolver ?? resolver
        switch await Self.addresses(resolver, name) {
        case .success(let answers):
            let classified = zone.classify(answers)
            if !classified.refused.isEmpty {
                // Spamhaus-style refusal codes (127.255.255.x): the list refuses us, not a listing.
                logger.error("DNS list refused the query", metadata: [
                    "defense": "\(Self.defenseID)", "zone": "\(zone.name)", "query": "\(name)",
                    "answer": "\(classified.refused.map(\.description).joined(separator: ","))",
                ])
                return lookup.with(.unknown("the list refused the query (\(classified.refused.map(\.description).joined(separator: ",")))"))
            }
            if classified.counted.isEmpty {
                if classified.ignored.contains(where: { !$0.isLoopback }) {
                    logger.warning("DNS list answer outside 127.0.0.0/8 ignored (NXDOMAIN rewriting resolver?)", metadata: [
                        "defense": "\(Self.defenseID)", "zone": "\(zone.name)", "query": "\(name)",
                    ])
                }
                return lookup.with(.notListed(ignored: classified.ignored))
            }
            lookup.weight = classified.weight
            lookup.outcome = .listed(codes: classified.counted, labels: classified.labels)
            if zone.fetchReason {
                lookup.reason = await reason(resolver, name)
            }
            return lookup
        case .failure(let error) where error.isNotFound:
            return lookup.with(.notListed(ignored: []))
        case .failure(.invalidName(let why)):
            return lookup.with(.skipped("invalid name: \(why)"))
        case .failure(let error):
            return lookup.with(.unknown("\(error)"))
        }
    }

    /// The list's TXT for a listing, made safe for a log line.
    private func reason(_ resolver: any DNSResolver, _ name: String) async -> String? {
        guard let answer = try? await resolver.lookupTXT(name), !answer.records.isEmpty else { return nil }
        let joined = answer.records.map(\.text).joined(separator: " ")
        let clean = String(joined.unicodeScalars.map { $0.properties.generalCategory == .control ? " " : Character($0) })
        return String(clean.prefix(configuration.maxReasonLength))
    }

    // MARK: - Health check

    private func runHealthCheck(_ zone: DNSListZone, family: DNSListTestFamily) async -> DNSListHealthReport {
        let resolver = zone.resolver ?? resolver
        let names = family.testNames(in: zone)
        async let listed = Self.addresses(resolver, names.listed)
        async let notListed = Self.addresses(resolver, names.notListed)
        let (must, mustNot) = await (listed, notListed)
        var problems: [String] = []
        var unknowns: [String] = []
        var trail: [String] = []
        switch must {
        case .success(let answers):
            trail.append("\(names.listed) A \(answers.map(\.description).joined(separator: ","))")
            if answers.contains(where: { a in zone.refusalCodes.contains { $0.matches(a) } }) {
                problems.append("it refuses our queries (\(answers.map(\.description).joined(separator: ",")))")
            } else if !answers.contains(where: \.isLoopback) {
                problems.append("the test entry answers outside 127.0.0.0/8 (\(answers.map(\.description).joined(separator: ",")))")
            }
        case .failure(let error):
            trail.append("\(names.listed) A: \(error)")
            if error.isTemporary { unknowns.append("\(names.listed): \(error)") } else { problems.append("the test entry \(names.listed) is not listed") }
        }
        switch mustNot {
        case .success(let answers):
            trail.append("\(names.notListed) A \(answers.map(\.description).joined(separator: ","))")
            problems.append("it lists \(names.notListed) (\(answers.map(\.description).joined(separator: ","))), which must not be listed: it may be answering every query")
        case .failure(let error):
            trail.append("\(names.notListed) A: \(error)")
            if error.isTemporary { unknowns.append("\(names.notListed): \(error)") }
        }
        let health: DNSListHealth
        if !problems.isEmpty {
            health = .unhealthy(problems.joined(separator: "; "))
        } else if !unknowns.isEmpty {
            health = .unknown(unknowns.joined(separator: "; "))
        } else {
            health = .healthy
        }
        return DNSListHealthReport(zone: zone.name, family: family, health: health, trail: trail)
    }

    private func remember(_ report: DNSListHealthReport) async {
        let previous = monitor.record(report)
        switch report.health {
        case .unhealthy(let why):
            // Loud on every conclusive re-check: an operator must notice a list that went bad.
            logger.error("DNS list failed its RFC 5782 §5 health check and is ignored", metadata: [
                "defense": "\(Self.defenseID)", "zone": "\(report.zone)", "family": "\(report.family)", "reason": "\(why)",
            ])
        case .healthy:
            if case .unhealthy? = previous {
                logger.notice("DNS list passes its health check again", metadata: [
                    "defense": "\(Self.defenseID)", "zone": "\(report.zone)", "family": "\(report.family)",
                ])
            }
        case .unknown(let why):
            logger.debug("DNS list health check inconclusive", metadata: [
                "defense": "\(Self.defenseID)", "zone": "\(report.zone)", "reason": "\(why)",
            ])
        }
    }

    // MARK: - Helpers

    private static func addresses(_ resolver: any DNSResolver, _ name: String) async -> Result<[IPv4Address], DNSError> {
        do {
            return .success(try await resolver.lookupA(name).records)
        } catch {
            return .failure(error)
        }
    }

    static func families(of zone: DNSListZone) -> [DNSListTestFamily] {
        var families: [DNSListTestFamily] = []
        if zone.subjects.contains(.clientIP) {
            families.append(.ipv4)
            if zone.ipv6 { families.append(.ipv6) }
        }
        if zone.subjects.contains(.heloName) || zone.subjects.contains(.mailFromDomain) { families.append(.domain) }
        return families
    }

    static func potentialWeight(_ zone: DNSListZone) -> Double {
        zone.codes.compactMap(\.weight).reduce(zone.weight, max)
    }

    /// A domain worth asking about: not empty, not an address literal.
    static func domain(_ text: String?) -> String? {
        guard var name = text.map({ String($0.filter { $0 != " " && $0 != "\t" }) }), !name.isEmpty, !name.hasPrefix("[")
        else { return nil }
        if name.hasSuffix(".") { name.removeLast() }
        return name.isEmpty ? nil : name
    }
}

extension DNSListLookup {
    fileprivate func with(_ outcome: Outcome) -> DNSListLookup {
        var copy = self
        copy.outcome = outcome
        return copy
    }
}
