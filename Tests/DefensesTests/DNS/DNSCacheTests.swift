import Testing

@testable import Defenses

@Suite("DNS cache")
struct DNSCacheTests {
    static func mock() throws -> MockResolver {
        var dns = try MockResolver(
            zone: """
                a.example.     300 IN A 192.0.2.1
                b.example.      60 IN A 192.0.2.2
                alias.example. 100 IN CNAME a.example.
                zero.example.    0 IN A 192.0.2.3
                long.example. 999999 IN A 192.0.2.4
                """)
        dns.negativeTTL = 30
        dns.fail("broken.example", with: .serverFailure)
        return dns
    }

    @Test func hitsUntilTheTTLRunsOutAndCountsDown() async throws {
        let upstream = CountingResolver(try Self.mock())
        let clock = ManualClock()
        let cache = DNSCachingResolver(wrapping: upstream, configuration: .init(), now: { clock.now })
        #expect(try await cache.lookupA("a.example").ttl == 300)
        clock.advance(by: .seconds(120))
        let cached = try await cache.lookupA("a.example")
        #expect(cached.ttl == 180)
        #expect(await upstream.count == 1)
        clock.advance(by: .seconds(180))
        #expect(try await cache.lookupA("a.example").ttl == 300)
        #expect(await upstream.count == 2)
        let statistics = await cache.statistics()
        #expect(statistics == DNSCacheStatistics(hits: 1, misses: 2, evictions: 0, entries: 1))
    }

    @Test func theSmallestTTLOfAChainCounts() async throws {
        let upstream = CountingResolver(try Self.mock())
        let clock = ManualClock()
        let cache = DNSCachingResolver(wrapping: upstream, configuration: .init(), now: { clock.now })
        #expect(try await cache.lookupA("alias.example").ttl == 100)
        clock.advance(by: .seconds(100))
        _ = try await cache.lookupA("alias.example")
        #expect(await upstream.count == 2)
    }

    @Test func zeroTTLIsNotCachedAndLongTTLIsCapped() async throws {
        let upstream = CountingResolver(try Self.mock())
        let clock = ManualClock()
        let cache = DNSCachingResolver(wrapping: upstream, configuration: .init(maxTTL: 3600), now: { clock.now })
        _ = try await cache.lookupA("zero.example")
        _ = try await cache.lookupA("zero.example")
        #expect(await upstream.count == 2)
        _ = try await cache.lookupA("long.example")
        clock.advance(by: .seconds(3599))
        _ = try await cache.lookupA("long.example")
        #expect(await upstream.count == 3)
        clock.advance(by: .seconds(1))
        _ = try await cache.lookupA("long.example")
        #expect(await upstream.count == 4)
    }

