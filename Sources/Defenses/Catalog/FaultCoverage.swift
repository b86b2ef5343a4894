/// How well a set of defense mechanisms covers one fault, in the words of the paper's
/// Table II ("solved", "partial", "none").
public enum FaultCoverage: String, Hashable, Sendable, Comparable, CustomStringConvertible {
    /// Some mechanism in the set solves the fault.
    case solved
    /// Mechanisms in the set only mitigate it (the paper: "partial").
    case mitigated
    /// Nothing in the set addresses it (the paper: "none").
    case uncovered

    public var description: String { rawValue }

    /// The paper's word: `solved`, `partial`, `none`.
    public var paperWord: String {
        switch self {
        case .solved: "solved"
        case .mitigated: "partial"
        case .uncovered: "none"
        }
    }

    /// `uncovered` < `mitigated` < `solved`.
    public static func < (lhs: FaultCoverage, rhs: FaultCoverage) -> Bool {
        let order: [FaultCoverage] = [.uncovered, .mitigated, .solved]
        return order.firstIndex(of: lhs)! < order.firstIndex(of: rhs)!
    }
}

/// A fault's coverage together with the mechanisms that give it.
public struct FaultCoverageEntry: Hashable, Sendable {
    public var fault: Fault
    public var coverage: FaultCoverage
    /// The mechanisms that address the fault, in catalog order.
    public var defenses: [DefenseID]

    public init(fault: Fault, coverage: FaultCoverage, defenses: [DefenseID]) {
        self.fault = fault
        self.coverage = coverage
        self.defenses = defenses
    }

    /// `solved: DM07`, `mitigated: DM08, MN07`, `uncovered`.
    public var summary: String {
        defenses.isEmpty ? coverage.description : "\(coverage): " + defenses.map(\.rawValue).joined(separator: ", ")
    }
}

extension DefenseCatalog {
    /// Table II for a set of enabled mechanisms: per fault, `solved` when one of them solves it,
    /// `mitigated` when they only mitigate it, `uncovered` otherwise. Listed mechanisms are all
    /// that address the fault (solving and mitigating ones).
    ///
    /// The paper also counts a group of mitigations as a solution (figure 5's rhombus); that
    /// judgement is left to the operator: a group is reported as `mitigated`.
    public static func coverage(of enabled: Set<DefenseID>, in entries: [CatalogEntry] = DefenseCatalog.all) -> [FaultCoverageEntry] {
        Fault.allCases.map { fault in
            var best = FaultCoverage.uncovered
            var ids: [DefenseID] = []
            for entry in entries where enabled.contains(entry.id) {
                guard let effect = entry.effect(on: fault) else { continue }
                ids.append(entry.id)
                best = max(best, effect == .solves ? .solved : .mitigated)
            }
            return FaultCoverageEntry(fault: fault, coverage: best, defenses: ids)
        }
    }
}
