import ArgumentParser
import Defenses

/// `mailnode catalog [--format table|json|markdown]`: every defense mechanism the architecture
/// knows — the paper's DM01–DM36 and mailnode's MN additions — with the paper's stages
/// (Table I), the faults it addresses (Table II), its status in this build and the
/// configuration keys that control it (docs/catalog.md).
struct CatalogCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "catalog",
        abstract: "List the defense catalog: paper stages, faults, status in mailnode, configuration keys.")

    @Option(help: "Output format: table, json or markdown.")
    var format: CatalogOutputFormat = .table

    func run() throws {
        print(try CatalogRendering.render(DefenseCatalog.all, format: format), terminator: "")
    }
}
