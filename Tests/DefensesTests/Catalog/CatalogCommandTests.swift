import Defenses
import Foundation
import Testing

/// `mailnode catalog` and `mailnode review` as processes: what the output promises beyond the
/// golden files (width, agreement with the library data, derived states, errors).
@Suite struct CatalogCommandTests {
    @Test func tablesFitA100ColumnTerminal() async throws {
        for arguments in [["catalog"], ["review"], ["review", "--config", "Fixtures/golden/review/tuned.toml"]] {
            let result = try await CatalogProcess.run(arguments)
            #expect(result.status == 0, "\(result)")
            for line in result.stdout.split(separator: "\n") {
                #expect(line.count <= 100, "\(arguments): \(line)")
                #expect(!line.hasSuffix(" "), "\(arguments): trailing space in '\(line)'")
            }
        }
    }

    /// The JSON is the library's catalog: every id with its status, 36 paper entries.
    @Test func catalogJSONIsTheLibraryData() async throws {
        let result = try await CatalogProcess.run(["catalog", "--format", "json"])
        #expect(result.status == 0, "\(result)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let defenses = try #require(object["defenses"] as? [[String: Any]])
        #expect(defenses.compactMap { $0["id"] as? String } == DefenseCatalog.all.map(\.id.rawValue))
        #expect(defenses.compactMap { $0["status"] as? String } == DefenseCatalog.all.map(\.status.rawValue))
        #expect(defenses.filter { $0["fromPaper"] as? Bool == true }.count == 36)
        #expect((object["faults"] as? [Any])?.count == 14)
    }

    /// States follow the configured values: TLS off turns DM14 and MN02 off, `accept` turns MN01
    /// off, trusted networks turn MN03 and MN06 on; the fault table follows.
    @Test func reviewDerivesStatesFromValues() async throws {
        func states(_ arguments: [String]) async throws -> [String: String] {
            let result = try await CatalogProcess.run(arguments + ["--format", "json"])
            #expect(result.status == 0, "\(result)")
            let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
            let roles = try #require(object["roles"] as? [[String: Any]])
            let mx = try #require(roles.first { $0["role"] as? String == "mx" })
            #expect(mx["configured"] as? Bool == true)
            let items = try #require(mx["defenses"] as? [[String: Any]])
            return Dictionary(uniqueKeysWithValues: items.map { ($0["id"] as! String, $0["state"] as! String) })
        }
        let generated = try await states(["review"])
        #expect(generated["DM07"] == "enabled" && generated["DM08"] == "enabled" && generated["DM09"] == "enabled")
        #expect(generated["DM14"] == "enabled" && generated["MN02"] == "enabled" && generated["MN01"] == "enabled")
        #expect(generated["MN03"] == "disabled" && generated["MN06"] == "disabled")
        #expect(generated["DM31"] == "disabled" && generated["MN04"] == "disabled" && generated["DM20"] == "disabled" && generated["DM22"] == "disabled" && generated["DM10"] == "enabled")
        #expect(generated["DM28"] == "not applicable" && generated["DM01"] == "deployment")
        // Every native entry of mx is decided by a value, never by the fallback.
        for entry in DefenseCatalog.entries(for: .mx) where entry.status == .native {
            #expect(generated[entry.id.rawValue] == "enabled" || generated[entry.id.rawValue] == "disabled", "\(entry.id)")
        }
        let tuned = try await states(["review", "--config", "Fixtures/golden/review/tuned.toml"])
        #expect(tuned["DM14"] == "disabled" && tuned["MN02"] == "disabled" && tuned["MN01"] == "disabled")
        #expect(tuned["MN03"] == "enabled" && tuned["MN06"] == "enabled")
    }

