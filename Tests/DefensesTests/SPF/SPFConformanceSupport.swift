import Foundation
import Testing

@testable import Defenses

/// The openspf.org SPF test suite (pyspf's copy), converted once from YAML by
/// `scripts/convert-spf-suite.py` into `Fixtures/conformance/spf/<suite>.json`.
struct SPFSuite: Decodable, Sendable {
    struct Scenario: Decodable, Sendable {
        var description: String
        var tests: [Case]
        var zonedata: [ZoneName]
    }

    struct Case: Decodable, Sendable {
        var name: String
        var helo: String
        var host: String
        var mailfrom: String
        /// Acceptable results, the preferred one first.
        var results: [String]
        /// The expected explanation on fail, when the suite gives one.
        var explanation: String?
        var spec: String?
    }

    struct ZoneName: Decodable, Sendable {
        var name: String
        var entries: [Entry]
    }

    /// One zonedata item: `{TYPE: value}` or the bare `TIMEOUT`.
    struct Entry: Decodable, Sendable {
        var type: String
        var value: Value?

        enum Value: Decodable, Sendable {
            case text(String)
            case strings([String])
            case mx(preference: UInt16, host: String)

            init(from decoder: any Decoder) throws {
                let container = try decoder.singleValueContainer()
                if let text = try? container.decode(String.self) {
                    self = .text(text)
                } else if let strings = try? container.decode([String].self) {
                    self = .strings(strings)
                } else {
                    var list = try decoder.unkeyedContainer()
                    let preference = try list.decode(UInt16.self)
                    self = .mx(preference: preference, host: try list.decode(String.self))
                }
            }
        }
    }

    var source: String
    var scenarios: [Scenario]

    static func load(_ name: String) throws -> SPFSuite {
        let url = DNSFixtures.root.appendingPathComponent("Fixtures/conformance/spf/\(name).json")
        return try JSONDecoder().decode(SPFSuite.self, from: Data(contentsOf: url))
    }

    /// Every test with its scenario, for parameterized tests; empty when the file is missing
    /// (the summary test then fails loudly).
    static func cases(_ name: String) -> [SPFSuiteCase] {
        guard let suite = try? load(name) else { return [] }
        return suite.scenarios.indices.flatMap { index in
            suite.scenarios[index].tests.map { SPFSuiteCase(suite: name, scenario: suite.scenarios[index], test: $0) }
        }
    }
}

/// One test of the suite with what it needs to run.
struct SPFSuiteCase: Sendable, CustomTestStringConvertible {
    var suite: String
    var scenario: SPFSuite.Scenario
    var test: SPFSuite.Case

    var testDescription: String { test.name }

    /// What came out, and whether the suite accepts it.
    struct Outcome: Sendable {
        var check: SPFCheck
        var passed: Bool
        var summary: String
    }

    func run() async throws -> Outcome {
        let resolver = try SPFSuiteZone.resolver(for: scenario.zonedata)
        let checker = SPFChecker(
            resolver: resolver,
            configuration: SPFConfiguration(defaultExplanation: "DEFAULT", checkHELO: false))
        let ip = try #require(IPAddress(test.host), "bad host \(test.host) in \(test.name)")
        // pyspf's harness checks one identity: MAIL FROM, or postmaster@<helo> when it is empty.
        let check = await checker.checkMailFrom(clientIP: ip, mailFrom: test.mailfrom, helo: test.helo)
        var passed = test.results.contains(check.result.rawValue)
        if let expected = test.explanation, check.explanation != expected { passed = false }
        let summary = """
            \(suite) \(test.name) (\(test.spec ?? "-")): got \(check.result)\
            \(check.explanation.map { " exp=\"\($0)\"" } ?? ""), want \(test.results.joined(separator: "|"))\
            \(test.explanation.map { " exp=\"\($0)\"" } ?? ""); \(check.problem ?? "")
            """
        return Outcome(check: check, passed: passed, summary: summary)
    }
}

