import Foundation
import Testing

@testable import Defenses

/// The openspf.org RFC 7208 and RFC 4408 test suites through ``MockResolver`` (see
/// ``SPFSuiteZone`` for the harness conventions). Each case is its own test, named by the suite's
/// case name; the summary tests count passes and hold the floor, so a regression fails.
@Suite("SPF conformance (openspf.org suites)")
struct SPFConformanceTests {
    /// Passing cases of rfc7208-tests.yml: all of them.
    static let rfc7208Floor = 203
    /// Passing cases of rfc4408-tests.yml: all of them (where RFC 7208 changed an answer, that
    /// suite lists both as acceptable).
    static let rfc4408Floor = 191

    @Test("rfc7208-tests.yml", arguments: SPFSuite.cases("rfc7208-tests"))
    func rfc7208(_ suiteCase: SPFSuiteCase) async throws {
        let outcome = try await suiteCase.run()
        #expect(outcome.passed, "\(outcome.summary)")
    }

    @Test("rfc4408-tests.yml", arguments: SPFSuite.cases("rfc4408-tests"))
    func rfc4408(_ suiteCase: SPFSuiteCase) async throws {
        let outcome = try await suiteCase.run()
        #expect(outcome.passed, "\(outcome.summary)")
    }

    @Test func rfc7208Summary() async throws {
        let passed = try await Self.summary("rfc7208-tests", expectedCases: 203)
        #expect(passed >= Self.rfc7208Floor)
    }

    @Test func rfc4408Summary() async throws {
        let passed = try await Self.summary("rfc4408-tests", expectedCases: 191)
        #expect(passed >= Self.rfc4408Floor)
    }

    /// Runs a whole suite, prints `SPF conformance <suite>: <passed>/<total>` and the failures
    /// (every case with `SPF_SUITE_VERBOSE=1`).
    static func summary(_ suite: String, expectedCases: Int) async throws -> Int {
        let cases = SPFSuite.cases(suite)
        #expect(cases.count == expectedCases, "\(suite).json should hold \(expectedCases) cases")
        var passed = 0
        var preferred = 0
        var failures: [String] = []
        for suiteCase in cases {
            let outcome = try await suiteCase.run()
            if outcome.passed { passed += 1 } else { failures.append(outcome.summary) }
            if outcome.passed, outcome.check.result.rawValue == suiteCase.test.results.first { preferred += 1 }
            if ProcessInfo.processInfo.environment["SPF_SUITE_VERBOSE"] != nil {
                print("  \(outcome.passed ? "ok" : "FAILED") \(outcome.summary)")
            }
        }
        print("SPF conformance \(suite): \(passed)/\(cases.count) passed (\(preferred) with the preferred result)")
        for failure in failures { print("  FAILED \(failure)") }
        return passed
    }
}
