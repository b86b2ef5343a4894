import Defenses
import Foundation

/// The three renderings of ``DefenseCatalog`` printed by `mailnode catalog`.
enum CatalogRendering {
    static func render(_ entries: [CatalogEntry], format: CatalogOutputFormat) throws -> String {
        switch format {
        case .table: table(entries)
        case .json: try json(entries)
        case .markdown: markdown(entries)
        }
    }

    // MARK: - Table

    /// Fits 100 columns: id 4, name 30, stages 9, status 10, faults 37, gaps 8; the keys that
    /// configure an entry on a line of their own under its name.
    static func table(_ entries: [CatalogEntry]) -> String {
        var table = CatalogTextTable([("id", 4), ("name", 30), ("stages", 9), ("status", 10), ("faults", 37)])
        for (index, entry) in entries.enumerated() {
            table.rows.append([
                entry.id.rawValue, entry.name,
                PaperStage.notation(entry.stages).replacingOccurrences(of: PaperStage.perimeter.rawValue, with: "perimeter"),
                entry.status.rawValue, shortFaults(entry),
            ])
            if let configured = configuredBy(entry) {
                table.trailers[index] = CatalogTextTable.wrap("configured by: " + configured, width: 92).map { "      " + $0 }
            }
        }
        var lines = table.render()
        lines.append("")
        lines.append("faults: (S) solves, (m) mitigates. stages: the paper's Table I (A mx, B submission,")
        lines.append("C antivirus, D antispam, E webmail, F outbound, G store, MUA the users' programs).")
        lines.append(counts(entries))
        lines.append("Notes per entry: --format markdown or json. Statuses: docs/catalog.md.")
        return lines.joined(separator: "\n") + "\n"
    }

    /// The keys, `always on` for a native entry without any, nil when nothing configures it.
    static func configuredBy(_ entry: CatalogEntry) -> String? {
        if !entry.configurationKeys.isEmpty { return entry.configurationKeys.joined(separator: ", ") }
        return entry.status == .native ? "nothing (always on)" : nil
    }

    /// `forging(S), anonymous(m)`.
    static func shortFaults(_ entry: CatalogEntry) -> String {
        entry.faults.isEmpty ? "-" : entry.faults.map { "\($0.fault)(\($0.effect == .solves ? "S" : "m"))" }.joined(separator: ", ")
    }

    /// `36 paper entries + 10 additions; native 9, engine 0, ...`.
    static func counts(_ entries: [CatalogEntry]) -> String {
        let paper = entries.filter(\.isFromPaper).count
        let perStatus = ImplementationStatus.allCases.map { status in
            "\(status) \(entries.filter { $0.status == status }.count)"
        }
        return "\(paper) paper entries + \(entries.count - paper) additions: " + perStatus.joined(separator: ", ") + "."
    }

    // MARK: - Markdown

    static func markdown(_ entries: [CatalogEntry]) -> String {
        var lines = [
            "| id | name | paper stages | faults | fault mapping | roles | status | configured by | notes |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for entry in entries {
            let cells = [
                entry.id.rawValue, entry.name, PaperStage.notation(entry.stages),
                entry.faults.isEmpty ? "—" : entry.faults.map(\.description).joined(separator: "; "),
                entry.faultSource.description,
                entry.roles.isEmpty ? "—" : entry.roles.map(\.rawValue).joined(separator: ", "),
                entry.status.rawValue,
                entry.configurationKeys.isEmpty ? "—" : entry.configurationKeys.map { "`\($0)`" }.joined(separator: ", "),
                entry.statusNote,
            ]
            lines.append("| " + cells.map(escape).joined(separator: " | ") + " |")
        }
        lines.append("")
        lines.append(counts(entries))
        return lines.joined(separator: "\n") + "\n"
    }

    static func escape(_ cell: String) -> String {
        cell.replacingOccurrences(of: "|", with: "\\|")
    }

    // MARK: - JSON

    struct JSONEntry: Encodable {
        struct Mapping: Encodable {
            var fault: String
            var effect: String
            var note: String?
        }
        var id: String
        var name: String
        var fromPaper: Bool
        var stages: [String]
        var faults: [Mapping]
        var faultMappingSource: String
        var roles: [String]
        var status: String
        var statusNote: String
        var configurationKeys: [String]
        var references: [String]

        init(_ entry: CatalogEntry) {
            id = entry.id.rawValue
            name = entry.name
            fromPaper = entry.isFromPaper
            stages = entry.stages.map(\.rawValue)
            faults = entry.faults.map { Mapping(fault: $0.fault.rawValue, effect: $0.effect.rawValue, note: $0.note) }
            faultMappingSource = entry.faultSource.description
            roles = entry.roles.map(\.rawValue)
            status = entry.status.rawValue
            statusNote = entry.statusNote
            configurationKeys = entry.configurationKeys
            references = entry.references
        }
    }

    struct JSONCoverage: Encodable {
        var coverage: String
        var defenses: [String]

        init(_ entry: FaultCoverageEntry) {
            coverage = entry.coverage.rawValue
            defenses = entry.defenses.map(\.rawValue)
        }
    }

    struct JSONFault: Encodable {
        var fault: String
        var paperName: String
        var paperEA2002: JSONCoverage
        var paperEA2006: JSONCoverage
    }

    struct JSONCatalog: Encodable {
        var defenses: [JSONEntry]
        var faults: [JSONFault]
        var statusCounts: [String: Int]
    }

    static func json(_ entries: [CatalogEntry]) throws -> String {
        let catalog = JSONCatalog(
            defenses: entries.map(JSONEntry.init),
            faults: PaperFaultTable.rows.map {
                JSONFault(fault: $0.fault.rawValue, paperName: $0.fault.paperName,
                          paperEA2002: JSONCoverage($0.ea2002), paperEA2006: JSONCoverage($0.ea2006))
            },
            statusCounts: Dictionary(uniqueKeysWithValues: ImplementationStatus.allCases.map { status in
                (status.rawValue, entries.filter { $0.status == status }.count)
            }))
        return try encode(catalog)
    }

    /// Pretty, sorted keys, slashes as they are, one trailing newline.
    static func encode(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self) + "\n"
    }
}
