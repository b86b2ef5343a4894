import Defenses
import Foundation
import Testing

/// `mailnode catalog` and `mailnode review` against the golden files in Fixtures/golden.
///
/// A deliberate change of either output: run
/// `MAILNODE_UPDATE_GOLDEN=1 swift test --filter CatalogGoldenTests`, which rewrites the files
/// instead of comparing, then review `git diff Fixtures/golden` and commit it with the change
/// (docs/catalog.md, "Golden files").
@Suite struct CatalogGoldenTests {
    static let golden = DNSFixtures.root.appendingPathComponent("Fixtures/golden")
    static var updating: Bool { ProcessInfo.processInfo.environment["MAILNODE_UPDATE_GOLDEN"] == "1" }

    /// Compares `output` with the golden file (or rewrites it when updating).
    static func expectGolden(_ output: String, _ name: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let file = golden.appendingPathComponent(name)
        if updating {
            try Data(output.utf8).write(to: file)
            return
        }
        let expected = try String(contentsOf: file, encoding: .utf8)
        if output != expected {
            let outputLines = output.components(separatedBy: "\n"), expectedLines = expected.components(separatedBy: "\n")
            let first = Array(zip(outputLines, expectedLines)).firstIndex { $0.0 != $0.1 } ?? min(outputLines.count, expectedLines.count)
            Issue.record("""
                \(name) differs from the output at line \(first + 1):
                  golden: \(first < expectedLines.count ? expectedLines[first] : "<end>")
                  output: \(first < outputLines.count ? outputLines[first] : "<end>")
                If the change is deliberate: MAILNODE_UPDATE_GOLDEN=1 swift test --filter CatalogGoldenTests
                """, sourceLocation: sourceLocation)
        }
    }

    @Test(arguments: [("table", "txt"), ("json", "json"), ("markdown", "md")])
    func catalog(format: String, suffix: String) async throws {
        let result = try await CatalogProcess.run(["catalog", "--format", format])
        #expect(result.status == 0, "\(result)")
        #expect(result.stderr.isEmpty, "\(result)")
        try Self.expectGolden(result.stdout, "catalog/catalog.\(suffix)")
    }

    /// The configuration `mailnode up` generates (no --config).
    @Test(arguments: [("table", "txt"), ("json", "json"), ("markdown", "md")])
    func reviewOfTheGeneratedDefault(format: String, suffix: String) async throws {
        let result = try await CatalogProcess.run(["review", "--format", format])
        #expect(result.status == 0, "\(result)")
        #expect(result.stderr.isEmpty, "\(result)")
        try Self.expectGolden(result.stdout, "review/default.\(suffix)")
    }

    /// A later stage behind a load balancer, no TLS, bare line endings accepted (review/tuned.toml).
    @Test func reviewOfATunedConfiguration() async throws {
        let result = try await CatalogProcess.run(["review", "--config", "Fixtures/golden/review/tuned.toml"])
        #expect(result.status == 0, "\(result)")
        try Self.expectGolden(result.stdout, "review/tuned.txt")
    }

    /// The antivirus role reviewed from its own table: DM28 enabled (engine), virus solved.
    @Test func reviewOfAnAntivirusStage() async throws {
        let result = try await CatalogProcess.run(["review", "--config", "Fixtures/golden/review/antivirus.toml"])
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout.contains("DM28"), "\(result.stdout)")
        try Self.expectGolden(result.stdout, "review/antivirus.txt")
    }

    /// The store role reviewed from its own table: DM35 and DM15 enabled, every native entry of the
    /// role decided by a value.
    @Test func reviewOfAStoreStage() async throws {
        let result = try await CatalogProcess.run(["review", "--config", "Fixtures/golden/review/store.toml"])
        #expect(result.status == 0, "\(result)")
        try Self.expectGolden(result.stdout, "review/store.txt")
        let json = try await CatalogProcess.run(["review", "--config", "Fixtures/golden/review/store.toml", "--format", "json"])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        let roles = try #require(object["roles"] as? [[String: Any]])
        let store = try #require(roles.first { $0["role"] as? String == "store" })
        #expect(store["configured"] as? Bool == true && store["built"] as? Bool == true)
        let items = try #require(store["defenses"] as? [[String: Any]])
        let states = Dictionary(uniqueKeysWithValues: items.map { ($0["id"] as! String, $0["state"] as! String) })
        #expect(states["DM35"] == "enabled" && states["DM15"] == "enabled" && states["MN06"] == "enabled")
        for entry in DefenseCatalog.entries(for: .store) where entry.status == .native {
            #expect(states[entry.id.rawValue] == "enabled" || states[entry.id.rawValue] == "disabled", "\(entry.id)")
        }
    }
}
