/// What a defense mechanism does to a fault (the paper's figure 5: a square for a total
/// solution, a circle for a mitigation).
public enum FaultEffect: String, Hashable, Sendable, Comparable, CustomStringConvertible {
    /// Removes the fault (the paper: "solved").
    case solves
    /// Reduces its likelihood or damage (the paper: "partial").
    case mitigates

    public var description: String { rawValue }

    /// `solves` ranks above `mitigates`.
    public static func < (lhs: FaultEffect, rhs: FaultEffect) -> Bool { lhs == .mitigates && rhs == .solves }
}

/// One fault a catalog entry addresses, and how.
public struct FaultMapping: Hashable, Sendable, CustomStringConvertible {
    public var fault: Fault
    public var effect: FaultEffect
    /// A qualification kept from the source, e.g. DM21's "fewer false positives".
    public var note: String?

    public init(_ fault: Fault, _ effect: FaultEffect, note: String? = nil) {
        self.fault = fault
        self.effect = effect
        self.note = note
    }

    /// The `catalog/defenses.tsv` spelling: `spam(mitigates)`, `spam(mitigates: fewer false positives)`.
    public var description: String {
        "\(fault)(\(effect)\(note.map { ": \($0)" } ?? ""))"
    }
}

/// Where a catalog entry's fault mapping comes from.
public enum FaultMappingSource: Hashable, Sendable, CustomStringConvertible {
    /// The paper's Table II lists this mechanism against these faults (EA 2006 column).
    /// `printedAs` keeps a misprint of the id in the table (DM17 appears there as "DM13").
    case tableII(printedAs: String?)
    /// Not in Table II: derived from the paper's §VII descriptions and figure 5 by whoever
    /// compiled `catalog/defenses.tsv`.
    case inferred
    /// One of mailnode's additions: the mapping is ours.
    case mailnode

    /// The `source_of_fault_mapping` column's text.
    public var description: String {
        switch self {
        case .tableII(let printedAs?): "Table II (printed there as \(printedAs))"
        case .tableII(nil): "Table II"
        case .inferred: "inferred"
        case .mailnode: "mailnode"
        }
    }
}
