import NIOCore

/// Looks at the start of a message as it streams by, until its header section ends (the empty
/// line, RFC 5322 §2.1) or ``limit`` octets: the first `Mailnode-Id` field's value and the number
/// of `Received` fields. The bytes themselves pass on unchanged; only the header section is held.
struct TraceFieldScanner: Sendable {
    let limit: Int
    private var bytes: [UInt8] = []
    private var lineStart = 0
    private(set) var complete = false
    private(set) var mailnodeID: String?
    private(set) var receivedCount = 0

    init(limit: Int = 256 * 1024) {
        self.limit = limit
    }

    mutating func append(_ chunk: ByteBuffer) {
        guard !complete else { return }
        bytes.append(contentsOf: chunk.readableBytesView)
        while !complete, let newline = bytes[lineStart...].firstIndex(of: 0x0A) {
            let length = newline - lineStart
            let empty = length == 0 || (length == 1 && bytes[lineStart] == 0x0D)
            lineStart = newline + 1
            if empty { finish(headerLength: lineStart) }
        }
        if !complete, bytes.count >= limit { finish(headerLength: lineStart) }
    }

    /// The message ended: whatever arrived is its header section.
    mutating func finish() {
        if !complete { finish(headerLength: bytes.count) }
    }

    private mutating func finish(headerLength: Int) {
        complete = true
        let header = bytes[..<headerLength]
        bytes = []
        var index = header.startIndex
        var fieldStart: Int?
        func close(at end: Int) {
            guard let start = fieldStart else { return }
            fieldStart = nil
            let field = header[start..<end]
            if Self.colon(after: "received", in: field) != nil { receivedCount += 1 }
            if mailnodeID == nil, let colon = Self.colon(after: "mailnode-id", in: field) {
                let value = field[(colon + 1)...].filter { $0 != 0x0D && $0 != 0x0A && $0 != 0x20 && $0 != 0x09 }
                mailnodeID = String(decoding: value, as: UTF8.self)
            }
        }
        while index < header.endIndex {
            let lineEnd = header[index...].firstIndex(of: 0x0A).map { $0 + 1 } ?? header.endIndex
            if header[index] != 0x20 && header[index] != 0x09 {   // not a continuation line
                close(at: index)
                fieldStart = index
            }
            index = lineEnd
        }
        close(at: header.endIndex)
    }

    /// The colon's index when `field` is named `name` (case-insensitive, obsolete white space
    /// before the colon allowed, RFC 5322 §4.5).
    static func colon(after name: String, in field: ArraySlice<UInt8>) -> Int? {
        var index = field.startIndex
        for expected in name.utf8 {
            guard index < field.endIndex else { return nil }
            let byte = field[index]
            guard ((0x41...0x5A).contains(byte) ? byte | 0x20 : byte) == expected else { return nil }
            index += 1
        }
        while index < field.endIndex, field[index] == 0x20 || field[index] == 0x09 { index += 1 }
        return index < field.endIndex && field[index] == 0x3A ? index : nil
    }
}
