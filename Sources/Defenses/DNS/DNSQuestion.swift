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
