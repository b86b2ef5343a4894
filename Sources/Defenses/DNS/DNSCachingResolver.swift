import Synchronization

/// A cache in front of any ``DNSResolver``: answers are kept for their TTL, negative answers for
/// their SOA-derived TTL, and the least recently used entry goes when the cache is full.
///
/// - Positive answers live min(TTL of every record and alias, ``Configuration/maxTTL``) seconds;
///   served from the cache, their TTLs count down ([RFC 1035 §3.2.1](https://www.rfc-editor.org/rfc/rfc1035#section-3.2.1),
///   [RFC 2181 §8](https://www.rfc-editor.org/rfc/rfc2181#section-8)). TTL 0 is not cached.
/// - NXDOMAIN and NODATA live min(SOA TTL, SOA MINIMUM, ``Configuration/maxNegativeTTL``)
///   seconds, per name and type ([RFC 2308 §5](https://www.rfc-editor.org/rfc/rfc2308#section-5));
///   without an SOA they are not cached.
/// - SERVFAIL, timeouts and other failures are not cached, so the next look-up asks again
///   (RFC 2308 §7 allows but does not require caching them).
///
/// Concurrent misses for one question each go upstream; the cache does not coalesce them.
public struct DNSCachingResolver: DNSResolver {
    /// Bounds of the cache.
    public struct Configuration: Sendable, Hashable {
        /// The most entries (questions) kept; least recently used go first.
        public var maxEntries: Int
        /// The longest a positive answer is kept, whatever its TTL (seconds).
        public var maxTTL: UInt32
        /// The longest a negative answer is kept (seconds); RFC 2308 §5 suggests one to three hours.
        public var maxNegativeTTL: UInt32

        public init(maxEntries: Int = 10_000, maxTTL: UInt32 = 86_400, maxNegativeTTL: UInt32 = 3_600) {
            self.maxEntries = max(1, maxEntries)
            self.maxTTL = maxTTL
            self.maxNegativeTTL = maxNegativeTTL
        }
    }

    public let upstream: any DNSResolver
    public let configuration: Configuration
    private let storage: DNSCacheStorage
    private let now: @Sendable () -> Duration

    /// A cache on the monotonic clock.
    public init(wrapping upstream: any DNSResolver, configuration: Configuration = Configuration()) {
        let start = ContinuousClock.now
        self.init(wrapping: upstream, configuration: configuration, now: { ContinuousClock.now - start })
    }

    /// A cache on a clock of your own, for tests: `now` returns the time elapsed since any fixed
    /// origin and must never go backwards.
    public init(wrapping upstream: any DNSResolver, configuration: Configuration, now: @escaping @Sendable () -> Duration) {
        self.upstream = upstream
        self.configuration = configuration
        self.storage = DNSCacheStorage(capacity: configuration.maxEntries)
        self.now = now
    }

    public func resolve(_ question: DNSQuestion) async throws(DNSError) -> DNSResponse {
        if let cached = storage.lookup(question, at: now()) {
            return try cached.get()
        }
        do {
            let response = try await upstream.resolve(question)
            let ttl = min(response.ttl, configuration.maxTTL)
            if ttl > 0 {
                storage.store(.positive(response), for: question, at: now(), ttl: ttl)
            }
            return response
        } catch {
            if let negative = error.negativeAnswer, let negativeTTL = negative.ttl {
                let ttl = min(negativeTTL, configuration.maxNegativeTTL)
                if ttl > 0 {
                    storage.store(.negative(error), for: question, at: now(), ttl: ttl)
                }
            }
            throw error
        }
    }

    /// Counters since the cache was made.
    public func statistics() async -> DNSCacheStatistics {
        storage.statistics
    }

    /// Forgets every entry (the counters stay).
    public func removeAll() async {
        storage.removeAll()
    }
}

/// What a ``DNSCachingResolver`` has done.
public struct DNSCacheStatistics: Hashable, Sendable {
    /// Look-ups answered from the cache, positive or negative.
    public var hits: Int
    /// Look-ups passed to the upstream resolver (absent or expired).
    public var misses: Int
    /// Entries dropped for room (not for expiry).
    public var evictions: Int
    /// Entries held now, expired ones not yet dropped included.
    public var entries: Int
}

/// The entries, behind a lock: the cache is shared by every task resolving through it. A lock,
/// not an actor: a look-up is a dictionary access and never waits, so the caller need not hop to
/// another executor for it (several DNS questions per message).
private final class DNSCacheStorage: Sendable {
    enum Payload {
        case positive(DNSResponse)
        case negative(DNSError)
    }

    struct Entry {
        var payload: Payload
        var storedAt: Duration
        var ttl: UInt32
    }

    struct State {
        var entries: LRUCache<DNSQuestion, Entry>
        var hits = 0
        var misses = 0
        var evictions = 0
    }

    private let state: Mutex<State>

    init(capacity: Int) {
        state = Mutex(State(entries: LRUCache(capacity: capacity)))
    }

    var statistics: DNSCacheStatistics {
        state.withLock { DNSCacheStatistics(hits: $0.hits, misses: $0.misses, evictions: $0.evictions, entries: $0.entries.count) }
    }

    /// The cached outcome with TTLs counted down, or `nil` when absent or expired.
    func lookup(_ question: DNSQuestion, at now: Duration) -> Result<DNSResponse, DNSError>? {
        let found: (Payload, UInt32)? = state.withLock { state in
            guard let entry = state.entries.value(forKey: question) else {
                state.misses += 1
                return nil
            }
            let elapsed = max(0, (now - entry.storedAt).components.seconds)
            guard elapsed < Int64(entry.ttl) else {
                state.entries.removeValue(forKey: question)
                state.misses += 1
                return nil
            }
            state.hits += 1
            return (entry.payload, UInt32(elapsed))
        }
        guard let (payload, age) = found else { return nil }
        switch payload {
        case .positive(var response):
            response.records = response.records.map { Self.aged($0, by: age) }
            response.aliases = response.aliases.map { Self.aged($0, by: age) }
            return .success(response)
        case .negative(let error):
            switch error {
            case .nxdomain(var answer):
                answer.ttl = answer.ttl.map { $0 > age ? $0 - age : 0 }
                return .failure(.nxdomain(answer))
            case .noData(var answer):
                answer.ttl = answer.ttl.map { $0 > age ? $0 - age : 0 }
                return .failure(.noData(answer))
            default:
                return .failure(error)
            }
        }
    }

    func store(_ payload: Payload, for question: DNSQuestion, at now: Duration, ttl: UInt32) {
        state.withLock { state in
            if state.entries.setValue(Entry(payload: payload, storedAt: now, ttl: ttl), forKey: question) != nil {
                state.evictions += 1
            }
        }
    }

    func removeAll() {
        state.withLock { $0.entries.removeAll() }
    }

    private static func aged(_ record: DNSResourceRecord, by age: UInt32) -> DNSResourceRecord {
        var record = record
        record.ttl = record.ttl > age ? record.ttl - age : 0
        return record
    }
}
