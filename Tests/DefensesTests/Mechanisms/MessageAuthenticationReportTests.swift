import Foundation
import Testing

@testable import Defenses
@testable import SMTPCore

/// The aggregate-report records the mx's message stage keeps (MN04, RFC 7489 §7.2): one per
/// message whose From domain publishes a policy, with the disposition actually applied.
@Suite struct MessageAuthenticationReportTests {
    typealias Base = MessageAuthenticationTests

    @Test func aPassingMessageIsRecordedWithItsAuthenticationResults() async throws {
        let reports = InMemoryDMARCReportStore()
        let stage = try Base.Stage(reports: reports)
        defer { stage.remove() }
        _ = try await stage.deliver(try Base.signed(Base.message(from: "example.org")))
        let record = try #require(await reports.all.first)
        #expect(await reports.all.count == 1)
        #expect(record.policyDomain == "example.org" && record.headerFrom == "example.org")
        #expect(record.sourceIP.description == "192.0.2.10")
        #expect(record.envelopeFrom == "example.org")
        #expect(record.disposition == .none && record.dkimAligned && record.spfAligned)
        #expect(record.dkim.map { "\($0.domain)/\($0.selector ?? "-")/\($0.result)" } == ["example.org/sel/pass"])
        #expect(record.spf?.result == "pass" && record.spfScope == "mfrom")
        #expect(record.overrideReasons.isEmpty)
    }

    @Test func aRefusedMessageIsRecordedAsRejected() async throws {
        let reports = InMemoryDMARCReportStore()
        let stage = try Base.Stage(reports: reports)
        defer { stage.remove() }
        let (result, _) = try await stage.deliver(Base.message(from: "example.org"), client: "198.51.100.7")
        #expect(result.reply.code == .mailboxUnavailable)
        let record = try #require(await reports.all.first)
        #expect(record.disposition == .reject && !record.dkimAligned && !record.spfAligned)
        #expect(record.sourceIP.description == "198.51.100.7" && record.spf?.result == "fail")
    }

    @Test func aMilderLocalActionIsReportedAsLocalPolicy() async throws {
        let reports = InMemoryDMARCReportStore()
        let tagging = try Base.Stage(.init(authservID: "mx.test", onReject: .tag), reports: reports)
        defer { tagging.remove() }
        _ = try await tagging.deliver(Base.message(from: "example.org"), client: "198.51.100.7")
        let ignoring = try Base.Stage(.init(authservID: "mx.test", onQuarantine: .ignore), reports: reports)
        defer { ignoring.remove() }
        _ = try await ignoring.deliver(Base.message(from: "quarantine.example"), mailFrom: "b@quarantine.example")
        let quarantined = try Base.Stage(reports: reports)
        defer { quarantined.remove() }
        _ = try await quarantined.deliver(Base.message(from: "quarantine.example"), mailFrom: "b@quarantine.example")
        let records = await reports.all
        #expect(records.map(\.disposition) == [.quarantine, .none, .quarantine])
        #expect(records.map(\.overrideReasons) == [["local_policy"], ["local_policy"], []])
    }

    @Test func noPolicyOrATemporaryRefusalRecordsNothing() async throws {
        let reports = InMemoryDMARCReportStore()
        let stage = try Base.Stage(.init(authservID: "mx.test", onTemperror: .tempfail), reports: reports)
        defer { stage.remove() }
        _ = try await stage.deliver(Base.message(from: "nodmarc.example"), mailFrom: "b@nodmarc.example")
        let (result, _) = try await stage.deliver(Base.message(from: "broken.example"), mailFrom: "b@broken.example")
        #expect(result.reply.code == .localError)
        #expect(await reports.all.isEmpty)
    }

    @Test func aFailingReportStoreNeverChangesTheVerdict() async throws {
        let stage = try Base.Stage(reports: FailingReportStore())
        defer { stage.remove() }
        let (result, stored) = try await stage.deliver(try Base.signed(Base.message(from: "example.org")))
        #expect(result.reply.code == .ok)
        #expect(stored != nil)
    }

    @Test func theNodesFileStoreGetsTheRecords() async throws {
        let directory = NSTemporaryDirectory() + "mailnode-dmarc-mx-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let reports = try DMARCReportFileStore(directory: directory)
        let stage = try Base.Stage(reports: reports)
        defer { stage.remove() }
        _ = try await stage.deliver(try Base.signed(Base.message(from: "example.org")))
        _ = try await stage.deliver(Base.message(from: "example.org"), client: "198.51.100.7")
        let now = Int64(Date().timeIntervalSince1970)
        let records = try await DMARCReportFileStore(directory: directory)
            .records(policyDomain: "example.org", from: now - 3600, to: now + 3600)
        #expect(records.map(\.disposition) == [.none, .reject])
    }
}

/// A report store whose disk is gone.
struct FailingReportStore: DMARCReportStore {
    func append(_ record: DMARCAggregateRecord) async throws { throw DMARCReportStoreError("disk full") }
    func records(policyDomain: String, from: Int64, to: Int64) async throws -> [DMARCAggregateRecord] { [] }
    func policyDomains(from: Int64, to: Int64) async throws -> [String] { [] }
    func removeRecords(before date: Int64) async throws {}
}
