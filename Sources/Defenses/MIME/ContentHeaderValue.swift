/// A parsed Content-Type or Content-Disposition value: the first token and its parameters
/// ([RFC 2045 §5.1](https://www.rfc-editor.org/rfc/rfc2045#section-5.1),
/// [RFC 2183 §2](https://www.rfc-editor.org/rfc/rfc2183#section-2)), with RFC 2231 parameter
/// value continuations (`name*0=`, `name*1=`) and charset encoding (`name*=utf-8''%E2%82%AC.exe`),
/// and RFC 2047 encoded words in quoted values (what many clients send instead of RFC 2231).
///
/// Lenient by design: a malformed value still yields whatever could be read, because a
/// filter must see the file name a mail client will show.
public struct ContentHeaderValue: Hashable, Sendable {
    /// The value before the first `;`, lower case and trimmed (`multipart/mixed`, `attachment`).
    public var value: String
    /// Parameters by lower-case name, continuations joined and decoded.
    public var parameters: [String: String]

    public init(parsing text: String) {
        let pieces = ContentHeaderValue.split(text)
        value = (pieces.first ?? "").trimmingWhitespace().lowercased()
        var plain: [String: String] = [:]
        var sections: [String: [(index: Int, encoded: Bool, text: String)]] = [:]
        for piece in pieces.dropFirst() {
            guard let equals = piece.firstIndex(of: "=") else { continue }
            var name = piece[..<equals].trimmingWhitespace().lowercased()
            let raw = ContentHeaderValue.unquote(Substring(piece[piece.index(after: equals)...].trimmingWhitespace()))
            guard !name.isEmpty else { continue }
            // RFC 2231 §3-4: name*N for sections, a trailing * for encoded values.
            var encoded = false
            if name.hasSuffix("*") {
                encoded = true
                name.removeLast()
            }
            if let star = name.firstIndex(of: "*"), let index = Int(name[name.index(after: star)...]) {
                sections[String(name[..<star]), default: []].append((index, encoded, raw))
            } else if encoded {
                sections[name, default: []].append((0, true, raw))
            } else if plain[name] == nil {
                plain[name] = raw
            }
        }
        for (name, parts) in sections {
            let ordered = parts.sorted { $0.index < $1.index }
            var charset = "us-ascii"
            var bytes: [UInt8] = []
            for (position, part) in ordered.enumerated() {
                var text = Substring(part.text)
                if part.encoded, position == 0 {
                    // charset'language'value (RFC 2231 §4)
                    let fields = text.split(separator: "'", maxSplits: 2, omittingEmptySubsequences: false)
                    if fields.count == 3 {
                        charset = fields[0].lowercased()
                        text = fields[2]
                    }
                }
                bytes += part.encoded ? ContentHeaderValue.percentDecoded(text) : Array(text.utf8)
            }
            plain[name] = ContentHeaderValue.decode(bytes, charset: charset)
        }
        parameters = plain.mapValues { EncodedWords.decode($0) }
    }

    /// Splits at `;` outside quoted strings and comments.
    static func split(_ text: String) -> [Substring] {
        var pieces: [Substring] = []
        var start = text.startIndex
        var index = text.startIndex
        var quoted = false
        var escaped = false
        while index < text.endIndex {
            let character = text[index]
            if escaped {
                escaped = false
            } else if character == "\\" && quoted {
                escaped = true
            } else if character == "\"" {
                quoted.toggle()
            } else if character == ";" && !quoted {
                pieces.append(text[start..<index])
                start = text.index(after: index)
            }
            index = text.index(after: index)
        }
        pieces.append(text[start...])
        return pieces
    }

    /// Removes surrounding quotes and backslash escapes (RFC 5322 quoted-string).
    static func unquote(_ text: Substring) -> String {
        guard text.hasPrefix("\""), text.count >= 2 else { return String(text) }
        var out = ""
        var escaped = false
        for character in text.dropFirst() {
            if escaped {
                out.append(character)
                escaped = false
            } else if character == "\\" {
                escaped = true
            } else if character == "\"" {
                break
            } else {
                out.append(character)
            }
        }
        return out
    }

    static func percentDecoded(_ text: Substring) -> [UInt8] {
        var out: [UInt8] = []
        let bytes = Array(text.utf8)
        var index = 0
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "%"), index + 2 < bytes.count,
               let high = hexValue(bytes[index + 1]), let low = hexValue(bytes[index + 2]) {
                out.append(high << 4 | low)
                index += 3
            } else {
                out.append(bytes[index])
                index += 1
            }
        }
        return out
    }

    static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// UTF-8 and ASCII as UTF-8; ISO-8859-1 / Windows-1252 octet by octet (enough for file-name
    /// extensions, which are ASCII); anything else as UTF-8 with replacement characters.
    static func decode(_ bytes: [UInt8], charset: String) -> String {
        switch charset {
        case "iso-8859-1", "latin1", "windows-1252", "cp1252", "iso-8859-15":
            String(String.UnicodeScalarView(bytes.map { Unicode.Scalar($0) }))
        default:
            String(decoding: bytes, as: UTF8.self)
        }
    }
}

extension StringProtocol {
    func trimmingWhitespace() -> String {
        var slice = Substring(self)
        while let first = slice.first, first.isWhitespace { slice.removeFirst() }
        while let last = slice.last, last.isWhitespace { slice.removeLast() }
        return String(slice)
    }
}
