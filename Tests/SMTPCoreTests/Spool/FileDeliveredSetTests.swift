import Foundation
import Logging
import NIOConcurrencyHelpers
import Testing
@testable import SMTPCore

/// The file-backed set of (Mailnode-Id, recipient) pairs a receiving stage has stored.
@Suite struct FileDeliveredSetTests {
    /// A clock the test moves by hand.
    final class Clock: Sendable {
        private let box: NIOLockedValueBox<Date>
        init(_ start: Date = Date(timeIntervalSince1970: 1_800_000_000)) { box = NIOLockedValueBox(start) }
        var now: Date { box.withLockedValue { $0 } }
        func advance(_ seconds: TimeInterval) { box.withLockedValue { $0 += seconds } }
    }

    static func directory() -> String {
        NSTemporaryDirectory() + "mailnode-delivered-" + UUID().uuidString
    }

    static func open(_ directory: String, clock: Clock, retention: Int = 7 * 86_400, maxEntries: Int = 1_000_000) throws -> FileDeliveredSet {
        try FileDeliveredSet(directory: directory,
                             configuration: DeliveredSetConfiguration(retention: .seconds(retention), maxEntries: maxEntries),
                             logger: Logger(label: "test"), now: { clock.now })
    }

    static func key(_ id: String, _ recipient: String) -> DeliveredKey {
        DeliveredKey(messageID: "<\(id)@a.test>", recipient: "<\(recipient)@dst.test>")
    }

    static func logText(_ directory: String) -> String {
        (try? String(contentsOfFile: directory + "/log", encoding: .utf8)) ?? ""
    }

    @Test func survivesReopen() async throws {
        let directory = Self.directory()
        let clock = Clock()
        let set = try Self.open(directory, clock: clock)
        try await set.record([Self.key("M1", "a"), Self.key("M1", "b")], queueID: "Q1")
        try await set.record([Self.key("M2", "a")], queueID: "Q2")
        #expect(set.appends == 2)   // each record written and fsynced before it returned
        let reopened = try Self.open(directory, clock: clock)
        let found = try await reopened.lookup([Self.key("M1", "a"), Self.key("M1", "b"), Self.key("M2", "a"), Self.key("M2", "b")])
        #expect(found == [Self.key("M1", "a"): "Q1", Self.key("M1", "b"): "Q1", Self.key("M2", "a"): "Q2"])
        #expect(reopened.count == 3)
    }

    @Test func recipientDomainsCompareWithoutCase() {
        let upper = DeliveredKey(messageID: "<M@a.test>", recipient: .mailbox(Mailbox(localPart: "Bob", host: .domain("DST.Test"))))
        let lower = DeliveredKey(messageID: "<M@a.test>", recipient: .mailbox(Mailbox(localPart: "Bob", host: .domain("dst.test"))))
        let otherLocal = DeliveredKey(messageID: "<M@a.test>", recipient: .mailbox(Mailbox(localPart: "bob", host: .domain("dst.test"))))
        #expect(upper == lower)
        #expect(upper != otherLocal)   // local parts are case-sensitive (RFC 5321 §2.4)
        #expect(DeliveredKey(messageID: "<M@a.test>", recipient: .postmaster).recipient == "<postmaster>")
    }

    @Test func pairsExpireAfterTheRetention() async throws {
        let directory = Self.directory()
        let clock = Clock()
        let set = try Self.open(directory, clock: clock, retention: 3600)
        try await set.record([Self.key("OLD", "a")], queueID: "Q1")
        clock.advance(1800)
        try await set.record([Self.key("NEW", "a")], queueID: "Q2")
        clock.advance(1801)   // OLD is 3601 s old, NEW 1801 s
        #expect(try await set.lookup([Self.key("OLD", "a")]).isEmpty)
        #expect(try await set.lookup([Self.key("NEW", "a")]) == [Self.key("NEW", "a"): "Q2"])
        // Expired pairs do not come back from the file either.
        let reopened = try Self.open(directory, clock: clock, retention: 3600)
        #expect(reopened.count == 1)
        #expect(try await reopened.lookup([Self.key("OLD", "a")]).isEmpty)
    }

