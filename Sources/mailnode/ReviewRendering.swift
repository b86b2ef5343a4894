import Defenses
import Foundation

/// The three renderings of a ``NodeReview`` printed by `mailnode review`.
enum ReviewRendering {
    static func render(_ review: NodeReview, format: CatalogOutputFormat) throws -> String {
        switch format {
        case .table: table(review)
        case .json: try json(review)
        case .markdown: markdown(review)
        }
    }

    static func name(_ id: DefenseID) -> String { DefenseCatalog.entry(id)?.name ?? "" }

    /// Rows shown per role: what is enabled, disabled or missing there; the rest is summarised.
    static func shownItems(_ role: RoleReview) -> [ReviewItem] {
        role.items.filter { $0.state == .enabled || $0.state == .disabled || $0.state == .notAvailable }
    }

    static func ids(_ role: RoleReview, _ state: ReviewState) -> [String] {
        role.items.filter { $0.state == state }.map(\.id.rawValue)
    }

    static func absentRoles(_ review: NodeReview) -> String {
        review.roles.filter { !$0.configured }.map { role in
            "\(role.role) (\(role.role.paperStage)\(role.built ? "" : ", not built yet"))"
        }.joined(separator: ", ")
    }

    /// `solved 3, mitigated 5, uncovered 6`.
    static func tally(_ entries: [FaultCoverageEntry]) -> String {
        [FaultCoverage.solved, .mitigated, .uncovered].map { level in
            "\(level) \(entries.filter { $0.coverage == level }.count)"
        }.joined(separator: ", ")
    }

    // MARK: - Table

    static func table(_ review: NodeReview) -> String {
        var lines = [
            "mailnode review: step 1 of the paper's methodology (docs/catalog.md)",
            "configuration: \(review.source)",
            "node: \(review.hostname)",
        ]
        for role in review.roles where role.configured {
            lines.append("")
            lines.append("role \(role.role) (paper stage \(role.role.paperStage))")
            var table = CatalogTextTable([("id", 4), ("name", 28), ("state", 13), ("detail", 45)])
            for item in shownItems(role) {
                table.rows.append([item.id.rawValue, name(item.id), item.state.rawValue, item.detail])
            }
            lines += table.render(indent: "  ")
            lines += CatalogTextTable.wrap("not applicable to \(role.role): " + ids(role, .notApplicable).joined(separator: ", "), width: 96)
                .enumerated().map { ($0.offset == 0 ? "  " : "    ") + $0.element }
            lines.append("  deployment (outside mailnode, check by hand): " + ids(role, .deployment).joined(separator: ", "))
        }
        if review.roles.allSatisfy({ !$0.configured }) {
            lines.append("")
            lines.append("no role is configured (add an [mx] table)")
        }
        lines.append("")
        lines += CatalogTextTable.wrap("roles not in this configuration: " + absentRoles(review), width: 98)
            .enumerated().map { ($0.offset == 0 ? "" : "  ") + $0.element }
        lines.append("")
        lines.append("faults (the paper's Table II: this configuration, all of mailnode today, the paper's EA 2006)")
        var faults = CatalogTextTable([("fault", 23), ("this configuration", 22), ("all of mailnode", 22), ("paper EA 2006", 22)])
        for fault in review.faults {
            faults.rows.append([fault.fault.rawValue, fault.thisConfiguration.summary, fault.allAvailable.summary, fault.paper2006.summary])
        }
        lines += faults.render(indent: "  ")
        lines.append("")
        lines.append("this configuration: " + tally(review.faults.map(\.thisConfiguration)))
        lines.append("all of mailnode:    " + tally(review.faults.map(\.allAvailable)))
        lines.append("paper EA 2006:      " + tally(review.faults.map(\.paper2006)))
        return lines.joined(separator: "\n") + "\n"
    }

    // MARK: - Markdown

    static func markdown(_ review: NodeReview) -> String {
        var lines = [
            "# mailnode review",
            "",
            "Configuration: \(review.source) (node `\(review.hostname)`).",
        ]
        for role in review.roles where role.configured {
            lines += ["", "## Role \(role.role) (paper stage \(role.role.paperStage))", "",
                      "| id | name | state | detail |", "|---|---|---|---|"]
            for item in shownItems(role) {
                lines.append("| " + [item.id.rawValue, name(item.id), item.state.rawValue, item.detail]
                    .map(CatalogRendering.escape).joined(separator: " | ") + " |")
            }
            lines += ["", "Not applicable to \(role.role): " + ids(role, .notApplicable).joined(separator: ", ") + ".",
                      "", "Deployment (outside mailnode, check by hand): " + ids(role, .deployment).joined(separator: ", ") + "."]
        }
        if review.roles.allSatisfy({ !$0.configured }) {
            lines += ["", "No role is configured (add an `[mx]` table)."]
        }
        lines += ["", "Roles not in this configuration: " + absentRoles(review) + ".", "", "## Faults", "",
                  "| fault | this configuration | all of mailnode | paper EA 2006 |", "|---|---|---|---|"]
        for fault in review.faults {
            lines.append("| \(fault.fault) | \(fault.thisConfiguration.summary) | \(fault.allAvailable.summary) | \(fault.paper2006.summary) |")
        }
        lines += ["", "| | solved, mitigated, uncovered |", "|---|---|",
                  "| this configuration | " + tally(review.faults.map(\.thisConfiguration)) + " |",
                  "| all of mailnode | " + tally(review.faults.map(\.allAvailable)) + " |",
                  "| paper EA 2006 | " + tally(review.faults.map(\.paper2006)) + " |"]
        return lines.joined(separator: "\n") + "\n"
    }

    // MARK: - JSON

    struct JSONItem: Encodable {
        var id: String
        var state: String
        var detail: String
    }

    struct JSONRole: Encodable {
        var role: String
        var paperStage: String
        var configured: Bool
        var built: Bool
        var defenses: [JSONItem]
    }

    struct JSONFault: Encodable {
        var fault: String
        var thisConfiguration: CatalogRendering.JSONCoverage
        var allOfMailnode: CatalogRendering.JSONCoverage
        var paperEA2006: CatalogRendering.JSONCoverage
    }

    struct JSONReview: Encodable {
        var configuration: String
        var hostname: String
        var roles: [JSONRole]
        var enabled: [String]
        var faults: [JSONFault]
    }

    static func json(_ review: NodeReview) throws -> String {
        let value = JSONReview(
            configuration: review.source, hostname: review.hostname,
            roles: review.roles.map { role in
                JSONRole(role: role.role.rawValue, paperStage: role.role.paperStage.rawValue, configured: role.configured,
                         built: role.built,
                         defenses: role.items.map { JSONItem(id: $0.id.rawValue, state: $0.state.rawValue, detail: $0.detail) })
            },
            enabled: review.enabledIDs.sorted().map(\.rawValue),
            faults: review.faults.map {
                JSONFault(fault: $0.fault.rawValue, thisConfiguration: .init($0.thisConfiguration),
                          allOfMailnode: .init($0.allAvailable), paperEA2006: .init($0.paper2006))
            })
        return try CatalogRendering.encode(value)
    }
}
