/// Where aggregate-report records go until a report is generated. Implementations: the
/// in-memory ``InMemoryDMARCReportStore`` (tests, a single node); the state-store backends of
/// issue 6 will add SQLite and PostgreSQL.
public protocol DMARCReportStore: Sendable {
    /// Appends one record.
    func append(_ record: DMARCAggregateRecord) async throws
    /// The records of one policy domain in `[from, to)` (seconds since the epoch), oldest first.
    func records(policyDomain: String, from: Int64, to: Int64) async throws -> [DMARCAggregateRecord]
    /// The policy domains that have records in `[from, to)`.
    func policyDomains(from: Int64, to: Int64) async throws -> [String]
    /// Drops every record older than `date` (after a report was sent).
    func removeRecords(before date: Int64) async throws
}

/// An in-memory ``DMARCReportStore``, bounded: past ``capacity`` records the oldest are dropped
/// (a report then under-counts rather than the node running out of memory).
public actor InMemoryDMARCReportStore: DMARCReportStore {
    public let capacity: Int
    private var stored: [DMARCAggregateRecord] = []
    /// How many records were dropped for lack of room.
    public private(set) var dropped = 0

    public init(capacity: Int = 100_000) {
        self.capacity = max(1, capacity)
    }

    public func append(_ record: DMARCAggregateRecord) {
        if stored.count >= capacity {
            stored.removeFirst(stored.count - capacity + 1)
            dropped += 1
        }
        stored.append(record)
    }

    public func records(policyDomain: String, from: Int64, to: Int64) -> [DMARCAggregateRecord] {
        stored.filter { $0.policyDomain == policyDomain && $0.date >= from && $0.date < to }
    }

    public func policyDomains(from: Int64, to: Int64) -> [String] {
        var seen: [String] = []
        for record in stored where record.date >= from && record.date < to && !seen.contains(record.policyDomain) {
            seen.append(record.policyDomain)
        }
        return seen
    }

    public func removeRecords(before date: Int64) {
        stored.removeAll { $0.date < date }
    }

    /// Every record, oldest first.
    public var all: [DMARCAggregateRecord] { stored }
}
