import NIOCore

/// The `Mailnode-Id:` trace header field: the stable id a message keeps through every
/// mailnode stage, so that a receiving stage can recognise a retried hand-off
/// (``DeliveredSet``).
///
/// ```
/// Received: from mx.example.org (10.0.0.11)
///         by antivirus.example.org with ESMTP id 00HOFLHU0C9BDN2G3F7X; ...
/// Received: from client.example (192.0.2.1)
///         by mx.example.org with ESMTP id 00HOFLHSZ0A4QE2V8W1B; ...
/// Mailnode-Id: <00HOFLHSZ0A4QE2V8W1B@mx.example.org>
/// ```
/// The first stage to accept a message names it after its own queue id and host. A stage keeps
/// the field only from a trusted upstream stage; from any other client it removes every such
/// field and adds its own, so an outsider cannot make a stage drop someone else's mail by
/// sending a guessed id. When several fields are present, the first one counts. Like
/// `Received:`, it is a trace field that is prepended, never changed (RFC 5322 §3.6.7).
public enum MailnodeIDHeader {
    public static let fieldName = "Mailnode-Id"

    /// The id of a message first accepted here: `<queue-id@hostname>`, unique across stages.
    public static func makeID(queueID: String, hostname: String) -> String {
        "<\(queueID)@\(hostname)>"
    }

    /// 1 to 255 visible US-ASCII characters: fits one log line and one delivered-set line.
    public static func isValid(_ value: String) -> Bool {
        (1...255).contains(value.utf8.count) && value.utf8.allSatisfy { (0x21...0x7E).contains($0) }
    }

    /// The field as written: `Mailnode-Id: <id>` and CRLF.
    static func field(_ id: String) -> String {
        "\(fieldName): \(id)\r\n"
    }
}

/// Collects the start of a message until its header section is complete: up to and including
/// the empty line before the body (RFC 5322 §2.1), or the last complete line before `limit`
/// octets, or everything when the message ends first. Lines end in LF (CRLF or, where a
/// listener accepts them, bare LF).
struct HeaderSectionCollector {
    let limit: Int
    private(set) var bytes: [UInt8] = []
    /// Where the line being examined starts.
    private var lineStart = 0
    /// Octets of `bytes` that belong to the header section, once known.
    private(set) var headerLength: Int?

    init(limit: Int) {
        self.limit = limit
    }

    /// Appends a chunk; true once the header section is complete.
    mutating func append(_ chunk: ByteBuffer) -> Bool {
        guard headerLength == nil else { return true }
        bytes.append(contentsOf: chunk.readableBytesView)
        while let newline = bytes[lineStart...].firstIndex(of: 0x0A) {
            let length = newline - lineStart
            let empty = length == 0 || (length == 1 && bytes[lineStart] == 0x0D)
            lineStart = newline + 1
            if empty {
                headerLength = lineStart
                return true
            }
        }
        if bytes.count >= limit {
            // Too long to be a header section we inspect: stop at the last complete line.
            headerLength = lineStart
            return true
        }
        return false
    }

    /// The message ended: whatever arrived is its header section.
    mutating func finish() {
        if headerLength == nil { headerLength = bytes.count }
    }
}

/// A header section's `Mailnode-Id` fields: the first value, and the section without them.
struct HeaderSectionFields {
    /// The value of the first `Mailnode-Id` field, unfolded and trimmed.
    private(set) var firstMailnodeID: String?
    /// How many `Mailnode-Id` fields there are.
    private(set) var mailnodeIDCount = 0
    /// How many `Received` fields there are: the hops the message has made (RFC 5321 §6.3).
    private(set) var receivedCount = 0
    private(set) var mailnodeIDRanges: [Range<Int>] = []
    /// Every field's byte range (continuation lines included), in order.
    private(set) var fieldRanges: [Range<Int>] = []
    let bytes: ArraySlice<UInt8>

