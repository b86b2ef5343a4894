import ArgumentParser
import Defenses
import Foundation
import Roles

/// `mailnode review [--config FILE] [--format table|json|markdown]`: step 1 of the paper's
/// methodology (§II, "Review the e-mail infrastructure by making a detailed itemized list of
/// its capabilities, enabled features and defense mechanisms"). For each role of the
/// configuration it lists every catalog entry as enabled, disabled, not applicable, not
/// available or deployment, derived from the configured values, and for each of the 14 faults
/// what this configuration covers beside all of mailnode and the paper's EA 2006 (Table II).
///
/// Without `--config` it reviews the configuration `mailnode up` generates. A file with several
/// role tables is reviewed as `--role all` runs it (chained stages); `mailnode --role mx review
/// --config F` reviews it as `--role mx` runs it. A bad file stops it
/// like `mailnode --role mx --config`: one line naming file, line and key; exit code 2.
struct ReviewCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "review",
        abstract: "Review a configuration: defenses per role and faults covered (the paper's Table II).")

    /// The root command owns `--config` (for `--role`) and takes the value wherever it appears
    /// on the command line, so `review` reads it from there.
    @ParentCommand var root: Mailnode

    /// Declared for `mailnode review --help`; the root command's `--config` receives the value.
    @Option(help: "Configuration file (TOML; default: the one `mailnode up` generates).")
    var config: String?

    /// The file to review: this command's `--config` if ArgumentParser ever hands it over,
    /// else the root's when `--config` was given at all; nil for the generated default.
    var configurationFile: String? {
        if let config { return config }
        let given = CommandLine.arguments.dropFirst().contains { $0 == "--config" || $0.hasPrefix("--config=") }
        return given ? root.config : nil
    }

    @Option(help: "Output format: table, json or markdown.")
    var format: CatalogOutputFormat = .table

    func run() throws {
        let review: NodeReview
        if let config = configurationFile {
            // `--role X` reviews the file as `mailnode --role X` runs it (that role alone); without
            // `--role`, or with `all`, as `--role all` runs it (every table's role, chained).
            if let role = root.role, role != "all" {
                review = ReviewDerivation.review(try Mailnode.load(config, role: role), source: config + " (--role " + role + ")",
                                                 chained: false)
            } else {
                review = ReviewDerivation.review(try Mailnode.load(config, role: ""), source: config)
            }
        } else {
            review = ReviewDerivation.review(try Self.generatedDefault(), source: "the one `mailnode up` generates (defaults)")
        }
        print(try ReviewRendering.render(review, format: format), terminator: "")
    }

    /// What `mailnode up` writes on first use, generated in a scratch directory and read back
    /// through the same reader, its paths shown as `mailnode up` writes them: under its `--dir`,
    /// `mailnode-data` by default.
    static func generatedDefault() throws -> NodeConfiguration {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("mailnode-review-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let (path, _) = try DevelopmentSetup.prepare(directory: scratch)
        let root = URL(fileURLWithPath: path).deletingLastPathComponent().path
        let text = try String(contentsOfFile: path, encoding: .utf8).replacingOccurrences(of: root, with: "mailnode-data")
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return try Mailnode.load(path, role: "all")   // as `mailnode up` runs it
    }
}
