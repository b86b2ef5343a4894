import Foundation
import NIOConcurrencyHelpers
import NIOCore
import Testing
@testable import MailStore

/// The store operations IMAP needs: append, flags, copy and move sharing bodies, delete, rename,
/// and the change notifications IDLE listens to.
@Suite(.serialized) struct SQLiteMailboxStoreIMAPTests {
    static let unlimited = QuotaLimits()

    @Test func appendIsDurableAndChecksQuota() async throws {
        let scratch = try await ScratchStore.make(threadPool: IMAPTestThreads.pool)
        defer { scratch.remove() }
        let drafts = try #require(try await scratch.store.mailbox(user: "alice", name: "Drafts"))
        let body = try await scratch.stage("Subject: draft\r\n\r\nx\r\n")
        let date = Date(timeIntervalSince1970: 1_700_000_000)
        let outcome = try await scratch.store.append(body, to: drafts.id, flags: ["\\Draft", "\\Seen", "\\Draft"], internalDate: date,
                                                     quota: Self.unlimited)
        #expect(outcome == .stored(uidValidity: drafts.uidValidity, uid: 1))
        // Visible after reopening: committed, and the body file is there.
        let reopened = try await scratch.reopen()
        let messages = try await reopened.messages(in: drafts.id)
        #expect(messages.map(\.flags) == [["\\Draft", "\\Seen"]])
        #expect(messages.first?.internalDate == date)
        #expect(try await reopened.usage(user: "alice") == QuotaUsage(bytes: Int64(body.size), messages: 1))
        #expect(scratch.bodyFiles().count == 1)
        // Over quota: nothing stored, the staged file is gone.
        let second = try await scratch.stage("Subject: two\r\n\r\ny\r\n")
        let full = try await scratch.store.append(second, to: drafts.id, flags: [], internalDate: date, quota: QuotaLimits(messages: 1))
        #expect(full == .overQuota(QuotaUsage(bytes: Int64(body.size), messages: 1)))
        #expect(scratch.bodyFiles().count == 1)
    }

    @Test func flagsChangeWithModSeq() async throws {
        let scratch = try await ScratchStore.make(threadPool: IMAPTestThreads.pool)
        defer { scratch.remove() }
        let inbox = try #require(try await scratch.store.mailbox(user: "alice", name: "INBOX"))
        for text in ["a", "b"] {
            let body = try await scratch.stage("Subject: \(text)\r\n\r\n")
            _ = try await scratch.store.append(body, to: inbox.id, flags: [], internalDate: Date(), quota: Self.unlimited)
        }
        let before = try await scratch.store.messages(in: inbox.id)
        let added = try await scratch.store.updateFlags([1, 2, 9], in: inbox.id, .add(["\\Seen", "$Label"]))
        #expect(added.map(\.flags) == [["$Label", "\\Seen"], ["$Label", "\\Seen"]])
        #expect(added.allSatisfy { message in message.modSeq > before.map(\.modSeq).max()! })
        let removed = try await scratch.store.updateFlags([1], in: inbox.id, .remove(["\\SEEN"]))
        #expect(removed.first?.flags == ["$Label"])
        let replaced = try await scratch.store.updateFlags([2], in: inbox.id, .replace(["\\Flagged"]))
        #expect(replaced.first?.flags == ["\\Flagged"])
        // No change, no new modseq.
        let same = try await scratch.store.updateFlags([2], in: inbox.id, .add(["\\Flagged"]))
        #expect(same.first?.modSeq == replaced.first?.modSeq)
        #expect(try await scratch.store.mailbox(user: "alice", name: "INBOX")!.highestModSeq == replaced.first!.modSeq)
    }

