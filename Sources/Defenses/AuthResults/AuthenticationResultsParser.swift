/// Reading `Authentication-Results` values ([RFC 8601 §2.2](https://www.rfc-editor.org/rfc/rfc8601#section-2.2)).
///
/// Tolerant where real fields vary: comments anywhere CFWS may be (nested, bounded), any case,
/// folding, a `pvalue` that is a bare base64 string or an address. Strict where it matters: a
/// resinfo without `method=result` is an error. The input is bounded (``maxLength`` bytes,
/// ``maxResults`` resinfos, comment nesting ``maxCommentDepth``), so a hostile field costs
/// little.
extension AuthenticationResults {
    /// Longest field value read (the header limits bound it anyway).
    public static let maxLength = 64 * 1024
    /// Most `resinfo` entries read.
    public static let maxResults = 100
    /// Deepest comment nesting accepted.
    public static let maxCommentDepth = 16

    /// Parses a field value (the text after `Authentication-Results:`).
    public static func parse(_ value: String) throws(AuthenticationResultsError) -> AuthenticationResults {
        var scanner = AuthResScanner(value)
        guard scanner.bytes.count <= maxLength else { throw AuthenticationResultsError("field longer than \(maxLength) bytes") }
        try scanner.skipCFWS()
        guard let authservID = try scanner.value(), !authservID.isEmpty else { throw AuthenticationResultsError("no authserv-id") }
        var parsed = AuthenticationResults(authservID: authservID)
        try scanner.skipCFWS()
        if let digits = scanner.digits() {
            guard let version = Int(digits) else { throw AuthenticationResultsError("bad version \(digits)") }
            parsed.version = version
            try scanner.skipCFWS()
        }
        if scanner.atEnd {
            // Not in the grammar (no-result needs "; none"), but seen in the wild: no results.
            return parsed
        }
        while !scanner.atEnd {
            guard scanner.take(";") else { throw AuthenticationResultsError("\";\" expected at \"\(scanner.excerpt)\"") }
            try scanner.skipCFWS()
            if scanner.atEnd { break }  // a trailing ";"
            guard parsed.results.count < maxResults else { throw AuthenticationResultsError("more than \(maxResults) results") }
            let result = try scanner.resinfo()
            if result.method == "none" && result.result.isEmpty {
                // no-result: "; none"
                continue
            }
            parsed.results.append(result)
        }
        return parsed
    }

    /// The `authserv-id` of a field value, read leniently: the first value after any comments.
    /// Enough to recognise a field claiming our name even when the rest does not parse (§5).
    public static func authservID(in value: String) -> String? {
        var scanner = AuthResScanner(value)
        guard scanner.bytes.count <= maxLength, (try? scanner.skipCFWS()) != nil else { return nil }
        guard let id = try? scanner.value(), !id.isEmpty else { return nil }
        return id
    }
}

/// Why an `Authentication-Results` value could not be read.
public struct AuthenticationResultsError: Error, Hashable, Sendable, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}

/// A byte scanner for the RFC 8601 grammar.
struct AuthResScanner {
    let bytes: [UInt8]
    var index = 0
    /// The last comment seen by ``skipCFWS()``, kept for the resinfo it follows.
    var lastComment: String?

    init(_ text: String) {
        bytes = Array(text.utf8)
    }

    var atEnd: Bool { index >= bytes.count }

    var excerpt: String { String(decoding: bytes[min(index, bytes.count)..<min(bytes.count, index + 20)], as: UTF8.self) }

    mutating func take(_ character: Character) -> Bool {
        guard !atEnd, let ascii = character.asciiValue, bytes[index] == ascii else { return false }
        index += 1
        return true
    }

    /// White space, folding and comments ([RFC 5322 §3.2.2](https://www.rfc-editor.org/rfc/rfc5322#section-3.2.2)).
    mutating func skipCFWS() throws(AuthenticationResultsError) {
        while !atEnd {
            let byte = bytes[index]
            if MessageASCII.isWSP(byte) || byte == MessageASCII.cr || byte == MessageASCII.lf {
                index += 1
            } else if byte == UInt8(ascii: "(") {
                lastComment = try comment()
            } else {
                return
            }
        }
    }

    private mutating func comment() throws(AuthenticationResultsError) -> String {
        var depth = 0
        var text: [UInt8] = []
        while !atEnd {
            let byte = bytes[index]
            index += 1
            switch byte {
            case UInt8(ascii: "("):
                depth += 1
                guard depth <= AuthenticationResults.maxCommentDepth else { throw AuthenticationResultsError("comments nested too deep") }
                if depth > 1 { text.append(byte) }
            case UInt8(ascii: ")"):
                depth -= 1
                if depth == 0 { return String(decoding: text, as: UTF8.self) }
                text.append(byte)
            case UInt8(ascii: "\\"):
                if !atEnd { text.append(bytes[index]); index += 1 }
            default:
                text.append(byte)
            }
        }
        throw AuthenticationResultsError("unterminated comment")
    }

