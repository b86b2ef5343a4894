/// Writing IMAP response values ([RFC 3501 §4](https://www.rfc-editor.org/rfc/rfc3501#section-4),
/// §9 `string`, `nstring`, `astring`): a value goes out as a quoted string when it may (short,
/// 7-bit, no CR/LF), otherwise as a literal `{n}` CRLF octets.
enum IMAPEncoding {
    /// `quoted` or `literal`.
    static func string(_ bytes: some Collection<UInt8>) -> [UInt8] {
        let quotable = bytes.count <= 1024 && bytes.allSatisfy { $0 >= 0x20 && $0 < 0x7F }
        guard quotable else { return Array("{\(bytes.count)}\r\n".utf8) + bytes }
        var out: [UInt8] = [0x22]
        for byte in bytes {
            if byte == 0x22 || byte == 0x5C { out.append(0x5C) }
            out.append(byte)
        }
        out.append(0x22)
        return out
    }

    static func string(_ text: String) -> [UInt8] { string(Array(text.utf8)) }

    /// `nstring`: NIL for nil.
    static func nstring(_ text: String?) -> [UInt8] { text.map(string) ?? Array("NIL".utf8) }

    /// A mailbox name: modified UTF-7, an atom when it may be one, else quoted.
    static func mailbox(_ name: String) -> String {
        let wire = ModifiedUTF7.encode(name)
        if !wire.isEmpty, wire.utf8.allSatisfy({ IMAPParser.isAtomChar($0) }) { return wire }
        return String(decoding: string(wire), as: UTF8.self)
    }

    /// `flag-list`: `(\Seen $Forwarded)`.
    static func flags(_ flags: [String]) -> String { "(" + flags.joined(separator: " ") + ")" }
}

/// A response being assembled: text and literals, as octets.
struct IMAPResponseBuilder {
    private(set) var bytes: [UInt8] = []

    mutating func append(_ text: String) { bytes.append(contentsOf: text.utf8) }
    mutating func append(_ raw: some Sequence<UInt8>) { bytes.append(contentsOf: raw) }
    mutating func string(_ value: some Collection<UInt8>) { bytes.append(contentsOf: IMAPEncoding.string(value)) }
    mutating func nstring(_ value: String?) { bytes.append(contentsOf: IMAPEncoding.nstring(value)) }
}