    /// A file with mx and store tables is reviewed as `--role all` runs it (the mx refuses
    /// unknown users against the store's directory: DM19 on), and as `--role mx` runs it when
    /// asked (the mx alone: DM19 off, no store role).
    @Test func aMultiRoleFileIsReviewedAsItRuns() async throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("review-\(UUID().uuidString).toml")
        defer { try? FileManager.default.removeItem(at: file) }
        try Data("""
            [node]
            hostname = "node.example.test"
            spool = "/tmp/mailnode-review-chain"
            [mx]
            listen = "127.0.0.1:2525"
            domains = ["example.test"]
            [store]
            listen = "127.0.0.1:10024"
            pop3_listen = []
            pop3s_listen = []

            """.utf8).write(to: file)
        func review(_ arguments: [String]) async throws -> [String: [String: String]] {
            let result = try await CatalogProcess.run(arguments + ["--format", "json"])
            #expect(result.status == 0, "\(result)")
            let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
            let roles = try #require(object["roles"] as? [[String: Any]])
            var states: [String: [String: String]] = [:]
            for role in roles where role["configured"] as? Bool == true {
                let items = role["defenses"] as? [[String: Any]] ?? []
                states[role["role"] as? String ?? "?"] = Dictionary(uniqueKeysWithValues: items.map { ($0["id"] as! String, $0["state"] as! String) })
            }
            return states
        }
        let chained = try await review(["review", "--config", file.path])
        #expect(chained["mx"]?["DM19"] == "enabled" && chained["store"]?["DM19"] == "enabled", "\(chained)")
        let alone = try await review(["--role", "mx", "review", "--config", file.path])
        #expect(alone["mx"]?["DM19"] == "disabled" && alone["store"] == nil, "\(alone)")
    }

    /// DM23 counts the patterns of each list, the message stage's too, and says how far bodies are scanned.
    @Test func reviewCountsTheRulesOfEachList() async throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("review-\(UUID().uuidString).toml")
        defer { try? FileManager.default.removeItem(at: file) }
        try Data("""
            [node]
            hostname = "mx.example.test"
            spool = "/tmp/mailnode-review-rules"
            [mx]
            domains = ["example.test"]
            [mx.rules]
            reject_helo = ['^localhost$']
            reject_header = ['^Subject:.*viagra', '^X-Mailer: bulk']
            reject_body = ['click here']
            body_scan_limit = 65536

            """.utf8).write(to: file)
        let result = try await CatalogProcess.run(["review", "--config", file.path, "--format", "json"])
        #expect(result.status == 0, "\(result)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let roles = try #require(object["roles"] as? [[String: Any]])
        let mx = try #require(roles.first { $0["role"] as? String == "mx" })
        let item = try #require((mx["defenses"] as? [[String: Any]])?.first { $0["id"] as? String == "DM23" })
        #expect(item["state"] as? String == "enabled")
        #expect(item["detail"] as? String == "1 HELO, 0 sender, 0 recipient, 2 header, 1 body patterns (bodies scanned up to 65536 octets) "
                + "(550 5.7.1)", "\(item)")
    }

    /// A file without any role table reviews as "nothing enabled".
    @Test func reviewOfAFileWithoutRoles() async throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("review-\(UUID().uuidString).toml")
        try Data("[node]\nhostname = \"x.test\"\n".utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let result = try await CatalogProcess.run(["review", "--config", file.path])
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout.contains("no role is configured"), "\(result)")
        #expect(result.stdout.contains("this configuration: solved 0, mitigated 0, uncovered 14"), "\(result)")
    }

    /// A bad file: the same single line and exit code 2 as `mailnode --role mx --config`.
    @Test func badConfigurationIsRefusedLikeRoleMX() async throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("review-\(UUID().uuidString).toml")
        try Data("[node]\nhostname = \"mx.test\"\n[mx]\ndomains = [\"example.test\"]\nmax_recipients = \"many\"\n".utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let review = try await CatalogProcess.run(["review", "--config", file.path])
        #expect(review.status == 2, "\(review)")
        #expect(review.stdout.isEmpty, "\(review)")
        #expect(review.stderr == "mailnode: \(file.path):5: mx.max_recipients: expected an integer, got a string\n", "\(review)")
        let role = try await CatalogProcess.run(["--role", "mx", "--config", file.path])
        #expect(role.status == 2 && role.stderr == review.stderr, "\(role)")
        let missing = try await CatalogProcess.run(["review", "--config", "/nonexistent/mailnode.toml"])
        #expect(missing.status == 2)
        #expect(missing.stderr == "mailnode: /nonexistent/mailnode.toml: cannot read the file\n", "\(missing)")
    }

    @Test func unknownFormatIsAUsageError() async throws {
        let result = try await CatalogProcess.run(["catalog", "--format", "yaml"])
        #expect(result.status == 64, "\(result)")
        #expect(result.stderr.contains("--format"), "\(result)")
    }
}
