import NIOConcurrencyHelpers

/// The antivirus stage's counters and its scan-latency histogram (issue 10), part of a node's
/// ``DefenseMetrics`` (``DefenseMetrics/antivirus``) and rendered with it in the
/// [Prometheus text format](https://prometheus.io/docs/instrumenting/exposition_formats/):
///
/// ```
/// mailnode_antivirus_messages_total{result="scanned"|"infected"|"blocked_attachment"|"scanner_error"}
/// mailnode_antivirus_scan_duration_seconds_bucket{le="0.005"} … {le="+Inf"}, _sum, _count
/// ```
///
/// The families appear once the node runs the antivirus role (``enable()``), so an mx node's
/// output is unchanged. Buckets are fixed (``bucketBounds``) so that several nodes aggregate.
public final class ScanMetrics: Sendable {
    /// What happened to one message (or one scanner exchange) in the antivirus stage.
    public enum Event: String, Sendable, Hashable, CaseIterable {
        /// A message clamd answered for (clean or infected).
        case scanned
        /// A message clamd reported a signature for.
        case infected
        /// A message refused (or quarantined) by the attachment policy.
        case blockedAttachment = "blocked_attachment"
        /// A clamd instance that failed to answer (connect, timeout, `ERROR` reply), counted
        /// per instance tried, so a failover counts one error and one scan.
        case scannerError = "scanner_error"
    }

    /// Upper bounds (seconds) of the latency buckets, Prometheus' `le` labels; `+Inf` follows.
    public static let bucketBounds: [Double] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]

    private struct State {
        var enabled = false
        var events: [Event: Int] = [:]
        /// Non-cumulative counts per bucket; the last one is `+Inf`.
        var buckets = [Int](repeating: 0, count: ScanMetrics.bucketBounds.count + 1)
        var sum: Double = 0
        var count = 0
    }

    private let state = NIOLockedValueBox(State())

    public init() {}

    /// Shows the families in ``DefenseMetrics/prometheusText()`` even before the first event.
    public func enable() {
        state.withLockedValue { $0.enabled = true }
    }

    /// Counts `count` events.
    public func record(_ event: Event, count: Int = 1) {
        guard count > 0 else { return }
        state.withLockedValue {
            $0.enabled = true
            $0.events[event, default: 0] += count
        }
    }

    /// Adds one scan's duration (the clamd exchange, failovers included) to the histogram.
    public func observeScan(seconds: Double) {
        let index = Self.bucketBounds.firstIndex { seconds <= $0 } ?? Self.bucketBounds.count
        state.withLockedValue {
            $0.enabled = true
            $0.buckets[index] += 1
            $0.sum += seconds
            $0.count += 1
        }
    }

    /// The counter's value so far.
    public func count(_ event: Event) -> Int {
        state.withLockedValue { $0.events[event] ?? 0 }
    }

    /// Scans observed by the histogram so far.
    public var observedScans: Int { state.withLockedValue { $0.count } }

    /// The families in the Prometheus text format; empty until enabled or first used.
    public func prometheusText() -> String {
        let snapshot = state.withLockedValue { $0 }
        guard snapshot.enabled else { return "" }
        var text = "# HELP mailnode_antivirus_messages_total Messages the antivirus stage scanned, found infected or blocked "
            + "by attachment, and clamd instances that failed to answer.\n"
        text += "# TYPE mailnode_antivirus_messages_total counter\n"
        for event in Event.allCases {
            text += "mailnode_antivirus_messages_total{result=\"\(event.rawValue)\"} \(snapshot.events[event] ?? 0)\n"
        }
        text += "# HELP mailnode_antivirus_scan_duration_seconds Time of one clamd scan (INSTREAM exchange, failover included).\n"
        text += "# TYPE mailnode_antivirus_scan_duration_seconds histogram\n"
        var cumulative = 0
        for (index, bound) in Self.bucketBounds.enumerated() {
            cumulative += snapshot.buckets[index]
            text += "mailnode_antivirus_scan_duration_seconds_bucket{le=\"\(Self.label(bound))\"} \(cumulative)\n"
        }
        cumulative += snapshot.buckets[Self.bucketBounds.count]
        text += "mailnode_antivirus_scan_duration_seconds_bucket{le=\"+Inf\"} \(cumulative)\n"
        text += "mailnode_antivirus_scan_duration_seconds_sum \(snapshot.sum)\n"
        text += "mailnode_antivirus_scan_duration_seconds_count \(snapshot.count)\n"
        return text
    }

    /// `0.005`, `1`, `60` (no trailing `.0`).
    static func label(_ bound: Double) -> String {
        bound == bound.rounded() ? String(Int(bound)) : String(bound)
    }
}
