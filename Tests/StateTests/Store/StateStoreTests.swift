import Defenses
import Foundation
import Testing

/// The ``StateStore`` contract, held against every backend.
@Suite("State store contract")
struct StateStoreTests {
    let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    @Test("counters add up, keys are separate, and the window slides by buckets", arguments: StoreBackend.allCases)
    func counters(backend: StoreBackend) async throws {
        try await backend.withStore { store async throws in
            let window = StateWindow(.seconds(60), buckets: 6)   // 10 s buckets
            #expect(try await store.increment("rate:a", window: window, at: t0) == 1)
            #expect(try await store.increment("rate:a", by: 4, window: window, at: t0.addingTimeInterval(5)) == 5)
            #expect(try await store.increment("rate:b", window: window, at: t0) == 1)
            #expect(try await store.increment("rate:a", window: window, at: t0.addingTimeInterval(30)) == 6)
            #expect(try await store.count("rate:a", window: window, at: t0.addingTimeInterval(30)) == 6)
            // 60 s later the first bucket has left the window; the one at +30 s still counts.
            #expect(try await store.count("rate:a", window: window, at: t0.addingTimeInterval(61)) == 1)
            #expect(try await store.count("rate:a", window: window, at: t0.addingTimeInterval(95)) == 0)
            #expect(try await store.count("rate:none", window: window, at: t0) == 0)
        }
    }

    @Test("records: insert keeps a live record, put keeps its creation time, expiry hides it", arguments: StoreBackend.allCases)
    func records(backend: StoreBackend) async throws {
        try await backend.withStore { store async throws in
            let first = try await store.insertRecord("greylist:x", value: "pending", expires: t0.addingTimeInterval(100), at: t0)
            #expect(first.value == "pending" && first.created == t0)
            let second = try await store.insertRecord("greylist:x", value: "other", expires: t0.addingTimeInterval(500),
                                                      at: t0.addingTimeInterval(10))
            #expect(second == first)
            try await store.putRecord("greylist:x", value: "passed", expires: t0.addingTimeInterval(1000), at: t0.addingTimeInterval(20))
            let passed = try await store.record("greylist:x", at: t0.addingTimeInterval(200))
            #expect(passed == StateRecord(value: "passed", created: t0, expires: t0.addingTimeInterval(1000)))
            #expect(try await store.record("greylist:x", at: t0.addingTimeInterval(1000)) == nil)
            // An expired record is replaced by insert, and put on it starts a new creation time.
            let fresh = try await store.insertRecord("greylist:x", value: "pending", expires: t0.addingTimeInterval(2000),
                                                     at: t0.addingTimeInterval(1500))
            #expect(fresh.created == t0.addingTimeInterval(1500) && fresh.value == "pending")
            try await store.removeRecord("greylist:x")
            #expect(try await store.record("greylist:x", at: t0.addingTimeInterval(1500)) == nil)
        }
    }

    @Test("purge removes exactly the expired rows", arguments: StoreBackend.allCases)
    func purge(backend: StoreBackend) async throws {
        try await backend.withStore { store async throws in
            let window = StateWindow(.seconds(10), buckets: 1)
            _ = try await store.increment("c", window: window, at: t0)
            try await store.putRecord("short", value: "1", expires: t0.addingTimeInterval(5), at: t0)
            try await store.putRecord("long", value: "1", expires: t0.addingTimeInterval(50), at: t0)
            #expect(try await store.purgeExpired(at: t0.addingTimeInterval(1)) == 0)
            #expect(try await store.purgeExpired(at: t0.addingTimeInterval(20)) == 2)
            #expect(try await store.record("long", at: t0.addingTimeInterval(20))?.value == "1")
            #expect(try await store.purgeExpired(at: t0.addingTimeInterval(20)) == 0)
        }
    }
}
