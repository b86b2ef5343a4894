import Defenses
import Foundation
import Testing

@testable import StateSQLite

/// ``SQLiteWriteBehindStore``: the state is in memory at once, in the file after the interval
/// (or ``SQLiteWriteBehindStore/flush()``), read back by the next store on the file; nobody
/// shares its file; a failed write keeps its changes.
@Suite("SQLite write-behind store")
struct SQLiteWriteBehindStoreTests {
    static let now = Date(timeIntervalSince1970: 1_800_000_000)
    static let window = StateWindow(.seconds(600), buckets: 10)

    static func withPath<T>(_ body: (String) async throws -> T) async throws -> T {
        let directory = NSTemporaryDirectory() + "mailnode-write-behind-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: directory) }
        return try await body(directory + "/state.sqlite")
    }

    @Test func changesReachTheFileAndTheNextStoreReadsThemBack() async throws {
        try await Self.withPath { path in
            let later = Self.now.addingTimeInterval(90)   // a later bucket of the same window
            do {
                let store = try SQLiteWriteBehindStore(path: path, interval: .seconds(60))   // only flush() writes here
                #expect(try await store.increment("rate:a", by: 2, window: Self.window, at: Self.now) == 2)
                #expect(try await store.increment("rate:a", window: Self.window, at: later) == 3)
                #expect(try await store.increment("rate:b", window: Self.window, at: Self.now) == 1)
                _ = try await store.insertRecord("greylist:t", value: "pending", expires: Self.now.addingTimeInterval(3600), at: Self.now)
                try await store.putRecord("greylist:t", value: "passed", expires: Self.now.addingTimeInterval(7200), at: later)
                try await store.putRecord("greet:gone", value: "passed", expires: Self.now.addingTimeInterval(600), at: Self.now)
                #expect(await store.flush())
                try await store.removeRecord("greet:gone")
                #expect(try await store.increment("rate:a", window: Self.window, at: later) == 4)
                // Nothing is in the file before the flush …
                #expect(try await store.file.count("rate:a", window: Self.window, at: later) == 3)
                #expect(try await store.file.record("greet:gone", at: Self.now) != nil)
                await store.close()
                // … and everything after it.
                #expect(try await store.file.count("rate:a", window: Self.window, at: later) == 4)
                #expect(store.writeCounts == (written: 2, failed: 0))
            }
            let next = try SQLiteWriteBehindStore(path: path)
            #expect(try await next.count("rate:a", window: Self.window, at: later) == 4)
            #expect(try await next.count("rate:b", window: Self.window, at: later) == 1)
            #expect(try await next.increment("rate:a", window: Self.window, at: later) == 5)
            let record = try #require(try await next.record("greylist:t", at: later))
            #expect(record.value == "passed")
            #expect(record.created == Self.now)   // put keeps the creation time, and so does the file
            #expect(record.expires == Self.now.addingTimeInterval(7200))
            #expect(try await next.record("greet:gone", at: Self.now) == nil)
            // Expiry hides what the file still holds, as in every backend.
            #expect(try await next.record("greylist:t", at: Self.now.addingTimeInterval(7200)) == nil)
        }
    }

    @Test func aChangeIsWrittenWithinTheIntervalWithoutAFlush() async throws {
        try await Self.withPath { path in
            let store = try SQLiteWriteBehindStore(path: path, interval: .milliseconds(20))
            for _ in 0..<5 { _ = try await store.increment("rate:bg", window: Self.window, at: Self.now) }
            var inFile = 0
            for _ in 0..<500 where inFile < 5 {   // generous: the background write waits 20 ms
                try await Task.sleep(for: .milliseconds(20))
                inFile = try await store.file.count("rate:bg", window: Self.window, at: Self.now)
            }
            #expect(inFile == 5)
            #expect(store.writeCounts.written >= 1)
            await store.close()
        }
    }

    @Test func nobodySharesTheFileWithAStoreThatWritesBehind() async throws {
        try await Self.withPath { path in
            do {
                let owner = try SQLiteWriteBehindStore(path: path)
                let twice = #expect(throws: StateStoreError.self) { try SQLiteWriteBehindStore(path: path) }
                #expect(twice?.message.contains("is in use by another state store") == true)
                let through = #expect(throws: StateStoreError.self) { try SQLiteStateStore(path: path) }
                #expect(through?.message.contains("is held by a store that writes behind") == true)
                await owner.close()
                // Closed, it lets go of the file.
                let writeThrough = try SQLiteStateStore(path: path)
                let second = try SQLiteStateStore(path: path)   // write-through stores share
                let behind = #expect(throws: StateStoreError.self) { try SQLiteWriteBehindStore(path: path) }
                #expect(behind?.message.contains("is in use") == true)
                _ = (writeThrough, second)
            }
            // All gone: the lock went with them.
            _ = try SQLiteWriteBehindStore(path: path)
        }
    }

    @Test func aFailedWriteKeepsItsChangesForTheNextOne() async throws {
        try await Self.withPath { path in
            let store = try SQLiteWriteBehindStore(path: path, interval: .seconds(60))
            _ = try await store.increment("rate:f", by: 3, window: Self.window, at: Self.now)
            try await store.putRecord("block:f", value: "trap", expires: Self.now.addingTimeInterval(600), at: Self.now)
            // The file loses its tables: every write fails until they are back.
            try await Self.rename(store, "mailnode_counters", to: "hidden_counters")
            #expect(await store.flush() == false)
            #expect(store.writeCounts.failed == 1)
            // Memory is unaffected, and changes made meanwhile join the kept ones.
            #expect(try await store.increment("rate:f", window: Self.window, at: Self.now) == 4)
            #expect(try await store.record("block:f", at: Self.now)?.value == "trap")
            try await Self.rename(store, "hidden_counters", to: "mailnode_counters")
            #expect(await store.flush())
            #expect(try await store.file.count("rate:f", window: Self.window, at: Self.now) == 4)
            #expect(try await store.file.record("block:f", at: Self.now)?.value == "trap")
            await store.close()
        }
    }

    static func rename(_ store: SQLiteWriteBehindStore, _ table: String, to name: String) async throws {
        _ = try await store.file.writes.perform { db in
            try db.execute(sql: "ALTER TABLE \(table) RENAME TO \(name)")
            return .done
        }
    }
}
