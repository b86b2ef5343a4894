import Defenses
import Foundation
import Testing

@testable import StateSQLite

/// ``SQLiteGroupCommit``: concurrent writes share transactions, and one failing operation of a
/// batch is rolled back alone.
@Suite("SQLite group commit")
struct SQLiteGroupCommitTests {
    struct Refused: Error {}

    static func withStore<T>(_ body: (SQLiteStateStore) async throws -> T) async throws -> T {
        let directory = NSTemporaryDirectory() + "mailnode-group-commit-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: directory) }
        return try await body(try SQLiteStateStore(path: directory + "/state.sqlite"))
    }

    @Test func concurrentIncrementsShareTransactionsAndEachSeesItsOwnStep() async throws {
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let window = StateWindow(.seconds(3600), buckets: 1)
        let attempted = 400
        let (totals, counts) = try await Self.withStore { store in
            let totals = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<attempted {
                    group.addTask { try await store.increment("rate:batched", window: window, at: now) }
                }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            return (totals, store.writes.counts)
        }
        print("group commit: \(counts.operations) increments in \(counts.transactions) write transactions")
        #expect(totals.sorted() == Array(1...attempted))
        #expect(counts.operations == attempted)
        #expect(counts.transactions < attempted)
    }

    @Test func aFailingOperationIsRolledBackAloneAndThrows() async throws {
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let expires = now.addingTimeInterval(600)
        try await Self.withStore { store in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<50 {
                    group.addTask { try await store.putRecord("good:\(index)", value: "v", expires: expires, at: now) }
                }
                group.addTask {
                    await #expect(throws: Refused.self) {
                        _ = try await store.writes.perform { db in
                            try db.execute(sql: "INSERT INTO mailnode_records (key, value, created, expires) VALUES ('bad', 'x', 0, 9999999999999)")
                            throw Refused()
                        }
                    }
                }
                try await group.waitForAll()
            }
            #expect(try await store.record("bad", at: now) == nil)
            for index in 0..<50 {
                #expect(try await store.record("good:\(index)", at: now)?.value == "v")
            }
        }
    }

    /// Alone in its batch an operation runs without a savepoint; failing, it still leaves nothing.
    @Test func aLoneFailingOperationLeavesNothingAndTheNextWriteWorks() async throws {
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        try await Self.withStore { store in
            let before = store.writes.counts
            await #expect(throws: Refused.self) {
                _ = try await store.writes.perform { db in
                    try db.execute(sql: "INSERT INTO mailnode_records (key, value, created, expires) VALUES ('bad', 'x', 0, 9999999999999)")
                    throw Refused()
                }
            }
            #expect(store.writes.counts.transactions == before.transactions + 1)
            #expect(try await store.record("bad", at: now) == nil)
            try await store.putRecord("good", value: "v", expires: now.addingTimeInterval(600), at: now)
            #expect(try await store.record("good", at: now)?.value == "v")
        }
    }
}
