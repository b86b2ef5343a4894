import NIOConcurrencyHelpers

/// Counters of what each defense mechanism did (DESIGN.md §3.6: every defense has a metric
/// counter), keyed by the catalog id (`DM18`, `MN01`, …) and an ``Outcome``, plus a few counters
/// of the node's traffic. One instance per node, shared by its listeners and hooks; rendered in
/// the Prometheus text exposition format by ``prometheusText()`` (`mailnode_defense_actions_total`).
///
/// Counting is one lock and one dictionary update: cheap enough for every command. The counters
/// only grow (a restart starts them at zero, which Prometheus' `rate()` handles).
public final class DefenseMetrics: Sendable {
    /// What a defense did with a command or a connection.
    public enum Outcome: String, Sendable, Hashable, CaseIterable, Comparable {
        /// Refused for good (5xx).
        case rejected
        /// Refused for now (4xx): the client retries.
        case deferred
        /// The connection was closed (after a 421 or a 554 greeting).
        case disconnected
        /// Let through by an allow list (DM21) or exempted.
        case allowed
        /// Accepted (250) and held in the quarantine instead of delivered (DM28).
        case quarantined
        /// Accepted with the verdict written into a header field (a DMARC fail under `tag`).
        case tagged

        public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
    }

    /// The node's traffic counters.
    public enum Traffic: String, Sendable, Hashable, CaseIterable {
        /// Connections accepted by a listener (before any defense).
        case connections
        /// Messages committed (250 after the fsync).
        case messagesAccepted = "messages_accepted"
    }

    struct Key: Hashable, Comparable {
        var defense: String
        var outcome: Outcome

        static func < (lhs: Key, rhs: Key) -> Bool {
            (lhs.defense, lhs.outcome) < (rhs.defense, rhs.outcome)
        }
    }

    private struct State {
        var defenses: [Key: Int] = [:]
        var traffic: [Traffic: Int] = [:]
    }

    private let state = NIOLockedValueBox(State())
    /// The antivirus stage's counters and scan-latency histogram (empty in the output until used).
    public let antivirus = ScanMetrics()

    public init() {}

    /// Counts one action of `defense`.
    public func record(_ defense: String, _ outcome: Outcome) {
        state.withLockedValue { $0.defenses[Key(defense: defense, outcome: outcome), default: 0] += 1 }
    }

    /// Counts one traffic event.
    public func record(_ traffic: Traffic) {
        state.withLockedValue { $0.traffic[traffic, default: 0] += 1 }
    }

    /// How often `defense` did `outcome` so far.
    public func count(_ defense: String, _ outcome: Outcome) -> Int {
        state.withLockedValue { $0.defenses[Key(defense: defense, outcome: outcome)] ?? 0 }
    }

    /// The traffic counter's value.
    public func count(_ traffic: Traffic) -> Int {
        state.withLockedValue { $0.traffic[traffic] ?? 0 }
    }

    /// The counters in the [Prometheus text format](https://prometheus.io/docs/instrumenting/exposition_formats/),
    /// sorted, one `# HELP`/`# TYPE` per metric.
    public func prometheusText() -> String {
        let snapshot = state.withLockedValue { $0 }
        var text = "# HELP mailnode_defense_actions_total Commands and connections a defense mechanism refused, deferred, closed or allowed.\n"
        text += "# TYPE mailnode_defense_actions_total counter\n"
        for key in snapshot.defenses.keys.sorted() {
            text += "mailnode_defense_actions_total{defense=\"\(key.defense)\",outcome=\"\(key.outcome.rawValue)\"} \(snapshot.defenses[key]!)\n"
        }
        for traffic in Traffic.allCases {
            text += "# HELP mailnode_\(traffic.rawValue)_total \(traffic == .connections ? "Connections accepted by the listeners." : "Messages committed to the spool (250 sent).")\n"
            text += "# TYPE mailnode_\(traffic.rawValue)_total counter\n"
            text += "mailnode_\(traffic.rawValue)_total \(snapshot.traffic[traffic] ?? 0)\n"
        }
        return text + antivirus.prometheusText()
    }
}
