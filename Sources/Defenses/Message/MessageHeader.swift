/// The header section of a message: its fields in order, top first
/// ([RFC 5322 §2.2](https://www.rfc-editor.org/rfc/rfc5322#section-2.2)).
///
/// Built by ``MessageReader`` (streaming) or ``parse(_:limits:)`` (bytes of a header section).
public struct MessageHeader: Hashable, Sendable {
    /// The fields, top to bottom.
    public var fields: [HeaderField]

    public init(fields: [HeaderField] = []) {
        self.fields = fields
    }

    /// Splits a header section (without the blank line that ends it) into fields.
    ///
    /// A line starting with SP or HTAB continues the field above it
    /// ([RFC 5322 §2.2.3](https://www.rfc-editor.org/rfc/rfc5322#section-2.2.3)); a continuation
    /// before any field starts a field of its own (kept, never matched). Lines end with CRLF or LF.
    public static func parse(_ bytes: some Collection<UInt8>, limits: MessageLimits = MessageLimits()) throws(MessageError) -> MessageHeader {
        guard bytes.count <= limits.maxHeaderBytes else { throw .headerTooLarge(limit: limits.maxHeaderBytes) }
        let bytes = Array(bytes)
        var fields: [HeaderField] = []
        var start = 0
        var index = 0
        func close(at end: Int) throws(MessageError) {
            guard end > start else { return }
            guard fields.count < limits.maxFieldCount else { throw .tooManyFields(limit: limits.maxFieldCount) }
            fields.append(HeaderField(raw: bytes[start..<end]))
        }
        while index < bytes.count {
            let next = index + 1
            if bytes[index] == MessageASCII.lf && next < bytes.count && !MessageASCII.isWSP(bytes[next]) {
                try close(at: next)
                start = next
            }
            index += 1
        }
        try close(at: bytes.count)
        return MessageHeader(fields: fields)
    }

    /// The fields with this name, top to bottom (case-insensitive).
    public func fields(named name: String) -> [HeaderField] {
        fields.filter { $0.hasName(name) }
    }

    /// The first (top-most) field with this name.
    public func first(named name: String) -> HeaderField? {
        fields.first { $0.hasName(name) }
    }

    /// How many fields have this name.
    public func count(named name: String) -> Int { fields(named: name).count }

    /// The header section as written: every field with CRLF (no blank line after it).
    public var wireBytes: [UInt8] { fields.flatMap(\.wireBytes) }
}

/// Picks header fields bottom-up, each instance at most once, as DKIM's `h=` list asks
/// ([RFC 6376 §5.4.2](https://www.rfc-editor.org/rfc/rfc6376#section-5.4.2)): the first time a
/// name is asked for gives its last instance, the next time the one above it, and so on; once
/// none is left, `nil` (the name then signs as the null string).
public struct HeaderFieldSelector: Sendable {
    private let header: MessageHeader
    private var used: [String: Int] = [:]

    public init(_ header: MessageHeader) {
        self.header = header
    }

    /// The next unused instance of `name` from the bottom, with its index in the header.
    public mutating func next(named name: String) -> (index: Int, field: HeaderField)? {
        let lower = MessageASCII.lowercased(name)
        let skip = used[lower, default: 0]
        var seen = 0
        for index in header.fields.indices.reversed() {
            let field = header.fields[index]
            guard field.hasName(lower) else { continue }
            if seen == skip {
                used[lower] = skip + 1
                return (index, field)
            }
            seen += 1
        }
        used[lower] = skip + 1
        return nil
    }
}
