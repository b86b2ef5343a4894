/// The two canonicalisation algorithms of DKIM (and ARC), each for header fields and body
/// ([RFC 6376 §3.4](https://www.rfc-editor.org/rfc/rfc6376#section-3.4)).
public enum Canonicalization: String, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    /// Tolerates almost no change: header fields byte for byte, the body with only trailing
    /// empty lines removed ([§3.4.1](https://www.rfc-editor.org/rfc/rfc6376#section-3.4.1),
    /// [§3.4.3](https://www.rfc-editor.org/rfc/rfc6376#section-3.4.3)).
    case simple
    /// Tolerates white-space changes and re-folding
    /// ([§3.4.2](https://www.rfc-editor.org/rfc/rfc6376#section-3.4.2),
    /// [§3.4.4](https://www.rfc-editor.org/rfc/rfc6376#section-3.4.4)).
    case relaxed

    public var description: String { rawValue }

    /// The canonical form of one header field, with its final CRLF.
    public func canonicalize(_ field: HeaderField) -> [UInt8] {
        canonicalize(raw: field.raw[...]) + MessageASCII.crlf
    }

    /// The canonical form of a field's raw bytes (name, colon, value; no final CRLF), without
    /// a final CRLF — the form DKIM hashes for the signature field itself (§3.7).
    public func canonicalize(raw: ArraySlice<UInt8>) -> [UInt8] {
        switch self {
        case .simple:
            return Array(raw)
        case .relaxed:
            // §3.4.2: lower-case the name; unfold; runs of WSP become one SP; no WSP at the end
            // of the value nor around the colon.
            guard let colon = raw.firstIndex(of: UInt8(ascii: ":")) else { return Self.relaxValue(raw) }
            var name = raw[..<colon]
            while let last = name.last, MessageASCII.isWSP(last) { name.removeLast() }
            var out = name.map(MessageASCII.lowercased)
            out.append(UInt8(ascii: ":"))
            out += Self.relaxValue(raw[(colon + 1)...])
            return out
        }
    }

    /// Unfolds, collapses WSP runs to one SP, trims both ends.
    private static func relaxValue(_ value: ArraySlice<UInt8>) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(value.count)
        var pendingSpace = false
        for byte in value {
            if byte == MessageASCII.cr || byte == MessageASCII.lf { continue }
            if MessageASCII.isWSP(byte) {
                pendingSpace = !out.isEmpty
                continue
            }
            if pendingSpace { out.append(MessageASCII.sp) }
            pendingSpace = false
            out.append(byte)
        }
        return out
    }
}
