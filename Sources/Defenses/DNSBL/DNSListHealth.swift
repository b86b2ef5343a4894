import NIOConcurrencyHelpers

/// Which set of [RFC 5782 §5](https://www.rfc-editor.org/rfc/rfc5782#section-5) test points a
/// health check asks.
public enum DNSListTestFamily: String, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    /// `127.0.0.2` must be listed, `127.0.0.1` must not.
    case ipv4
    /// `::FFFF:7F00:2` must be listed, `::FFFF:7F00:1` must not (nibble form).
    case ipv6
    /// `TEST` must be listed, `INVALID` must not (domain-based lists).
    case domain

    public var description: String { rawValue }

    /// The query names of the entry that must be listed and of the one that must not.
    public func testNames(in zone: DNSListZone) -> (listed: String, notListed: String) {
        switch self {
        case .ipv4:
            (zone.queryName(forIPv4: IPv4Address(octets: [127, 0, 0, 2])!),
             zone.queryName(forIPv4: IPv4Address(octets: [127, 0, 0, 1])!))
        case .ipv6:
            (zone.queryName(forIPv6: IPv6Address("::ffff:7f00:2")!), zone.queryName(forIPv6: IPv6Address("::ffff:7f00:1")!))
        case .domain:
            ("test." + zone.name, "invalid." + zone.name)
        }
    }
}

/// Whether a list passed its test points.
public enum DNSListHealth: Hashable, Sendable, CustomStringConvertible {
    /// The must-be-listed entry is listed and the must-not entry is not.
    case healthy
    /// The list is broken, shut down (answering everything), refusing us, or rewritten by a
    /// resolver: its answers are ignored until the next check.
    case unhealthy(String)
    /// A test query failed temporarily; nothing is concluded and the list is used as usual.
    case unknown(String)

    public var description: String {
        switch self {
        case .healthy: "healthy"
        case .unhealthy(let why): "unusable: \(why)"
        case .unknown(let why): "unknown: \(why)"
        }
    }
}

/// The outcome of one health check of one zone.
public struct DNSListHealthReport: Hashable, Sendable, CustomStringConvertible {
    public var zone: String
    public var family: DNSListTestFamily
    public var health: DNSListHealth
    /// What was asked and answered.
    public var trail: [String]

    public var description: String { "\(zone) (\(family)): \(health)" }
}

/// Remembers health-check results per (zone, family) for ``DNSListConfiguration/healthCheckInterval``.
///
/// Only conclusive results (healthy, unhealthy) are kept. Within one check the test points are
/// asked once (``DNSListHealthGate``); concurrent checks of different sessions may each ask them
/// before the first result is remembered — a few extra queries, never a wait on another session's DNS.
final class DNSListHealthMonitor: Sendable {
    private struct Key: Hashable {
        var zone: String
        var family: DNSListTestFamily
    }

    /// A lock, not an actor: every DNS list look-up asks, and a hop to an actor and back cost
    /// more than the dictionary look-up.
    private let reports = NIOLockedValueBox<[Key: (report: DNSListHealthReport, at: ContinuousClock.Instant)]>([:])

    /// The remembered report if it is younger than `interval`.
    func cached(zone: String, family: DNSListTestFamily, interval: Duration) -> DNSListHealthReport? {
        guard let entry = reports.withLockedValue({ $0[Key(zone: zone, family: family)] }),
              ContinuousClock.now - entry.at < interval else { return nil }
        return entry.report
    }

    /// Records a conclusive report; returns the health it replaced (to log changes once).
    @discardableResult
    func record(_ report: DNSListHealthReport) -> DNSListHealth? {
        if case .unknown = report.health { return nil }
        let key = Key(zone: report.zone, family: report.family)
        return reports.withLockedValue { reports in
            let previous = reports[key]?.report.health
            reports[key] = (report, ContinuousClock.now)
            return previous
        }
    }

    /// Every remembered report, for status displays.
    func all() -> [DNSListHealthReport] {
        reports.withLockedValue { $0.values.map(\.report) }.sorted { ($0.zone, $0.family.rawValue) < ($1.zone, $1.family.rawValue) }
    }
}

/// The health checks started by one ``DNSListChecker/check(clientIP:helo:mailFromDomain:)``, so
/// that look-ups of several subjects in one zone share one. The tasks belong to that check: a
/// waiter that is cancelled (the time limit) cancels the task.
final class DNSListHealthGate: Sendable {
    private let tasks = NIOLockedValueBox<[String: Task<DNSListHealthReport, Never>]>([:])

    func task(zone: String, family: DNSListTestFamily, start: () -> Task<DNSListHealthReport, Never>) -> Task<DNSListHealthReport, Never> {
        let key = "\(zone) \(family)"
        return tasks.withLockedValue { tasks in
            if let running = tasks[key] { return running }
            let task = start()
            tasks[key] = task
            return task
        }
    }
}