/// Builds a ``MockResolver`` from a scenario's zonedata with the harness conventions of the
/// suite (Fixtures/conformance README, after pyspf's test driver):
/// - an `SPF` value is served as TXT too when the name has no `TXT` entry of its own; `TXT: NONE`
///   means "no TXT" and suppresses that; SPF values are also kept as type 99 records, so the name
///   exists (NODATA rather than NXDOMAIN for other types);
/// - `TIMEOUT` makes every query for the name time out, except for the types listed before it;
/// - names not in zonedata are NXDOMAIN (no name of either suite starts with `error.`, the
///   convention for names that time out although absent).
enum SPFSuiteZone {
    static let allTypes: [DNSRecordType] = [.a, .aaaa, .mx, .txt, .ptr, .cname, DNSRecordType(rawValue: 99)]

    static func resolver(for zonedata: [SPFSuite.ZoneName]) throws -> MockResolver {
        var resolver = MockResolver()
        for zone in zonedata {
            let name = SPFEvaluation.queryName(zone.name)
            let hasTXT = zone.entries.contains { $0.type == "TXT" }
            var answered: Set<DNSRecordType> = []
            var timesOut = false
            var generatedTXT: [DNSRecordData] = []
            for entry in zone.entries {
                if entry.type == "TIMEOUT" {
                    timesOut = true
                    break
                }
                guard let value = entry.value else { continue }
                if case .text("NONE") = value { continue }
                let records = try records(type: entry.type, value: value)
                for record in records {
                    resolver.add(record, at: name)
                    answered.insert(record.type)
                }
                if entry.type == "SPF" && !hasTXT { generatedTXT.append(.txt(try textRecord(value))) }
            }
            for record in generatedTXT { resolver.add(record, at: name) }
            if timesOut {
                if answered.isEmpty {
                    resolver.fail(name, with: .timeout)
                } else {
                    for type in allTypes where !answered.contains(type) { resolver.fail(name, with: .timeout, type: type) }
                }
            }
        }
        return resolver
    }

    private static func records(type: String, value: SPFSuite.Entry.Value) throws -> [DNSRecordData] {
        switch (type, value) {
        case ("A", .text(let text)):
            return [.a(try #require(IPv4Address(text), "bad A \(text)"))]
        case ("AAAA", .text(let text)):
            return [.aaaa(try #require(IPv6Address(text), "bad AAAA \(text)"))]
        case ("MX", .mx(let preference, let host)):
            let exchange = host.isEmpty || host == "." ? "." : SPFEvaluation.stripDot(host).lowercased()
            return [.mx(MXRecord(preference: preference, exchange: exchange))]
        case ("PTR", .text(let text)):
            // Case kept as published: the checker must compare names case-insensitively.
            return [.ptr(SPFEvaluation.stripDot(text))]
        case ("CNAME", .text(let text)):
            return [.cname(SPFEvaluation.stripDot(text).lowercased())]
        case ("TXT", _):
            return [.txt(try textRecord(value))]
        case ("SPF", _):
            let strings = try textRecord(value).strings
            return [.unknown(type: DNSRecordType(rawValue: 99), rdata: strings.flatMap { [UInt8($0.count)] + $0 })]
        default:
            throw SPFSuiteError(description: "unexpected zonedata entry \(type) \(value)")
        }
    }

    /// TXT data: the YAML text's characters as UTF-8 (a `\x80` in the YAML is U+0080).
    private static func textRecord(_ value: SPFSuite.Entry.Value) throws -> TXTRecord {
        switch value {
        case .text(let text): TXTRecord(strings: [Array(text.utf8)])
        case .strings(let strings): TXTRecord(strings: strings.map { Array($0.utf8) })
        case .mx: throw SPFSuiteError(description: "MX value where text was expected")
        }
    }
}

struct SPFSuiteError: Error, CustomStringConvertible {
    var description: String
}
