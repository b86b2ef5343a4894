import Foundation
import NIOCore
import Testing
@testable import SMTPCore

/// `mailnode queue` reads the spool without touching it; the listing reflects entries and states.
@Suite struct SpoolListingTests {
    static func envelope(_ recipients: [String]) -> Envelope {
        Envelope(reversePath: .mailbox(Mailbox(localPart: "s", host: .domain("src.test"))),
                 recipients: recipients.map { EnvelopeRecipient(path: .mailbox(Mailbox(localPart: $0, host: .domain("dst.test")))) })
    }

    @Test func listsEntriesWithTheirDeliveryStateAndReportsGarbage() async throws {
        let directory = NSTemporaryDirectory() + "mailnode-listing-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try SpoolStore(directory: directory)
        let first = try await store.inject(envelope: Self.envelope(["a", "b"]), message: ByteBuffer(string: "Subject: one\r\n\r\nbody\r\n"))
        let second = try await store.inject(envelope: Self.envelope(["c"]), message: ByteBuffer(string: "Subject: two\r\n\r\nx\r\n"))
        var state = DeliveryState(recipientCount: 2, nextAttempt: Date(timeIntervalSinceNow: 600))
        state.attempts = 1
        state.recipients[0] = .init(status: .delivered, attempts: 1, lastResult: "250 2.0.0 Ok")
        state.recipients[1] = .init(status: .pending, attempts: 1, lastResult: "451 4.3.0 Try later",
                                    delayNotified: Date(timeIntervalSince1970: 1_000_000))
        try await store.save(state, for: first.id)
        _ = FileManager.default.createFile(atPath: directory + "/queue/GARBAGE", contents: Data("junk".utf8))
        let before = try FileManager.default.contentsOfDirectory(atPath: directory + "/queue").sorted()

        let listing = SpoolListing(directory: directory)
        let (items, problems) = try listing.items()
        #expect(items.map(\.id) == [first.id, second.id])
        #expect(problems.map(\.id) == ["GARBAGE"])
        let one = items[0]
        #expect(one.sender == "<s@src.test>")
        #expect(one.recipients.map(\.address) == ["<a@dst.test>", "<b@dst.test>"])
        #expect(one.recipients.map(\.status) == [.delivered, .pending])
        #expect(one.recipients[1].lastResult == "451 4.3.0 Try later")
        #expect(one.recipients.map(\.delayNotified) == [nil, Date(timeIntervalSince1970: 1_000_000)])
        #expect(one.attempts == 1 && one.nextAttempt != nil)
        #expect(items[1].attempts == 0 && items[1].nextAttempt == nil)
        #expect(items[1].size == second.messageSize)

        #expect(try listing.headerSection(second.id).hasSuffix("Subject: two"))
        #expect(throws: (any Error).self) { try listing.item("../state/" + first.id) }
        // Read-only: nothing was created, moved or removed.
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory + "/queue").sorted() == before)
        #expect(!SpoolListing(directory: directory + "/nope").exists)
    }
}