    init(_ bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
        var index = bytes.startIndex
        var fieldStart: Int?
        func close(at end: Int) {
            guard let start = fieldStart else { return }
            fieldStart = nil
            fieldRanges.append(start..<end)
            if Self.hasName("received", bytes[start..<end]) { receivedCount += 1 }
            guard let value = Self.mailnodeIDValue(bytes[start..<end]) else { return }
            mailnodeIDCount += 1
            mailnodeIDRanges.append(start..<end)
            if firstMailnodeID == nil { firstMailnodeID = value }
        }
        while index < bytes.endIndex {
            let lineEnd = bytes[index...].firstIndex(of: 0x0A).map { $0 + 1 } ?? bytes.endIndex
            let first = bytes[index]
            if first == 0x20 || first == 0x09 {
                // A continuation line (folding, RFC 5322 §2.2.3) belongs to the open field.
            } else {
                close(at: index)
                fieldStart = index
            }
            index = lineEnd
        }
        close(at: bytes.endIndex)
    }

    /// The section with every `Mailnode-Id` field (and its continuation lines) removed.
    func removingMailnodeIDs() -> ArraySlice<UInt8> {
        removing(mailnodeIDRanges)
    }

    /// A field's name and raw value (after the colon, line ends kept) when it has a colon.
    static func nameAndValue(_ field: ArraySlice<UInt8>) -> (name: String, value: String)? {
        guard let colon = field.firstIndex(of: 0x3A) else { return nil }
        var nameEnd = colon
        while nameEnd > field.startIndex, field[nameEnd - 1] == 0x20 || field[nameEnd - 1] == 0x09 { nameEnd -= 1 }
        return (String(decoding: field[field.startIndex..<nameEnd], as: UTF8.self),
                String(decoding: field[(colon + 1)...], as: UTF8.self))
    }

    /// The ranges of the fields `remove(name, value)` selects.
    func ranges(where remove: (String, String) -> Bool) -> [Range<Int>] {
        fieldRanges.filter { range in
            guard let (name, value) = Self.nameAndValue(bytes[range]) else { return false }
            return remove(name, value)
        }
    }

    /// The section without the fields at `ranges` (sorted, from ``fieldRanges``).
    func removing(_ ranges: [Range<Int>]) -> ArraySlice<UInt8> {
        guard !ranges.isEmpty else { return bytes }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var position = bytes.startIndex
        for range in ranges {
            out.append(contentsOf: bytes[position..<range.lowerBound])
            position = range.upperBound
        }
        out.append(contentsOf: bytes[position...])
        return out[...]
    }

    /// The value when `field` is a `Mailnode-Id` field (name case-insensitive, optional
    /// white space before the colon as RFC 5322 §4.5 obsolete syntax allows); nil otherwise.
    static func mailnodeIDValue(_ field: ArraySlice<UInt8>) -> String? {
        guard let colon = nameEnd(MailnodeIDHeader.fieldName.lowercased(), field) else { return nil }
        let value = field[(colon + 1)...].filter { $0 != 0x0D && $0 != 0x0A }
        let text = String(decoding: value, as: UTF8.self)
        return text.trimmingWhitespace()
    }

    /// Whether `field` is named `lowercasedName` (case-insensitive, obsolete space before the colon).
    static func hasName(_ lowercasedName: String, _ field: ArraySlice<UInt8>) -> Bool {
        nameEnd(lowercasedName, field) != nil
    }

    /// The index of the colon after the field name, when the name is `lowercasedName`.
    private static func nameEnd(_ lowercasedName: String, _ field: ArraySlice<UInt8>) -> Int? {
        let name = Array(lowercasedName.utf8)
        guard field.count > name.count else { return nil }
        var index = field.startIndex
        for expected in name {
            let byte = field[index]
            let lowered = (0x41...0x5A).contains(byte) ? byte | 0x20 : byte
            guard lowered == expected else { return nil }
            index += 1
        }
        while index < field.endIndex, field[index] == 0x20 || field[index] == 0x09 { index += 1 }
        guard index < field.endIndex, field[index] == 0x3A else { return nil }
        return index
    }
}

extension String {
    /// Without leading and trailing spaces and tabs.
    fileprivate func trimmingWhitespace() -> String {
        let isBlank: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let start = firstIndex(where: { !isBlank($0) }), let end = lastIndex(where: { !isBlank($0) }) else { return "" }
        return String(self[start...end])
    }
}