    /// A keyword: letters, digits, `-`, `_` ([RFC 5321 §4.1.2](https://www.rfc-editor.org/rfc/rfc5321#section-4.1.2) Keyword, widened).
    mutating func keyword() -> String? {
        let start = index
        while !atEnd, Self.isKeywordByte(bytes[index]) { index += 1 }
        return index > start ? MessageASCII.lowercased(String(decoding: bytes[start..<index], as: UTF8.self)) : nil
    }

    mutating func digits() -> String? {
        let start = index
        while !atEnd, (0x30...0x39).contains(bytes[index]) { index += 1 }
        // A version is digits followed by CFWS, ";" or the end, not the start of a word.
        if index > start, !atEnd, !(MessageASCII.isWSP(bytes[index]) || bytes[index] == UInt8(ascii: ";") || bytes[index] == UInt8(ascii: "(")
            || bytes[index] == MessageASCII.cr || bytes[index] == MessageASCII.lf) {
            index = start
            return nil
        }
        return index > start ? String(decoding: bytes[start..<index], as: UTF8.self) : nil
    }

    /// A quoted-string or a run of bytes up to white space, `;`, `(` or `"` (a token, an address,
    /// a domain, or a base64 string with `/`, `+` and `=`).
    mutating func value() throws(AuthenticationResultsError) -> String? {
        guard !atEnd else { return nil }
        if bytes[index] == UInt8(ascii: "\"") {
            index += 1
            var text: [UInt8] = []
            while !atEnd {
                let byte = bytes[index]
                index += 1
                if byte == UInt8(ascii: "\"") { return String(decoding: text, as: UTF8.self) }
                if byte == UInt8(ascii: "\\"), !atEnd {
                    text.append(bytes[index])
                    index += 1
                } else if byte != MessageASCII.cr && byte != MessageASCII.lf {
                    text.append(byte)
                }
            }
            throw AuthenticationResultsError("unterminated quoted-string")
        }
        let start = index
        while !atEnd {
            let byte = bytes[index]
            if MessageASCII.isWSP(byte) || byte == MessageASCII.cr || byte == MessageASCII.lf || byte == UInt8(ascii: ";")
                || byte == UInt8(ascii: "(") || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: ")") {
                break
            }
            index += 1
        }
        return index > start ? String(decoding: bytes[start..<index], as: UTF8.self) : nil
    }

    /// `methodspec [CFWS reasonspec] [CFWS 1*propspec]`, after the `;` and CFWS.
    mutating func resinfo() throws(AuthenticationResultsError) -> AuthenticationResult {
        guard let method = keyword() else { throw AuthenticationResultsError("method expected at \"\(excerpt)\"") }
        lastComment = nil
        try skipCFWS()
        var methodVersion: Int?
        if take("/") {
            try skipCFWS()
            guard let digits = digitsOnly(), let version = Int(digits) else { throw AuthenticationResultsError("bad method version of \(method)") }
            methodVersion = version
            try skipCFWS()
        }
        guard take("=") else {
            if method == "none" { return AuthenticationResult(method: "none", result: "") }
            throw AuthenticationResultsError("\"=\" expected after \(method)")
        }
        try skipCFWS()
        guard let result = keyword() else { throw AuthenticationResultsError("result expected for \(method)") }
        lastComment = nil
        var parsed = AuthenticationResult(method: method, result: result, methodVersion: methodVersion)
        try skipCFWS()
        parsed.comment = lastComment
        while !atEnd, bytes[index] != UInt8(ascii: ";") {
            guard let name = keyword() else { throw AuthenticationResultsError("property expected at \"\(excerpt)\"") }
            try skipCFWS()
            if name == "reason", take("=") {
                try skipCFWS()
                parsed.reason = try value() ?? ""
                try skipCFWS()
                continue
            }
            guard take(".") else { throw AuthenticationResultsError("\".\" expected after \(name)") }
            try skipCFWS()
            guard let property = keyword() else { throw AuthenticationResultsError("property name expected after \(name).") }
            try skipCFWS()
            guard take("=") else { throw AuthenticationResultsError("\"=\" expected after \(name).\(property)") }
            try skipCFWS()
            parsed.properties.append(AuthenticationProperty(name, property, try value() ?? ""))
            try skipCFWS()
        }
        return parsed
    }

    private mutating func digitsOnly() -> String? {
        let start = index
        while !atEnd, (0x30...0x39).contains(bytes[index]) { index += 1 }
        return index > start ? String(decoding: bytes[start..<index], as: UTF8.self) : nil
    }

    private static func isKeywordByte(_ byte: UInt8) -> Bool {
        (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
            || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_")
    }
}
