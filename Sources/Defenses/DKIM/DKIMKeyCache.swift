/// Key records parsed and public keys built, by the TXT text and record they came from, for one
/// long-lived ``DKIMVerifier`` (an mx stage's): parsing the record and building an RSA key from
/// its `p=` for every message was 2 % of an mx message's CPU (bench/README.md, `mx.sh`).
/// Two ``ParseCache``s of ``capacity`` entries each.
final class DKIMKeyCache: Sendable {
    private struct KeyID: Hashable, Sendable {
        var record: DKIMKeyRecord
        var minimumRSABits: Int
    }

    let capacity: Int
    private let records: ParseCache<String, DKIMKeyRecord, DKIMKeyRecordError>
    private let keys: ParseCache<KeyID, DKIMPublicKey, DKIMKeyRecordError>

    init(capacity: Int = 1000) {
        self.capacity = max(1, capacity)
        records = ParseCache(capacity: capacity)
        keys = ParseCache(capacity: capacity)
    }

    /// ``DKIMKeyRecord/parse(_:)`` of `text`, once.
    func record(_ text: String) -> Result<DKIMKeyRecord, DKIMKeyRecordError> {
        records.value(text) { text throws(DKIMKeyRecordError) in try DKIMKeyRecord.parse(text) }
    }

    /// The public key of `record` under `minimumRSABits`, built once.
    func key(_ record: DKIMKeyRecord, minimumRSABits: Int) -> Result<DKIMPublicKey, DKIMKeyRecordError> {
        keys.value(KeyID(record: record, minimumRSABits: minimumRSABits)) { id throws(DKIMKeyRecordError) in
            try DKIMPublicKey(id.record, minimumRSABits: id.minimumRSABits)
        }
    }

    /// Records and keys held (for tests).
    var counts: (records: Int, keys: Int) { (records.count, keys.count) }
}
