import Synchronization

/// Key records parsed and public keys built, by the TXT text and record they came from, for one
/// long-lived ``DKIMVerifier`` (an mx stage's): the DNS answer is cached already, and parsing the
/// record and building an RSA key from its `p=` for every message was 2 % of an mx message's CPU
/// (bench/README.md, `mx.sh`). The same text always gives the same record and key, so nothing
/// here can go stale; at ``capacity`` entries the cache starts over.
final class DKIMKeyCache: Sendable {
    private struct Entries {
        var records: [String: Result<DKIMKeyRecord, DKIMKeyRecordError>] = [:]
        var keys: [KeyID: Result<DKIMPublicKey, DKIMKeyRecordError>] = [:]
    }

    private struct KeyID: Hashable {
        var record: DKIMKeyRecord
        var minimumRSABits: Int
    }

    let capacity: Int
    private let entries = Mutex(Entries())

    init(capacity: Int = 1000) {
        self.capacity = max(1, capacity)
    }

    /// ``DKIMKeyRecord/parse(_:)`` of `text`, once.
    func record(_ text: String) -> Result<DKIMKeyRecord, DKIMKeyRecordError> {
        if let known = entries.withLock({ $0.records[text] }) { return known }
        let parsed = Result { () throws(DKIMKeyRecordError) in try DKIMKeyRecord.parse(text) }
        entries.withLock { entries in
            if entries.records.count >= capacity { entries.records.removeAll(keepingCapacity: true) }
            entries.records[text] = parsed
        }
        return parsed
    }

    /// The public key of `record` under `minimumRSABits`, built once.
    func key(_ record: DKIMKeyRecord, minimumRSABits: Int) -> Result<DKIMPublicKey, DKIMKeyRecordError> {
        let id = KeyID(record: record, minimumRSABits: minimumRSABits)
        if let known = entries.withLock({ $0.keys[id] }) { return known }
        let built = Result { () throws(DKIMKeyRecordError) in try DKIMPublicKey(record, minimumRSABits: minimumRSABits) }
        entries.withLock { entries in
            if entries.keys.count >= capacity { entries.keys.removeAll(keepingCapacity: true) }
            entries.keys[id] = built
        }
        return built
    }

    /// Records and keys held (for tests).
    var counts: (records: Int, keys: Int) { entries.withLock { ($0.records.count, $0.keys.count) } }
}
