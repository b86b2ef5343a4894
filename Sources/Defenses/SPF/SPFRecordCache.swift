import Synchronization

/// SPF records parsed, by their text, for one long-lived ``SPFChecker`` (an mx stage's): the DNS
/// answer is cached already, and parsing the same record for every message was ~0.6 % of an mx
/// message's CPU (bench/README.md, `mx.sh`). The same text always parses the same way, so
/// nothing here can go stale; at ``capacity`` entries the cache starts over.
final class SPFRecordCache: Sendable {
    let capacity: Int
    private let records = Mutex([String: Result<SPFRecord, SPFSyntaxError>]())

    init(capacity: Int = 1000) {
        self.capacity = max(1, capacity)
    }

    /// ``SPFRecord/parse(_:)`` of `text`, once.
    func record(_ text: String) throws(SPFSyntaxError) -> SPFRecord {
        if let known = records.withLock({ $0[text] }) { return try known.get() }
        let parsed = Result { () throws(SPFSyntaxError) in try SPFRecord.parse(text) }
        records.withLock { records in
            if records.count >= capacity { records.removeAll(keepingCapacity: true) }
            records[text] = parsed
        }
        return try parsed.get()
    }

    /// Records held (for tests).
    var count: Int { records.withLock { $0.count } }
}
