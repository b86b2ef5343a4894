import Defenses
import Foundation
import Testing

@testable import StateSQLite

/// `[state] sync`: the writer connection runs with the `PRAGMA synchronous` asked for, and a
/// commit under either setting is read back by a store opened afresh on the same file.
@Suite("SQLite state store sync")
struct SQLiteStateSyncTests {
    @Test(arguments: [(SQLiteStateSync.normal, 1), (.full, 2)])
    func theWriterRunsWithTheSettingAndCommitsOutliveTheStore(sync: SQLiteStateSync, pragma: Int) async throws {
        let directory = NSTemporaryDirectory() + "mailnode-state-sync-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/state.sqlite"
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let window = StateWindow(.seconds(60))
        do {
            let store = try SQLiteStateStore(path: path, sync: sync)
            #expect(try await store.synchronousPragma() == pragma)
            #expect(try await store.increment("rate:sync", by: 3, window: window, at: now) == 3)
        }
        let reopened = try SQLiteStateStore(path: path, sync: sync)
        #expect(try await reopened.count("rate:sync", window: window, at: now) == 3)
    }

    @Test func normalIsTheDefault() throws {
        let directory = NSTemporaryDirectory() + "mailnode-state-sync-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect(try SQLiteStateStore(path: directory + "/state.sqlite").sync == .normal)
    }
}
