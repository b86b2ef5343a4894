/// Content-Transfer-Encoding decoders ([RFC 2045 §6](https://www.rfc-editor.org/rfc/rfc2045#section-6)),
/// lenient the way mail clients are: what a client would decode, the filter must see too.
enum TransferDecoding {
    /// Base64 (RFC 2045 §6.8): characters outside the alphabet are ignored, `=` ends the data.
    static func base64(_ input: ArraySlice<UInt8>) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(input.count / 4 * 3)
        var accumulator: UInt32 = 0
        var bits = 0
        for byte in input {
            let value: UInt32
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): value = UInt32(byte - UInt8(ascii: "A"))
            case UInt8(ascii: "a")...UInt8(ascii: "z"): value = UInt32(byte - UInt8(ascii: "a") + 26)
            case UInt8(ascii: "0")...UInt8(ascii: "9"): value = UInt32(byte - UInt8(ascii: "0") + 52)
            case UInt8(ascii: "+"), UInt8(ascii: "-"): value = 62
            case UInt8(ascii: "/"), UInt8(ascii: "_"): value = 63
            case UInt8(ascii: "="): return out
            default: continue
            }
            accumulator = accumulator << 6 | value
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8(truncatingIfNeeded: accumulator >> UInt32(bits)))
                accumulator &= (1 << UInt32(bits)) - 1
            }
        }
        return out
    }

    /// Quoted-printable (RFC 2045 §6.7): `=XX` octets, `=` at a line end is a soft break;
    /// a malformed `=` stays literal.
    static func quotedPrintable(_ input: ArraySlice<UInt8>) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(input.count)
        let bytes = Array(input)
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            guard byte == UInt8(ascii: "=") else {
                out.append(byte)
                index += 1
                continue
            }
            // Soft line break: "=" then optional white space then CRLF or LF.
            var probe = index + 1
            while probe < bytes.count, bytes[probe] == 0x20 || bytes[probe] == 0x09 { probe += 1 }
            if probe < bytes.count, bytes[probe] == 0x0D, probe + 1 < bytes.count, bytes[probe + 1] == 0x0A {
                index = probe + 2
                continue
            }
            if probe < bytes.count, bytes[probe] == 0x0A {
                index = probe + 1
                continue
            }
            if probe == bytes.count {
                index = probe
                continue
            }
            if index + 2 < bytes.count, let high = ContentHeaderValue.hexValue(bytes[index + 1]),
               let low = ContentHeaderValue.hexValue(bytes[index + 2]) {
                out.append(high << 4 | low)
                index += 3
            } else {
                out.append(byte)
                index += 1
            }
        }
        return out
    }
}
