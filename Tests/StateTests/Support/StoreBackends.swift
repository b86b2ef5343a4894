import Defenses
import Foundation
import StatePostgres
import StateSQLite
import Testing

/// The backends every state test runs against: the same assertions must hold for each.
enum StoreBackend: String, CaseIterable, Sendable, CustomStringConvertible {
    case memory, sqlite, postgres
    /// The node's default: SQLite written behind (``SQLiteWriteBehindStore``).
    case sqliteWriteBehind = "sqlite-write-behind"

    var description: String { rawValue }

    /// Runs `body` with `instances` stores of this backend that share one state (one memory
    /// store shared; SQLite: separate pools on one file; SQLite written behind: one store shared,
    /// as it refuses a second on its file; PostgreSQL: separate connection pools on one throwaway
    /// server), then tears everything down. The write-behind store must then write everything
    /// to its file, and a store opened afresh on the file must read back the same counters.
    func withStores<T: Sendable>(_ instances: Int = 1, _ body: ([any StateStore]) async throws -> T) async throws -> T {
        switch self {
        case .memory:
            let store = MemoryStateStore()
            return try await body(Array(repeating: store, count: instances))
        case .sqlite:
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mailnode-state-\(UUID().uuidString.prefix(8))")
            defer { try? FileManager.default.removeItem(at: directory) }
            let path = directory.appendingPathComponent("state.sqlite").path
            let stores = try (0..<instances).map { _ in try SQLiteStateStore(path: path) }
            return try await body(stores)
        case .sqliteWriteBehind:
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mailnode-state-\(UUID().uuidString.prefix(8))")
            defer { try? FileManager.default.removeItem(at: directory) }
            let path = directory.appendingPathComponent("state.sqlite").path
            let result: T
            do {
                let store = try SQLiteWriteBehindStore(path: path, interval: .milliseconds(20))
                result = try await body(Array(repeating: store, count: instances))
                let flushed = await store.flush()
                #expect(flushed && store.writeCounts.failed == 0, "the write-behind store could not write its changes")
            }
            return result
        case .postgres:
            return try await PostgresTestServer.with { server in
                let stores = (0..<instances).map { _ in PostgresStateStore(configuration: server.configuration) }
                do {
                    for store in stores { try await store.prepare() }
                    let result = try await body(stores)
                    for store in stores { await store.shutdown() }
                    return result
                } catch {
                    for store in stores { await store.shutdown() }
                    throw error
                }
            }
        }
    }

    func withStore<T: Sendable>(_ body: (any StateStore) async throws -> T) async throws -> T {
        try await withStores(1) { try await body($0[0]) }
    }
}
