/// One header field exactly as it arrived: name, colon, value and folding
/// ([RFC 5322 §2.2](https://www.rfc-editor.org/rfc/rfc5322#section-2.2)).
///
/// The bytes are kept because DKIM's `simple` canonicalisation signs them unchanged
/// ([RFC 6376 §3.4.1](https://www.rfc-editor.org/rfc/rfc6376#section-3.4.1)); the only change made
/// is that a bare LF line end becomes CRLF, as it would on the SMTP wire.
///
/// Obsolete syntax is tolerated ([RFC 5322 §4.5](https://www.rfc-editor.org/rfc/rfc5322#section-4.5)):
/// white space before the colon (`Subject : hi`) and lines made only of white space inside a
/// folded value. A line that is neither a field nor a continuation (an mbox `From ` line, junk)
/// is kept as a field without colon whose ``name`` never matches a real field name.
public struct HeaderField: Hashable, Sendable, CustomStringConvertible {
    /// The field with its folding, lines joined by CRLF, without the final CRLF.
    public let raw: [UInt8]
    /// Where the colon is in ``raw``; `nil` for a line without one.
    public let colonIndex: Int?

    /// Builds a field from its bytes (line ends CRLF or LF, with or without a final line end).
    public init(raw bytes: some Collection<UInt8>) {
        var raw: [UInt8] = []
        raw.reserveCapacity(bytes.count + 8)
        var previous: UInt8 = 0
        for byte in bytes {
            if byte == MessageASCII.lf && previous != MessageASCII.cr { raw.append(MessageASCII.cr) }
            raw.append(byte)
            previous = byte
        }
        while raw.last == MessageASCII.lf || raw.last == MessageASCII.cr { raw.removeLast() }
        self.raw = raw
        self.colonIndex = raw.firstIndex(of: UInt8(ascii: ":"))
    }

    /// A field from a name and a value; the value may contain CRLF folding.
    public init(name: String, value: String) {
        self.init(raw: Array("\(name):\(value)".utf8))
    }

    /// The field name as written, without trailing white space (obsolete `Name :` form).
    /// For a line without colon, the whole line.
    public var name: String {
        let end = colonIndex ?? raw.count
        var nameBytes = raw[..<end]
        while let last = nameBytes.last, MessageASCII.isWSP(last) { nameBytes.removeLast() }
        return String(decoding: nameBytes, as: UTF8.self)
    }

    /// ``name`` in ASCII lower case, for comparisons (field names are case-insensitive,
    /// [RFC 5322 §1.2.2](https://www.rfc-editor.org/rfc/rfc5322#section-1.2.2)).
    public var lowercasedName: String { MessageASCII.lowercased(name) }

    /// Whether the field has this name, ignoring ASCII case. Compares bytes: no string is built
    /// (DKIM looks up every signed name in every field of the header, per signature).
    public func hasName(_ other: String) -> Bool {
        guard let colonIndex else { return false }
        var end = colonIndex
        while end > 0, MessageASCII.isWSP(raw[end - 1]) { end -= 1 }
        guard end == other.utf8.count else { return false }
        var index = 0
        for byte in other.utf8 {
            guard MessageASCII.lowercased(raw[index]) == MessageASCII.lowercased(byte) else { return false }
            index += 1
        }
        return true
    }

    /// The value bytes after the colon, folding included.
    public var rawValue: ArraySlice<UInt8> {
        guard let colonIndex else { return [] }
        return raw[(colonIndex + 1)...]
    }

    /// The value unfolded (CRLF removed, [RFC 5322 §2.2.3](https://www.rfc-editor.org/rfc/rfc5322#section-2.2.3))
    /// and trimmed of surrounding white space, decoded as UTF-8.
    public var value: String {
        var bytes = rawValue.filter { $0 != MessageASCII.cr && $0 != MessageASCII.lf }[...]
        while let first = bytes.first, MessageASCII.isWSP(first) { bytes.removeFirst() }
        while let last = bytes.last, MessageASCII.isWSP(last) { bytes.removeLast() }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The field as written, with a final CRLF.
    public var wireBytes: [UInt8] { raw + MessageASCII.crlf }

    public var description: String { String(decoding: raw, as: UTF8.self) }
}

/// Byte constants and classes the message and DKIM code share (a namespace, so nothing extends a
/// standard type).
enum MessageASCII {
    static let cr = UInt8(ascii: "\r")
    static let lf = UInt8(ascii: "\n")
    static let sp = UInt8(ascii: " ")
    static let htab = UInt8(ascii: "\t")
    static let crlf: [UInt8] = [cr, lf]

    /// SP or HTAB ([RFC 5234 B.1](https://www.rfc-editor.org/rfc/rfc5234#appendix-B.1) WSP).
    static func isWSP(_ byte: UInt8) -> Bool { byte == sp || byte == htab }

    /// Lower-cases A–Z only (no locale, no Unicode folding).
    static func lowercased(_ byte: UInt8) -> UInt8 { (0x41...0x5A).contains(byte) ? byte + 0x20 : byte }
}

extension MessageASCII {
    /// Lower-cases A–Z only, leaving other characters alone.
    static func lowercased(_ text: some StringProtocol) -> String {
        // Most names and domains are lower-case already: then no byte array is built.
        guard text.utf8.contains(where: { (0x41...0x5A).contains($0) }) else { return String(text) }
        return String(decoding: text.utf8.map(lowercased), as: UTF8.self)
    }

    /// Whether two texts are equal ignoring the case of A–Z, without building either in lower case.
    static func equalsIgnoringCase(_ text: some StringProtocol, _ other: some StringProtocol) -> Bool {
        guard text.utf8.count == other.utf8.count else { return false }
        return zip(text.utf8, other.utf8).allSatisfy { lowercased($0) == lowercased($1) }
    }
}