    @Test func copySharesBodiesAndMoveRemovesOriginals() async throws {
        let scratch = try await ScratchStore.make(threadPool: IMAPTestThreads.pool)
        defer { scratch.remove() }
        let store = scratch.store
        let inbox = try #require(try await store.mailbox(user: "alice", name: "INBOX"))
        let work = try await store.createMailbox(user: "alice", name: "Work", specialUse: nil)
        let trash = try #require(try await store.mailbox(user: "alice", name: "Trash"))
        for text in ["a", "b", "c"] {
            let body = try await scratch.stage("Subject: \(text)\r\n\r\nbody\r\n")
            _ = try await store.append(body, to: inbox.id, flags: ["\\Seen"], internalDate: Date(), quota: Self.unlimited)
        }
        let usage = try await store.usage(user: "alice")
        let copied = try await store.copy([3, 1], from: inbox.id, to: work.id, move: false, quota: Self.unlimited)
        #expect(copied == .copied(uidValidity: work.uidValidity, pairs: [UIDPair(source: 1, target: 1), UIDPair(source: 3, target: 2)]))
        #expect(scratch.bodyFiles().count == 3)   // no file copied
        #expect(try await store.messages(in: work.id).map(\.flags) == [["\\Seen"], ["\\Seen"]])
        #expect(try await store.usage(user: "alice").messages == usage.messages + 2)
        // Copy over quota: refused whole.
        let refused = try await store.copy([2], from: inbox.id, to: work.id, move: false, quota: QuotaLimits(messages: 5))
        guard case .overQuota = refused else { Issue.record("\(refused)"); return }
        // Move: originals gone, usage unchanged, shared bodies stay until their last reference.
        let moved = try await store.copy([1, 2], from: inbox.id, to: trash.id, move: true, quota: QuotaLimits(messages: 5))
        #expect(moved == .copied(uidValidity: trash.uidValidity, pairs: [UIDPair(source: 1, target: 1), UIDPair(source: 2, target: 2)]))
        #expect(try await store.messages(in: inbox.id).map(\.uid) == [3])
        #expect(try await store.usage(user: "alice").messages == usage.messages + 2)
        try await store.expunge([1, 2], from: trash.id)
        #expect(scratch.bodyFiles().count == 2)   // body of "b" had no other reference; "a" lives on in Work
        // Delete a mailbox: its messages and unreferenced bodies go, the usage follows.
        try await store.deleteMailbox(work.id)
        #expect(scratch.bodyFiles().count == 1)
        #expect(try await store.usage(user: "alice").messages == 1)
        #expect(try await store.mailbox(user: "alice", name: "Work") == nil)
        await #expect(throws: StoreError.inboxProtected) { try await store.deleteMailbox(inbox.id) }
    }

    @Test func renameMovesChildrenAndKeepsUIDValidity() async throws {
        let scratch = try await ScratchStore.make(threadPool: IMAPTestThreads.pool)
        defer { scratch.remove() }
        let store = scratch.store
        let parent = try await store.createMailbox(user: "alice", name: "Projects", specialUse: nil)
        let child = try await store.createMailbox(user: "alice", name: "Projects/2026", specialUse: nil)
        _ = try await store.createMailbox(user: "alice", name: "ProjectsOld", specialUse: nil)
        try await store.renameMailbox(parent.id, to: "Archive")
        let names = try await store.mailboxes(user: "alice").map(\.name)
        #expect(names.contains("Archive") && names.contains("Archive/2026") && names.contains("ProjectsOld") && !names.contains("Projects"))
        #expect(try await store.mailbox(user: "alice", name: "Archive/2026")?.uidValidity == child.uidValidity)
        await #expect(throws: StoreError.mailboxExists("ProjectsOld")) { try await store.renameMailbox(parent.id, to: "ProjectsOld") }
        try await store.setSubscribed(parent.id, false)
        #expect(try await store.mailbox(user: "alice", name: "Archive")?.subscribed == false)
    }

    @Test func changesArePostedPerMailbox() async throws {
        let scratch = try await ScratchStore.make(threadPool: IMAPTestThreads.pool)
        defer { scratch.remove() }
        let store = scratch.store
        let inbox = try #require(try await store.mailbox(user: "alice", name: "INBOX"))
        let seen = NIOLockedValueBox<[Int64]>([])
        let token = store.changes.observe(inbox.id) { id in seen.withLockedValue { $0.append(id) } }
        let other = store.changes.observe(inbox.id + 1000) { _ in Issue.record("wrong mailbox notified") }
        let body = try await scratch.stage("Subject: x\r\n\r\n")
        _ = try await store.deliver(body, to: [DeliveryTarget(user: "alice", quota: Self.unlimited)], deduplicationKey: nil, allOrNothing: false)
        _ = try await store.updateFlags([1], in: inbox.id, .add(["\\Seen"]))
        try await store.expunge([1], from: inbox.id)
        #expect(seen.withLockedValue { $0 } == [inbox.id, inbox.id, inbox.id])
        store.changes.cancel(token)
        store.changes.cancel(other)
        let again = try await scratch.stage("Subject: y\r\n\r\n")
        _ = try await store.deliver(again, to: [DeliveryTarget(user: "alice", quota: Self.unlimited)], deduplicationKey: nil, allOrNothing: false)
        #expect(seen.withLockedValue { $0 }.count == 3)
    }
}
