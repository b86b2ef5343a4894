import Foundation
import NIOCore
import Testing

@testable import SMTPCore

/// The quarantine's files: hold, list, show, delete, purge by age, release into the spool queue.
@Suite struct QuarantineStoreTests {
    static func envelope() throws -> Envelope {
        let sender = ReversePath.mailbox(Mailbox(localPart: "a", host: .domain("example.org")))
        let recipient = ForwardPath.mailbox(Mailbox(localPart: "b", host: .domain("example.net")))
        return Envelope(reversePath: sender, recipients: [EnvelopeRecipient(path: recipient)])
    }

    @Test func holdListDeletePurgeRelease() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mailnode-q-\(UUID().uuidString.prefix(8))").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let spool = try SpoolStore(directory: directory)
        let store = try QuarantineStore(spoolDirectory: directory)
        let old = QuarantineRecord(time: Date(timeIntervalSinceNow: -40 * 86_400), reason: "virus X found", defense: "DM28",
                                   signature: "X", envelope: try Self.envelope(), session: "s1", size: 5)
        let new = QuarantineRecord(reason: "attachment blocked", defense: "DM28", attachment: "run.exe",
                                   envelope: try Self.envelope(), client: "127.0.0.1", session: "s2", size: 5)
        try await store.hold(old, message: ByteBuffer(string: "old\r\n"))
        try await store.hold(new, message: ByteBuffer(string: "new\r\n"))
        #expect(try store.list().records.map(\.id) == [old.id, new.id].sorted())
        var roundTrip = try store.record(new.id)
        #expect(abs(roundTrip.time.timeIntervalSince(new.time)) < 1)   // ISO 8601: whole seconds
        roundTrip.time = new.time
        #expect(roundTrip == new)
        #expect(String(decoding: try store.message(old.id), as: UTF8.self) == "old\r\n")
        #expect(throws: QuarantineStore.Failure.badID("../queue/x")) { try store.record("../queue/x") }
        #expect(throws: QuarantineStore.Failure.notFound("NOPE")) { try store.record("NOPE") }

        #expect(try store.purge(olderThan: Date(timeIntervalSinceNow: -30 * 86_400)) == [old.id])
        #expect(try store.list().records.map(\.id) == [new.id])

        let entry = try await store.release(new.id, into: spool, by: "tester")
        #expect(try spool.committedIDs() == [entry.id])
        #expect(entry.record.envelope == new.envelope)
        #expect(try store.list().records.isEmpty)
        #expect(store.takeReleaseMarkers() == [entry.id])
        #expect(store.takeReleaseMarkers().isEmpty)
        let log = try String(contentsOfFile: directory + "/quarantine/released.log", encoding: .utf8)
        #expect(log.contains("released \(new.id) as \(entry.id) by tester"))
    }
}
