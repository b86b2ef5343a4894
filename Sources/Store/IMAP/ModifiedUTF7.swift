/// Mailbox names on the wire: modified UTF-7 ([RFC 3501 §5.1.3](https://www.rfc-editor.org/rfc/rfc3501#section-5.1.3)).
/// Printable US-ASCII stands for itself (`&` as `&-`); other characters are UTF-16 in modified
/// base64 (`,` instead of `/`, no padding) between `&` and `-`. We keep names as Unicode.
public enum ModifiedUTF7 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,".utf8)

    /// The Unicode name, or nil when `text` is not valid modified UTF-7 (raw 8-bit octets, an
    /// unterminated or non-canonical `&…-` run, bad UTF-16).
    public static func decode(_ text: String) -> String? {
        var out = ""
        var bytes = Array(text.utf8)[...]
        while let byte = bytes.first {
            bytes = bytes.dropFirst()
            guard (0x20...0x7E).contains(byte) else { return nil }
            guard byte == UInt8(ascii: "&") else {
                out.unicodeScalars.append(Unicode.Scalar(byte))
                continue
            }
            guard let end = bytes.firstIndex(of: UInt8(ascii: "-")) else { return nil }
            let run = bytes[..<end]
            bytes = bytes[(end + 1)...]
            if run.isEmpty {
                out.append("&")
                continue
            }
            var bits = 0, value = 0
            var units: [UInt16] = []
            for character in run {
                guard let digit = alphabet.firstIndex(of: character) else { return nil }
                value = (value << 6) | digit
                bits += 6
                if bits >= 16 {
                    bits -= 16
                    units.append(UInt16((value >> bits) & 0xFFFF))
                    value &= (1 << bits) - 1
                }
            }
            // Leftover bits must be zero padding; the run must not encode printable ASCII.
            guard value == 0, bits < 6, !units.isEmpty else { return nil }
            guard !units.contains(where: { (0x20...0x7E).contains($0) }) else { return nil }
            var decoded = ""
            var iterator = units.makeIterator()
            var decoder = UTF16()
            loop: while true {
                switch decoder.decode(&iterator) {
                case .scalarValue(let scalar): decoded.unicodeScalars.append(scalar)
                case .emptyInput: break loop
                case .error: return nil
                }
            }
            out += decoded
        }
        return out
    }

    /// The wire form of a Unicode name.
    public static func encode(_ name: String) -> String {
        var out = ""
        var pending: [UInt16] = []
        func flush() {
            guard !pending.isEmpty else { return }
            out.append("&")
            var bits = 0, value = 0
            for unit in pending {
                value = (value << 16) | Int(unit)
                bits += 16
                while bits >= 6 {
                    bits -= 6
                    out.unicodeScalars.append(Unicode.Scalar(alphabet[(value >> bits) & 0x3F]))
                }
                value &= (1 << bits) - 1
            }
            if bits > 0 { out.unicodeScalars.append(Unicode.Scalar(alphabet[(value << (6 - bits)) & 0x3F])) }
            out.append("-")
            pending = []
        }
        for scalar in name.unicodeScalars {
            if (0x20...0x7E).contains(scalar.value) {
                flush()
                out += scalar == "&" ? "&-" : String(scalar)
            } else {
                pending.append(contentsOf: Array(String(scalar).utf16))
            }
        }
        flush()
        return out
    }
}