    @Test func tornLastLineIsCutAndLaterAppendsStayReadable() async throws {
        let directory = Self.directory()
        let clock = Clock()
        let set = try Self.open(directory, clock: clock)
        try await set.record([Self.key("M1", "a")], queueID: "Q1")
        // A crash in the middle of the next append: half a line, no newline.
        let handle = try #require(FileHandle(forWritingAtPath: directory + "/log"))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data("1800000000 Q2 <M2@a.test> <a@d".utf8))
        try handle.close()

        let reopened = try Self.open(directory, clock: clock)
        #expect(reopened.count == 1)
        #expect(!Self.logText(directory).contains("<a@d\n"))
        #expect(Self.logText(directory).hasSuffix("\n"))
        try await reopened.record([Self.key("M3", "a")], queueID: "Q3")
        let third = try Self.open(directory, clock: clock)
        #expect(try await third.lookup([Self.key("M1", "a"), Self.key("M2", "a"), Self.key("M3", "a")])
                == [Self.key("M1", "a"): "Q1", Self.key("M3", "a"): "Q3"])
    }

    @Test func unparseableLinesAreSkipped() async throws {
        let directory = Self.directory()
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let text = "1800000000 Q1 <M1@a.test> <a@dst.test>\n\0\0\0\0\ngarbage\n1800000000 Q2 <M2@a.test> <b@dst.test>\n"
        try Data(text.utf8).write(to: URL(fileURLWithPath: directory + "/log"))
        let set = try Self.open(directory, clock: Clock())
        #expect(set.count == 2)
        #expect(try await set.lookup([Self.key("M2", "b")]) == [Self.key("M2", "b"): "Q2"])
    }

    @Test func recipientsWithSpacesRoundTrip() async throws {
        let directory = Self.directory()
        let clock = Clock()
        let quoted = DeliveredKey(messageID: "<M@a.test>", recipient: .mailbox(Mailbox(localPart: "john doe", host: .domain("dst.test"))))
        #expect(quoted.recipient == "<\"john doe\"@dst.test>")
        try await Self.open(directory, clock: clock).record([quoted], queueID: "Q1")
        #expect(try await Self.open(directory, clock: clock).lookup([quoted]) == [quoted: "Q1"])
    }

    @Test func boundedByMaxEntriesAndCompacted() async throws {
        let directory = Self.directory()
        let clock = Clock()
        let set = try Self.open(directory, clock: clock, maxEntries: 1000)
        for batch in 0..<30 {
            clock.advance(1)
            try await set.record((0..<100).map { Self.key("B\(batch)", "r\($0)") }, queueID: "Q\(batch)")
        }
        // 3000 recorded, 1000 kept: the newest.
        #expect(set.count == 1000)
        #expect(try await set.lookup([Self.key("B0", "r0")]).isEmpty)
        #expect(try await set.lookup([Self.key("B29", "r99")]) == [Self.key("B29", "r99"): "Q29"])
        // The file was rewritten along the way: far fewer lines than were ever appended.
        let lines = Self.logText(directory).split(separator: "\n").count
        #expect(lines < 2100)
        #expect(lines >= 1000)
        let reopened = try Self.open(directory, clock: clock, maxEntries: 1000)
        #expect(reopened.count == 1000)
        #expect(try await reopened.lookup([Self.key("B29", "r0")]) == [Self.key("B29", "r0"): "Q29"])
    }

    @Test func concurrentRecordsAllBecomeDurable() async throws {
        let directory = Self.directory()
        let clock = Clock()
        let set = try Self.open(directory, clock: clock)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<200 {
                group.addTask { try await set.record([Self.key("C\(index)", "a")], queueID: "Q\(index)") }
            }
            try await group.waitForAll()
        }
        let reopened = try Self.open(directory, clock: clock)
        #expect(reopened.count == 200)
        let keys = (0..<200).map { Self.key("C\($0)", "a") }
        #expect(try await reopened.lookup(keys).count == 200)
        #expect(Self.logText(directory).split(separator: "\n").count == 200)
    }
}
