import SMTPCore

/// What is asked: a name and a type, class IN
/// ([RFC 1035 §4.1.2](https://www.rfc-editor.org/rfc/rfc1035#section-4.1.2)).
///
/// The initializer puts the name in the one form every resolver and cache key uses:
/// - a name with non-ASCII characters goes through ``SMTPCore/IDNA/toASCII(_:)``
///   (UTS #46 non-transitional), so `bücher.example` is asked as `xn--bcher-kva.example`
///   ([RFC 5891 §5](https://www.rfc-editor.org/rfc/rfc5891#section-5));
/// - an ASCII name is lower-cased and otherwise taken as it is: DNS allows any octet in a label
///   ([RFC 2181 §11](https://www.rfc-editor.org/rfc/rfc2181#section-11)), and names built by
///   SPF macros or DNSBL queries are not host names. `\.` and `\DDD` escapes work as in zone
///   files ([RFC 1035 §5.1](https://www.rfc-editor.org/rfc/rfc1035#section-5.1));
/// - one trailing dot is dropped (the name is absolute either way: no search list is applied);
/// - spaces and control characters, empty labels, labels over 63 octets and names over 255
///   octets on the wire are refused ([RFC 1035 §2.3.4](https://www.rfc-editor.org/rfc/rfc1035#section-2.3.4)).
public struct DNSQuestion: Hashable, Sendable, CustomStringConvertible {
    /// The name in A-labels, lower-case, no trailing dot.
    public let name: String
    public let type: DNSRecordType

    public init(name: String, type: DNSRecordType) throws(DNSError) {
        self.name = try DNSName.normalize(name)
        self.type = type
    }

    public var description: String { "\(name) \(type)" }
}

/// Name normalisation shared by questions and record data.
enum DNSName {
    static func normalize(_ input: String) throws(DNSError) -> String {
        if let plain = canonicalAlready(input) { return plain }
        return try normalizeThroughWire(input)
    }

    /// `input` without its trailing dot when it is in the canonical form already — lower-case
    /// letters, digits, `-` and `_` in labels of 1–63 octets, at most 255 octets on the wire —
    /// which is what the wire round trip would return for it; nil for anything else. Nearly every
    /// name a message makes us ask is like that, and the round trip cost two allocations a label.
    static func canonicalAlready(_ input: String) -> String? {
        var label = 0
        var wire = 1   // the root label
        var last: UInt8 = 0
        for byte in input.utf8 {
            switch byte {
            case UInt8(ascii: "."):
                guard label > 0 else { return nil }
                wire += label + 1
                label = 0
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"):
                label += 1
                guard label <= 63 else { return nil }
            default:
                return nil
            }
            last = byte
        }
        if label > 0 { wire += label + 1 }
        guard last != 0, wire <= 255 else { return nil }   // empty, or over 255 octets
        guard last == UInt8(ascii: ".") else { return input }
        return input.utf8.count > 1 ? String(input.dropLast()) : nil   // "." alone: the slow path
    }

    /// The general case: IDNA for non-ASCII names, then through the wire form and back.
    static func normalizeThroughWire(_ input: String) throws(DNSError) -> String {
        guard !input.isEmpty else { throw .invalidName("empty name") }
        var name = input
        if !input.utf8.allSatisfy({ $0 < 0x80 }) {
            do {
                name = try IDNA.toASCII(input)
            } catch {
                throw .invalidName("\(input): \(error)")
            }
        }
        if name.utf8.contains(where: { $0 <= 0x20 || $0 == 0x7F }) {
            throw .invalidName("\(input): space or control character")
        }
        // Through the wire form and back: checks label and name lengths, lower-cases, drops the
        // trailing dot and writes escapes one way only, so equal names compare equal.
        let wire = try DNSWire.encodeName(name)
        guard let canonical = DNSWire.decodeName(wire) else { throw .invalidName(input) }
        return canonical
    }
}
