import Foundation
import NIOCore
import NIOPosix
import Testing
@testable import MailStore

/// Runs blocking `work` on a thread of its own (see Tests/DefensesTests/Support/OffThePool.swift).
func offThePool<R: Sendable>(_ work: @escaping @Sendable () throws -> R) async throws -> R {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread { continuation.resume(with: Result { try work() }) }
    }
}

/// A scratch store directory removed at the end of a test.
struct ScratchStore {
    let directory: String
    let store: SQLiteMailboxStore

    private init(directory: String, store: SQLiteMailboxStore) {
        self.directory = directory
        self.store = store
    }

    /// Opens a new store off the cooperative pool (creating the database fsyncs: never block a
    /// test thread on disk, the CI box has two).
    static func make(threadPool: NIOThreadPool = .singleton) async throws -> ScratchStore {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mailstore-\(UUID().uuidString)").path
        return ScratchStore(directory: directory, store: try await offThePool { try SQLiteMailboxStore(directory: directory, threadPool: threadPool) })
    }

    func reopen() async throws -> SQLiteMailboxStore {
        let directory = self.directory
        return try await offThePool { try SQLiteMailboxStore(directory: directory) }
    }

    func remove() { try? FileManager.default.removeItem(atPath: directory) }

    /// Stages `text` as a durable body.
    func stage(_ text: String, in store: SQLiteMailboxStore? = nil) async throws -> StagedBody {
        let writer = try (store ?? self.store).stage()
        try await writer.write(ByteBuffer(string: text))
        return try await writer.finish()
    }

    func bodyFiles() -> [String] {
        let messages = directory + "/messages"
        return ((try? FileManager.default.contentsOfDirectory(atPath: messages)) ?? []).flatMap { bucket in
            ((try? FileManager.default.contentsOfDirectory(atPath: messages + "/" + bucket)) ?? []).map { bucket + "/" + $0 }
        }
    }
}

@Suite struct SQLiteMailboxStoreTests {
    static let unlimited = QuotaLimits()

