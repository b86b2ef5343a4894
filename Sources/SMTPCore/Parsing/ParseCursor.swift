/// A read position inside one command line's bytes; the parse functions move it forward.
///
/// Internal to the parser. The line has already been checked for UTF-8 validity and control
/// characters by ``CommandParser``, so the functions here only see printable text.
struct ParseCursor {
    private(set) var remaining: ArraySlice<UInt8>

    init(_ bytes: ArraySlice<UInt8>) {
        self.remaining = bytes
    }

    var isAtEnd: Bool { remaining.isEmpty }

    /// Index of the next byte in the line (for measuring how much a rule consumed).
    var position: Int { remaining.startIndex }

    func peek() -> UInt8? { remaining.first }

    mutating func next() -> UInt8? { remaining.popFirst() }

    /// Consumes `byte` if it is next.
    mutating func consume(_ byte: UInt8) -> Bool {
        guard remaining.first == byte else { return false }
        remaining.removeFirst()
        return true
    }

    /// Consumes `literal` (ASCII) if it is next, comparing ASCII letters case-insensitively
    /// (RFC 5234 §2.3: ABNF strings are case-insensitive).
    mutating func consume(caseInsensitive literal: String) -> Bool {
        let expected = literal.utf8
        guard remaining.count >= expected.count else { return false }
        for (byte, wanted) in zip(remaining, expected) where ParserASCII.uppercased(byte) != ParserASCII.uppercased(wanted) {
            return false
        }
        remaining.removeFirst(expected.count)
        return true
    }

    /// Consumes and returns the longest prefix whose bytes satisfy `predicate`.
    mutating func take(while predicate: (UInt8) -> Bool) -> ArraySlice<UInt8> {
        let taken = remaining.prefix(while: predicate)
        remaining.removeFirst(taken.count)
        return taken
    }

    /// Consumes and returns everything that is left.
    mutating func takeRest() -> ArraySlice<UInt8> {
        let rest = remaining
        remaining = remaining[remaining.endIndex...]
        return rest
    }
}

/// Byte classes and conversions the parsers share (a namespace, so that no extension on a
/// standard type can clash with another part of the module).
enum ParserASCII {
    static let space = UInt8(ascii: " ")
    static let tab = UInt8(ascii: "\t")
    static let cr = UInt8(ascii: "\r")
    static let lf = UInt8(ascii: "\n")

    static func uppercased(_ byte: UInt8) -> UInt8 {
        byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z") ? byte - 0x20 : byte
    }

    static func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    static func isHexDigit(_ byte: UInt8) -> Bool {
        let upper = uppercased(byte)
        return isDigit(byte) || (upper >= UInt8(ascii: "A") && upper <= UInt8(ascii: "F"))
    }

    /// The bytes as a `String`; callers only pass bytes already validated as UTF-8.
    static func string<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        String(decoding: bytes, as: UTF8.self)
    }

    /// The bytes with ASCII letters upper-cased, as a `String` (verbs and keywords).
    static func uppercasedString<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        String(decoding: bytes.map(uppercased), as: UTF8.self)
    }
}
