import Defenses
import Foundation
import Testing

/// The catalog against the paper's data (`catalog/defenses.tsv`, `catalog/faults.tsv`, copied to
/// Fixtures/golden/paper): any drift in ids, names, stages, fault mappings or their provenance
/// fails here.
@Suite struct CatalogPaperDataTests {
    static let paperDirectory = DNSFixtures.root.appendingPathComponent("Fixtures/golden/paper")
    static let sharedDirectory = DNSFixtures.root.deletingLastPathComponent().appendingPathComponent("shared/catalog")

    /// Rows of a TSV file without its header, split at tabs.
    static func rows(_ name: String) throws -> [[String]] {
        let text = try String(contentsOf: paperDirectory.appendingPathComponent(name), encoding: .utf8)
        let lines = text.split(separator: "\n").map(String.init)
        return lines.dropFirst().map { $0.components(separatedBy: "\t") }
    }

    /// `A,B` / `network perimeter` / `A-G,MUA` as Table I writes them.
    static func stages(_ text: String) throws -> Set<PaperStage> {
        var out: Set<PaperStage> = []
        for part in text.split(separator: ",").map(String.init) {
            if part == "A-G" {
                out.formUnion(PaperStage.servers)
            } else {
                out.insert(try #require(PaperStage(rawValue: part), "unknown stage '\(part)'"))
            }
        }
        return out
    }

    /// `forging(mitigates); spam(mitigates: fewer false positives)`.
    static func mappings(_ text: String) throws -> Set<FaultMapping> {
        var out: Set<FaultMapping> = []
        for item in text.components(separatedBy: "; ") {
            let open = try #require(item.firstIndex(of: "("))
            let fault = try #require(Fault(rawValue: String(item[..<open])), "unknown fault in '\(item)'")
            let inner = item[item.index(after: open)..<item.index(before: item.endIndex)]
            let parts = inner.components(separatedBy: ": ")
            let effect = try #require(FaultEffect(rawValue: parts[0]), "unknown effect in '\(item)'")
            out.insert(FaultMapping(fault, effect, note: parts.count > 1 ? parts[1] : nil))
        }
        return out
    }

    @Test func thirtySixPaperEntriesMatchDefensesTSV() throws {
        let rows = try Self.rows("defenses.tsv")
        #expect(rows.count == 36)
        #expect(DefenseCatalog.paper.count == 36)
        for (row, entry) in zip(rows, DefenseCatalog.paper) {
            #expect(row.count == 5, "\(row)")
            #expect(entry.id.rawValue == row[0])
            #expect(entry.name == row[1], "\(row[0])")
            #expect(Set(entry.stages) == (try Self.stages(row[2])), "\(row[0]) stages")
            #expect(PaperStage.notation(entry.stages) == row[2], "\(row[0]) notation")
            #expect(Set(entry.faults) == (try Self.mappings(row[3])), "\(row[0]) faults")
            #expect(entry.faults.map(\.description).joined(separator: "; ") == row[3], "\(row[0]) fault order")
            #expect(entry.faultSource.description == row[4], "\(row[0]) provenance")
        }
    }

    /// faults.tsv: the 14 faults in the paper's order, and Table II's two columns.
    @Test func faultTypeAndTableIIMatchFaultsTSV() throws {
        let rows = try Self.rows("faults.tsv")
        #expect(rows.map { $0[0] } == Fault.allCases.map(\.rawValue))
        #expect(PaperFaultTable.rows.map(\.fault) == Fault.allCases)
        func parse(_ cell: String) -> (FaultCoverage, [String]) {
            let level: FaultCoverage = cell.hasPrefix("solved") ? .solved : cell.hasPrefix("partial") ? .mitigated : .uncovered
            let ids = cell.split(whereSeparator: { !$0.isLetter && !$0.isNumber }).map(String.init)
                .filter { $0.count == 4 && $0.hasPrefix("DM") && Int($0.dropFirst(2)) != nil }
            var unique: [String] = []
            for id in ids where !unique.contains(id) { unique.append(id) }
            return (level, unique)
        }
        for (row, paper) in zip(rows, PaperFaultTable.rows) {
            let (level2002, ids2002) = parse(row[1])
            let (level2006, ids2006) = parse(row[2])
            #expect(paper.ea2002.coverage == level2002, "\(row[0]) 2002")
            #expect(paper.ea2002.defenses.map(\.rawValue) == ids2002, "\(row[0]) 2002")
            #expect(paper.ea2006.coverage == level2006, "\(row[0]) 2006")
            #expect(paper.ea2006.defenses.map(\.rawValue) == ids2006, "\(row[0]) 2006")
        }
    }

    /// Table II's "solved" rows name mechanisms that solve, its "partial" rows ones that mitigate.
    @Test func tableIIAgreesWithTheEntriesMappings() throws {
        for row in PaperFaultTable.rows {
            for id in row.ea2006.defenses {
                let entry = try #require(DefenseCatalog.entry(id))
                let expected: FaultEffect = row.ea2006.coverage == .solved ? .solves : .mitigates
                #expect(entry.effect(on: row.fault) == expected, "\(id) on \(row.fault)")
                if case .inferred = entry.faultSource { Issue.record("\(id) is in Table II but marked inferred") }
            }
        }
    }

    /// The coverage rule applied to the paper's own deployments gives Table II's levels back.
    @Test func coverageRuleReproducesTableII() {
        for (column, pick) in [("2002", \PaperFaultRow.ea2002), ("2006", \PaperFaultRow.ea2006)] {
            let deployed = Set(PaperFaultTable.rows.flatMap { $0[keyPath: pick].defenses })
            let coverage = DefenseCatalog.coverage(of: deployed, in: DefenseCatalog.paper)
            for (row, computed) in zip(PaperFaultTable.rows, coverage) {
                #expect(computed.coverage == row[keyPath: pick].coverage, "EA \(column): \(row.fault)")
            }
        }
    }

    /// The copies under Fixtures/golden/paper are the shared originals, when those are present.
    @Test func copiesMatchSharedOriginals() throws {
        for name in ["defenses.tsv", "faults.tsv"] {
            let original = Self.sharedDirectory.appendingPathComponent(name)
            guard FileManager.default.fileExists(atPath: original.path) else { continue }
            let copy = try Data(contentsOf: Self.paperDirectory.appendingPathComponent(name))
            #expect(try Data(contentsOf: original) == copy, "\(name) differs from ../shared/catalog")
        }
    }
}
