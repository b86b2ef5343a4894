import Defenses
import Foundation
import Testing

/// No lost increments: many concurrent increments through two store instances (two connection
/// pools / two SQLite connections) onto one counter.
@Suite("State store concurrency")
struct StateStoreConcurrencyTests {
    static let perInstance = 300

    @Test("concurrent increments through two instances are all counted", arguments: StoreBackend.allCases)
    func concurrentIncrements(backend: StoreBackend) async throws {
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let window = StateWindow(.seconds(3600), buckets: 1)   // one bucket: every increment hits one row
        let (totals, final) = try await backend.withStores(2) { stores async throws in
            let totals = try await withThrowingTaskGroup(of: Int.self) { group in
                for store in stores {
                    for _ in 0..<Self.perInstance {
                        group.addTask { try await store.increment("rate:concurrent", window: window, at: now) }
                    }
                }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            return (totals, try await stores[0].count("rate:concurrent", window: window, at: now))
        }
        let attempted = 2 * Self.perInstance
        print("[\(backend)] increments attempted \(attempted), counted \(final), distinct totals returned \(Set(totals).count)")
        #expect(final == attempted)
        // Each increment saw its own step: the totals are exactly 1...attempted.
        #expect(totals.sorted() == Array(1...attempted))
    }
}
