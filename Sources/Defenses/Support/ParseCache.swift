import Synchronization

/// Parse results by their input, for a long-lived checker (an mx stage's): the DNS answers are
/// cached already, and parsing the same record for every message showed in the profile
/// (bench/README.md, `mx.sh`). The same input always parses the same way, so nothing here can
/// go stale; at ``capacity`` entries the cache starts over. Failures are kept too.
final class ParseCache<Key: Hashable & Sendable, Value: Sendable, Failure: Error>: Sendable {
    let capacity: Int
    private let entries = Mutex([Key: Result<Value, Failure>]())

    init(capacity: Int = 1000) {
        self.capacity = max(1, capacity)
    }

    /// `parse(key)`, once per key.
    func value(_ key: Key, parse: (Key) throws(Failure) -> Value) -> Result<Value, Failure> {
        if let known = entries.withLock({ $0[key] }) { return known }
        let parsed = Result { () throws(Failure) in try parse(key) }
        entries.withLock { entries in
            if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
            entries[key] = parsed
        }
        return parsed
    }

    /// Entries held (for tests).
    var count: Int { entries.withLock { $0.count } }
}
