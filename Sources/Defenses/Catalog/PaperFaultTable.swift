/// The paper's Table II, "Comparison of deployed defense mechanisms" at the "F" University:
/// per fault, what the e-mail architecture of 2002 and of 2006 did about it
/// (`catalog/faults.tsv`). `mailnode review` sets a configuration beside it.
public struct PaperFaultRow: Hashable, Sendable {
    public var fault: Fault
    public var ea2002: FaultCoverageEntry
    public var ea2006: FaultCoverageEntry

    init(_ fault: Fault, _ level2002: FaultCoverage, _ ids2002: [Int], _ level2006: FaultCoverage, _ ids2006: [Int]) {
        self.fault = fault
        self.ea2002 = FaultCoverageEntry(fault: fault, coverage: level2002, defenses: ids2002.map(DefenseID.paper))
        self.ea2006 = FaultCoverageEntry(fault: fault, coverage: level2006, defenses: ids2006.map(DefenseID.paper))
    }
}

public enum PaperFaultTable {
    /// Table II's rows in the paper's order. DM17 is printed there as "DM13" in the SPAM row
    /// (an evident misprint: RFC 2505 is DM17 in Table I); the corrected id is used here.
    public static let rows: [PaperFaultRow] = [
        PaperFaultRow(.anyToAny, .uncovered, [], .solved, [1, 3]),
        PaperFaultRow(.forging, .uncovered, [], .solved, [3, 4, 30]),
        PaperFaultRow(.openRelay, .solved, [7], .solved, [7]),
        PaperFaultRow(.anonymous, .uncovered, [], .mitigated, [4, 30]),
        PaperFaultRow(.dataSizeSetBySender, .uncovered, [], .mitigated, [8, 10, 11]),
        PaperFaultRow(.trafficAmplification, .uncovered, [], .solved, [9]),
        PaperFaultRow(.noCongestionControl, .uncovered, [], .mitigated, [10, 11, 12, 13, 36]),
        PaperFaultRow(.noPrivacy, .uncovered, [], .mitigated, [14, 15]),
        PaperFaultRow(.spam, .uncovered, [], .mitigated, [17, 19, 22, 24]),
        PaperFaultRow(.virus, .solved, [28], .solved, [28]),
        PaperFaultRow(.fraud, .uncovered, [], .solved, [4, 30]),
        PaperFaultRow(.phishing, .uncovered, [], .solved, [4, 30]),
        PaperFaultRow(.slammer, .uncovered, [], .mitigated, [10, 11, 32]),
        PaperFaultRow(.mailBombing, .mitigated, [35], .mitigated, [35]),
    ]

    /// The row of `fault`.
    public static func row(_ fault: Fault) -> PaperFaultRow {
        rows.first { $0.fault == fault }!
    }
}
