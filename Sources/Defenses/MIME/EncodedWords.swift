/// RFC 2047 encoded words (`=?UTF-8?B?aW52b2ljZS5leGU=?=`, `=?iso-8859-1?Q?a=E9.exe?=`), decoded
/// where they appear in a file name. Words that do not parse stay as they are.
enum EncodedWords {
    static func decode(_ text: String) -> String {
        guard text.contains("=?") else { return text }
        var out = ""
        var rest = Substring(text)
        var lastWasWord = false
        while let start = rest.range(of: "=?") {
            let before = rest[..<start.lowerBound]
            // RFC 2047 §6.2: white space between adjacent encoded words is dropped.
            if !(lastWasWord && before.allSatisfy(\.isWhitespace)) { out += before }
            let afterStart = rest[start.upperBound...]
            let fields = afterStart.split(separator: "?", maxSplits: 3, omittingEmptySubsequences: false)
            guard fields.count == 4, fields[3].hasPrefix("="), let decoded = word(charset: fields[0], encoding: fields[1], text: fields[2]) else {
                out += "=?"
                rest = afterStart
                lastWasWord = false
                continue
            }
            out += decoded
            rest = fields[3].dropFirst()
            lastWasWord = true
        }
        out += rest
        return out
    }

    private static func word(charset: Substring, encoding: Substring, text: Substring) -> String? {
        let charset = charset.split(separator: "*").first.map { $0.lowercased() } ?? ""
        let bytes: [UInt8]
        switch encoding.lowercased() {
        case "b":
            bytes = TransferDecoding.base64(Array(text.utf8)[...])
        case "q":
            let underscoresAsSpaces = Array(text.utf8).map { $0 == UInt8(ascii: "_") ? UInt8(ascii: " ") : $0 }
            bytes = TransferDecoding.quotedPrintable(underscoresAsSpaces[...])
        default:
            return nil
        }
        return ContentHeaderValue.decode(bytes, charset: charset)
    }
}
