/// `xtext` (RFC 3461 §4): printable ASCII except `+` and `=`, others as `+HH`.
public enum XText {
    /// Encodes `text` (its UTF-8 bytes) as xtext.
    public static func encode(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            if byte >= 0x21 && byte <= 0x7E && byte != UInt8(ascii: "+") && byte != UInt8(ascii: "=") {
                out.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                out += "+" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        return out
    }

    /// Decodes xtext; nil when a `+` is not followed by two hex digits, on characters outside
    /// `xchar`, or when the decoded bytes are not UTF-8.
    public static func decode<S: StringProtocol>(_ text: S) -> String? {
        var bytes: [UInt8] = []
        var iterator = Array(text.utf8).makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "+") {
                guard let hi = iterator.next(), let lo = iterator.next(),
                      let h = hexValue(hi), let l = hexValue(lo) else { return nil }
                bytes.append(h << 4 | l)
            } else if byte >= 0x21 && byte <= 0x7E && byte != UInt8(ascii: "=") {
                bytes.append(byte)
            } else {
                return nil
            }
        }
        // Invalid UTF-8 is refused rather than silently replaced.
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        // RFC 3461 says upper case; lower case is tolerated on input.
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        default: return nil
        }
    }
}

extension String {
    func leftPadded(to width: Int, with pad: Character = "0") -> String {
        count >= width ? self : String(repeating: pad, count: width - count) + self
    }
}