    @Test func negativeAnswersAreCachedForTheirSOATTL() async throws {
        let upstream = CountingResolver(try Self.mock())
        let clock = ManualClock()
        let cache = DNSCachingResolver(wrapping: upstream, configuration: .init(), now: { clock.now })
        await #expect(throws: DNSError.nxdomain(DNSNegativeAnswer(name: "nope.example", type: .a, ttl: 30))) {
            try await cache.lookupA("nope.example")
        }
        clock.advance(by: .seconds(10))
        await #expect(throws: DNSError.nxdomain(DNSNegativeAnswer(name: "nope.example", type: .a, ttl: 20))) {
            try await cache.lookupA("nope.example")
        }
        await #expect(throws: DNSError.noData(DNSNegativeAnswer(name: "a.example", type: .txt, ttl: 30))) {
            try await cache.lookupTXT("a.example")
        }
        await #expect(throws: DNSError.self) { try await cache.lookupTXT("a.example") }
        #expect(await upstream.count == 2)
        clock.advance(by: .seconds(20))
        await #expect(throws: DNSError.self) { try await cache.lookupA("nope.example") }
        #expect(await upstream.count == 3)
    }

    @Test func negativeTTLIsCappedAndNoSOAMeansNoCaching() async throws {
        var mock = try Self.mock()
        mock.negativeTTL = 86_400
        let upstream = CountingResolver(mock)
        let clock = ManualClock()
        let cache = DNSCachingResolver(wrapping: upstream, configuration: .init(maxNegativeTTL: 60), now: { clock.now })
        await #expect(throws: DNSError.self) { try await cache.lookupA("nope.example") }
        clock.advance(by: .seconds(60))
        await #expect(throws: DNSError.self) { try await cache.lookupA("nope.example") }
        #expect(await upstream.count == 2)

        mock.negativeTTL = nil
        let noSOA = CountingResolver(mock)
        let uncached = DNSCachingResolver(wrapping: noSOA, configuration: .init(), now: { clock.now })
        await #expect(throws: DNSError.self) { try await uncached.lookupA("nope.example") }
        await #expect(throws: DNSError.self) { try await uncached.lookupA("nope.example") }
        #expect(await noSOA.count == 2)
    }

    @Test func failuresAreNotCached() async throws {
        let upstream = CountingResolver(try Self.mock())
        let cache = DNSCachingResolver(wrapping: upstream)
        await #expect(throws: DNSError.serverFailure) { try await cache.lookupA("broken.example") }
        await #expect(throws: DNSError.serverFailure) { try await cache.lookupA("broken.example") }
        #expect(await upstream.count == 2)
    }

    @Test func sizeBoundEvictsTheLeastRecentlyUsed() async throws {
        let upstream = CountingResolver(try Self.mock())
        let cache = DNSCachingResolver(wrapping: upstream, configuration: .init(maxEntries: 2))
        _ = try await cache.lookupA("a.example")
        _ = try await cache.lookupA("b.example")
        _ = try await cache.lookupA("a.example")  // hit: a is now the most recent
        _ = try await cache.lookupA("alias.example")  // evicts b
        _ = try await cache.lookupA("a.example")  // still cached
        #expect(await upstream.count == 3)
        _ = try await cache.lookupA("b.example")
        #expect(await upstream.count == 4)
        let statistics = await cache.statistics()
        #expect(statistics.entries == 2 && statistics.evictions == 2)
        await cache.removeAll()
        #expect(await cache.statistics().entries == 0)
    }

    @Test func typesAreCachedApart() async throws {
        let upstream = CountingResolver(try Self.mock())
        let cache = DNSCachingResolver(wrapping: upstream)
        _ = try await cache.lookupA("a.example")
        await #expect(throws: DNSError.self) { try await cache.lookupAAAA("a.example") }
        _ = try await cache.lookupA("A.EXAMPLE.")
        #expect(await upstream.count == 2)
    }
}

@Suite("LRU cache")
struct LRUCacheTests {
    @Test func evictsLeastRecentlyUsed() {
        var cache = LRUCache<String, Int>(capacity: 3)
        cache.setValue(1, forKey: "a")
        cache.setValue(2, forKey: "b")
        cache.setValue(3, forKey: "c")
        #expect(cache.value(forKey: "a") == 1)
        #expect(cache.setValue(4, forKey: "d") == "b")
        #expect(cache.keys == ["d", "a", "c"])
        #expect(cache.setValue(5, forKey: "c") == nil)  // update, no eviction
        #expect(cache.keys == ["c", "d", "a"])
        cache.removeValue(forKey: "d")
        #expect(cache.keys == ["c", "a"] && cache.count == 2)
        cache.setValue(6, forKey: "e")
        cache.setValue(7, forKey: "f")
        #expect(cache.keys == ["f", "e", "c"])
        #expect(cache.value(forKey: "a") == nil)
        cache.removeAll()
        #expect(cache.count == 0 && cache.keys.isEmpty)
    }

    @Test func holdsManyEntriesWithinItsBound() {
        var cache = LRUCache<Int, Int>(capacity: 100)
        for key in 0..<10_000 { cache.setValue(key, forKey: key) }
        #expect(cache.count == 100)
        #expect(cache.keys.first == 9_999 && cache.keys.last == 9_900)
        #expect(cache.value(forKey: 9_900) == 9_900)
        #expect(cache.value(forKey: 0) == nil)
    }
}
