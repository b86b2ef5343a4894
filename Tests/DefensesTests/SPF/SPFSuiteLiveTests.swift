import Foundation
import Testing

@testable import Defenses

/// The openspf.org suites through the real resolver: each scenario's `zonedata` becomes a JSON
/// zone for `Tests/interop/dns_server.py` (one server per scenario, since scenarios reuse names),
/// and every test of the scenario runs over ``LDNSResolver`` against it — the same harness
/// conventions as ``SPFSuiteZone`` (SPF values served as TXT unless the name has TXT, `TXT: NONE`,
/// `TIMEOUT` as a name that never answers the types it has no record of).
@Suite("SPF conformance over LDNSResolver against a live DNS server")
struct SPFSuiteLiveTests {
    /// The JSON zone of one scenario (format in dns_server.py's documentation).
    static func zone(_ zonedata: [SPFSuite.ZoneName]) -> [String: Any] {
        var records: [[String: Any]] = []
        var timeouts: [String] = []
        for entry in zonedata {
            let name = entry.name
            let hasTXT = entry.entries.contains { $0.type == "TXT" }
            for item in entry.entries {
                if item.type == "TIMEOUT" {
                    timeouts.append(name)
                    break
                }
                guard let value = item.value else { continue }
                if case .text("NONE") = value { continue }
                switch (item.type, value) {
                case ("MX", .mx(let preference, let host)):
                    records.append(["name": name, "type": "MX", "preference": Int(preference), "exchange": host])
                case ("TXT", .text(let text)), ("SPF", .text(let text)):
                    records.append(["name": name, "type": item.type, "strings": [text]])
                case ("TXT", .strings(let strings)), ("SPF", .strings(let strings)):
                    records.append(["name": name, "type": item.type, "strings": strings])
                case (_, .text(let text)):
                    records.append(["name": name, "type": item.type, "value": text])
                default:
                    continue
                }
                if item.type == "SPF", !hasTXT, var served = records.last {
                    served["type"] = "TXT"
                    records.append(served)
                }
            }
        }
        return ["origin": "", "records": records, "timeouts": timeouts]
    }

    /// Runs every test of `suite` live; returns (passed, total, failure summaries, queries the
    /// servers received, tests that ended in a DNS timeout).
    static func run(_ suite: String) async throws -> (passed: Int, total: Int, failures: [String], queries: Int, timeouts: Int) {
        let loaded = try SPFSuite.load(suite)
        var passed = 0
        var total = 0
        var failures: [String] = []
        var queries = 0
        var timeouts = 0
        for scenario in loaded.scenarios {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mailnode-spfsuite-\(UUID().uuidString)", isDirectory: true)
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: directory) }
            let data = try JSONSerialization.data(withJSONObject: zone(scenario.zonedata), options: [.sortedKeys])
            try data.write(to: directory.appendingPathComponent("scenario.json"))
            try await withDNSTestServer(zones: directory) { server in
                let checker = SPFChecker(
                    resolver: server.resolver(timeout: .milliseconds(2500), attempts: 2),   // TIMEOUT names cost this; answers on a busy box must not
                    configuration: SPFConfiguration(defaultExplanation: "DEFAULT", checkHELO: false))
                for test in scenario.tests {
                    total += 1
                    guard let ip = IPAddress(test.host) else {
                        failures.append("\(test.name): bad host \(test.host)")
                        continue
                    }
                    let check = await checker.checkMailFrom(clientIP: ip, mailFrom: test.mailfrom, helo: test.helo)
                    if check.problem?.contains("DNS timeout") == true { timeouts += 1 }
                    var ok = test.results.contains(check.result.rawValue)
                    if let expected = test.explanation, check.explanation != expected { ok = false }
                    if ok {
                        passed += 1
                    } else {
                        failures.append("""
                            \(test.name): got \(check.result) \(check.explanation ?? ""), want \
                            \(test.results.joined(separator: "|")) \(test.explanation ?? ""); \(check.problem ?? "")
                            """)
                    }
                }
                queries += server.queries().count
            }
        }
        print("SPF conformance \(suite) over LDNSResolver and dns_server.py: \(passed)/\(total) passed (\(queries) queries, \(timeouts) DNS timeouts)")
        for failure in failures { print("  FAILED \(failure)") }
        return (passed, total, failures, queries, timeouts)
    }

    @Test func rfc7208SuiteOverRealDNS() async throws {
        let (passed, total, failures, queries, timeouts) = try await Self.run("rfc7208-tests")
        #expect(total == 203)
        #expect(queries > total && timeouts > 0)   // really over the wire, silent names included
        #expect(passed == total, "\(failures.joined(separator: "\n"))")
    }

    @Test func rfc4408SuiteOverRealDNS() async throws {
        let (passed, total, failures, queries, timeouts) = try await Self.run("rfc4408-tests")
        #expect(total == 191)
        #expect(queries > total && timeouts > 0)
        #expect(passed == total, "\(failures.joined(separator: "\n"))")
    }
}