    @Test func defaultFoldersWithSpecialUseAndRisingUIDValidity() async throws {
        let scratch = try await ScratchStore.make()
        defer { scratch.remove() }
        let boxes = try await scratch.store.mailboxes(user: "Alice@Example.org")
        #expect(boxes.map(\.name) == ["INBOX", "Drafts", "Junk", "Sent", "Trash"])
        #expect(boxes.first { $0.name == "Sent" }?.specialUse == .sent)
        #expect(boxes.first { $0.name == "Junk" }?.specialUse == .junk)
        #expect(boxes.first?.specialUse == nil && boxes.allSatisfy { $0.user == "alice@example.org" && $0.uidNext == 1 })
        #expect(Set(boxes.map(\.uidValidity)).count == boxes.count)   // distinct
        let folder = try await scratch.store.createMailbox(user: "alice@example.org", name: "Projects/2026", specialUse: nil)
        #expect(folder.uidValidity > boxes.map(\.uidValidity).max()!)
        await #expect(throws: StoreError.mailboxExists("Projects/2026")) {
            try await scratch.store.createMailbox(user: "alice@example.org", name: "Projects/2026", specialUse: nil)
        }
        // The second call finds them instead of making them again.
        #expect(try await scratch.store.mailboxes(user: "alice@example.org").count == 6)
    }

    @Test func deliveryAssignsUIDsAndSharesOneBodyFile() async throws {
        let scratch = try await ScratchStore.make()
        defer { scratch.remove() }
        let targets = [DeliveryTarget(user: "alice", quota: Self.unlimited), DeliveryTarget(user: "bob", quota: Self.unlimited)]
        let first = try await scratch.stage("Subject: one\r\n\r\nbody\r\n")
        let outcomes = try await scratch.store.deliver(first, to: targets, deduplicationKey: nil, allOrNothing: false)
        #expect(outcomes.count == 2)
        guard case .stored(let uid, let usage, _) = outcomes[0] else { Issue.record("\(outcomes)"); return }
        #expect(uid == 1 && usage == QuotaUsage(bytes: Int64(first.size), messages: 1))
        #expect(scratch.bodyFiles().count == 1)   // one file for both recipients
        let second = try await scratch.stage("Subject: two\r\n\r\nmore\r\n")
        _ = try await scratch.store.deliver(second, to: [targets[0]], deduplicationKey: nil, allOrNothing: false)
        let inbox = try #require(try await scratch.store.mailbox(user: "alice", name: "inbox"))
        #expect(inbox.uidNext == 3 && inbox.highestModSeq == 3)
        let messages = try await scratch.store.messages(in: inbox.id)
        #expect(messages.map(\.uid) == [1, 2] && messages.map(\.size) == [first.size, second.size])
        #expect(messages[1].modSeq > messages[0].modSeq)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: scratch.store.bodyPath(messages[0].bodyID)))
        #expect(String(decoding: bytes, as: UTF8.self) == "Subject: one\r\n\r\nbody\r\n")
    }

    @Test func expungeFreesQuotaAndRemovesTheLastReference() async throws {
        let scratch = try await ScratchStore.make()
        defer { scratch.remove() }
        let body = try await scratch.stage("Subject: shared\r\n\r\nx\r\n")
        _ = try await scratch.store.deliver(body, to: [.init(user: "alice", quota: Self.unlimited), .init(user: "bob", quota: Self.unlimited)],
                                            deduplicationKey: nil, allOrNothing: false)
        let alice = try #require(try await scratch.store.mailbox(user: "alice", name: "INBOX"))
        let bob = try #require(try await scratch.store.mailbox(user: "bob", name: "INBOX"))
        #expect(try await scratch.store.expunge([1, 7], from: alice.id) == 1)
        #expect(try await scratch.store.usage(user: "alice") == QuotaUsage())
        #expect(scratch.bodyFiles().count == 1)   // bob still has it
        #expect(try await scratch.store.expunge([1], from: bob.id) == 1)
        #expect(scratch.bodyFiles().isEmpty)
        // UIDs are never reused.
        _ = try await scratch.store.deliver(try await scratch.stage("x\r\n"), to: [.init(user: "alice", quota: Self.unlimited)],
                                            deduplicationKey: nil, allOrNothing: false)
        #expect(try await scratch.store.messages(in: alice.id).map(\.uid) == [2])
    }

    @Test func quotaIsCheckedInsideTheDelivery() async throws {
        let scratch = try await ScratchStore.make()
        defer { scratch.remove() }
        let twoMessages = QuotaLimits(messages: 2)
        for _ in 0..<2 {
            let outcomes = try await scratch.store.deliver(try await scratch.stage("a\r\n"), to: [.init(user: "alice", quota: twoMessages)],
                                                           deduplicationKey: nil, allOrNothing: false)
            #expect(outcomes.count == 1)
        }
        let full = try await scratch.store.deliver(try await scratch.stage("a\r\n"),
                                                   to: [.init(user: "alice", quota: twoMessages), .init(user: "bob", quota: twoMessages)],
                                                   deduplicationKey: nil, allOrNothing: false)
        #expect(full[0] == .overQuota(QuotaUsage(bytes: 6, messages: 2)))
        if case .stored = full[1] {} else { Issue.record("bob has room: \(full)") }
        // All or nothing (one SMTP reply): bob gets nothing either, and no file is left behind.
        let before = scratch.bodyFiles().count
        let none = try await scratch.store.deliver(try await scratch.stage("a\r\n"),
                                                   to: [.init(user: "bob", quota: twoMessages), .init(user: "alice", quota: twoMessages)],
                                                   deduplicationKey: nil, allOrNothing: true)
        #expect(none[0] == .notAttempted)
        #expect(scratch.bodyFiles().count == before)
        // Bytes too.
        let small = QuotaLimits(bytes: 10)
        let big = try await scratch.store.deliver(try await scratch.stage(String(repeating: "x", count: 11)), to: [.init(user: "carol", quota: small)],
                                                  deduplicationKey: nil, allOrNothing: false)
        #expect(big == [.overQuota(QuotaUsage())])
    }

    @Test func aDeduplicationKeyStoresOncePerUser() async throws {
        let scratch = try await ScratchStore.make()
        defer { scratch.remove() }
        let targets: [DeliveryTarget] = [.init(user: "alice", quota: Self.unlimited)]
        let first = try await scratch.store.deliver(try await scratch.stage("m\r\n"), to: targets, deduplicationKey: "<id1@mx>", allOrNothing: false)
        if case .stored = first[0] {} else { Issue.record("\(first)") }
        let retry = try await scratch.store.deliver(try await scratch.stage("m\r\n"), to: targets + [.init(user: "bob", quota: Self.unlimited)],
                                                    deduplicationKey: "<id1@mx>", allOrNothing: false)
        #expect(retry[0] == .duplicate)
        if case .stored = retry[1] {} else { Issue.record("bob had not got it: \(retry)") }
        let inbox = try #require(try await scratch.store.mailbox(user: "alice", name: "INBOX"))
        #expect(try await scratch.store.messages(in: inbox.id).count == 1)
        #expect(try await scratch.store.purgeDeduplication(before: Date().addingTimeInterval(60)) == 2)
        let later = try await scratch.store.deliver(try await scratch.stage("m\r\n"), to: targets, deduplicationKey: "<id1@mx>", allOrNothing: false)
        if case .stored = later[0] {} else { Issue.record("forgotten pairs store again: \(later)") }
    }

    /// Everything acknowledged is there after a reopen; files of deliveries that never committed
    /// (and bodies still in tmp/) go at the start-up sweep.
    @Test func reopenKeepsDeliveriesAndSweepsOrphans() async throws {
        let scratch = try await ScratchStore.make()
        defer { scratch.remove() }
        let kept = try await scratch.stage("kept\r\n")
        _ = try await scratch.store.deliver(kept, to: [.init(user: "alice", quota: Self.unlimited)], deduplicationKey: nil, allOrNothing: false)
        _ = try await scratch.stage("orphan: crash before the transaction\r\n")
        let unfinished = try scratch.store.stage()
        try await unfinished.write(ByteBuffer(repeating: 0x41, count: 300_000))   // flushed to tmp/
        #expect(scratch.bodyFiles().count == 2)
        let reopened = try await scratch.reopen()
        #expect(try await reopened.sweep() == 2)
        #expect(scratch.bodyFiles() == [String(kept.id.suffix(2)) + "/" + kept.id])
        let inbox = try #require(try await reopened.mailbox(user: "alice", name: "INBOX"))
        #expect(try await reopened.messages(in: inbox.id).map(\.bodyID) == [kept.id])
        #expect(try await reopened.usage(user: "alice").messages == 1)
    }

    @Test func largeBodiesStreamThroughTheFile() async throws {
        let scratch = try await ScratchStore.make()
        defer { scratch.remove() }
        let writer = try scratch.store.stage()
        var expected = [UInt8]()
        for index in 0..<40 {
            let chunk = [UInt8](repeating: UInt8(0x41 + index % 26), count: 25_000)
            expected += chunk
            try await writer.write(ByteBuffer(bytes: chunk))
        }
        let body = try await writer.finish()
        #expect(body.size == 1_000_000)
        let stored = try Data(contentsOf: URL(fileURLWithPath: scratch.store.bodyPath(body.id)))
        #expect([UInt8](stored) == expected)
    }
}
