/// SPF records parsed, by their text, for one long-lived ``SPFChecker`` (an mx stage's): parsing
/// the same record for every message was ~0.6 % of an mx message's CPU (bench/README.md,
/// `mx.sh`). A ``ParseCache`` of ``capacity`` entries.
final class SPFRecordCache: Sendable {
    private let records: ParseCache<String, SPFRecord, SPFSyntaxError>

    init(capacity: Int = 1000) {
        records = ParseCache(capacity: capacity)
    }

    var capacity: Int { records.capacity }

    /// ``SPFRecord/parse(_:)`` of `text`, once.
    func record(_ text: String) throws(SPFSyntaxError) -> SPFRecord {
        try records.value(text) { text throws(SPFSyntaxError) in try SPFRecord.parse(text) }.get()
    }

    /// Records held (for tests).
    var count: Int { records.count }
}
