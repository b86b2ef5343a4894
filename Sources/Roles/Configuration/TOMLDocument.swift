/// A parsed configuration file in a subset of TOML v1.0 that keeps the line of every key, so
/// that a bad value is reported as `file:line: key: problem`.
///
/// Supported: `# comments`, `[table]` and `[table.sub]` headers, `key = value` with bare or
/// quoted keys, basic strings (`"…"` with `\" \\ \n \t \uXXXX`), literal strings (`'…'`),
/// integers (with `_` separators), booleans, and arrays of those (may span lines). Not
/// supported (a clear error): dotted keys, inline tables, floats, dates, multi-line strings.
public struct TOMLDocument: Sendable {
    public indirect enum Value: Sendable, Hashable {
        case string(String)
        case integer(Int)
        case boolean(Bool)
        case array([Value])

        var typeName: String {
            switch self {
            case .string: return "a string"
            case .integer: return "an integer"
            case .boolean: return "a boolean"
            case .array: return "an array"
            }
        }
    }

    /// One `key = value` with its table path and line.
    public struct Entry: Sendable, Hashable {
        /// Table path and key, e.g. `["hops", "store", "address"]`.
        public var path: [String]
        public var value: Value
        public var line: Int

        public var dottedKey: String { path.joined(separator: ".") }
    }

    public struct ParseError: Error, Sendable, Hashable, CustomStringConvertible {
        public var line: Int
        public var message: String
        public var description: String { "line \(line): \(message)" }
    }

    /// Entries in file order.
    public private(set) var entries: [Entry] = []
    /// Table headers with their lines (`["hops", "store"]` → 12).
    public private(set) var tables: [[String]: Int] = [:]

    public init(parsing text: String) throws(ParseError) {
        var scanner = Scanner(lines: text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init))
        var currentTable: [String] = []
        var seenKeys: Set<[String]> = []
        while let (lineNumber, rawLine) = scanner.nextLine() {
            var cursor = Cursor(Array(rawLine.unicodeScalars), line: lineNumber)
            cursor.skipSpaces()
            if cursor.atEndOrComment { continue }
            if cursor.peek == "[" {
                cursor.advance()
                if cursor.peek == "[" { throw ParseError(line: lineNumber, message: "arrays of tables are not supported") }
                var path: [String] = []
                repeat {
                    cursor.skipSpaces()
                    path.append(try cursor.key())
                    cursor.skipSpaces()
                } while cursor.consume(".")
                guard cursor.consume("]") else { throw ParseError(line: lineNumber, message: "expected ] after table name") }
                cursor.skipSpaces()
                guard cursor.atEndOrComment else { throw ParseError(line: lineNumber, message: "unexpected text after table header") }
                guard tables[path] == nil else {
                    throw ParseError(line: lineNumber, message: "table [\(path.joined(separator: "."))] defined twice")
                }
                tables[path] = lineNumber
                currentTable = path
                continue
            }
            let key = try cursor.key()
            cursor.skipSpaces()
            if cursor.peek == "." { throw ParseError(line: lineNumber, message: "dotted keys are not supported; use a [table]") }
            guard cursor.consume("=") else { throw ParseError(line: lineNumber, message: "expected = after key '\(key)'") }
            cursor.skipSpaces()
            let value = try cursor.value(continuation: &scanner)
            cursor.skipSpaces()
            guard cursor.atEndOrComment else { throw ParseError(line: cursor.line, message: "unexpected text after value of '\(key)'") }
            let path = currentTable + [key]
            guard seenKeys.insert(path).inserted else {
                throw ParseError(line: lineNumber, message: "key '\(path.joined(separator: "."))' defined twice")
            }
            entries.append(Entry(path: path, value: value, line: lineNumber))
        }
    }

    /// Hands out lines; arrays may pull more lines while they are open.
    struct Scanner {
        let lines: [String]
        var index = 0

        mutating func nextLine() -> (Int, String)? {
            guard index < lines.count else { return nil }
            defer { index += 1 }
            var line = lines[index]
            if line.hasSuffix("\r") { line.removeLast() }
            return (index + 1, line)
        }
    }

    struct Cursor {
        var scalars: [Unicode.Scalar]
        var position = 0
        var line: Int

        init(_ scalars: [Unicode.Scalar], line: Int) {
            self.scalars = scalars
            self.line = line
        }

        var peek: Unicode.Scalar? { position < scalars.count ? scalars[position] : nil }
        var atEndOrComment: Bool { peek == nil || peek == "#" }
        mutating func advance() { position += 1 }

        mutating func consume(_ scalar: Unicode.Scalar) -> Bool {
            guard peek == scalar else { return false }
            position += 1
            return true
        }

        mutating func skipSpaces() {
            while let scalar = peek, scalar == " " || scalar == "\t" { position += 1 }
        }

        mutating func key() throws(ParseError) -> String {
            if peek == "\"" { return try basicString() }
            if peek == "'" { return try literalString() }
            var key = ""
            while let scalar = peek, scalar.properties.isASCIIHexDigit || ("a"..."z").contains(scalar)
                    || ("A"..."Z").contains(scalar) || scalar == "_" || scalar == "-" {
                key.unicodeScalars.append(scalar)
                position += 1
            }
            guard !key.isEmpty else { throw ParseError(line: line, message: "expected a key") }
            return key
        }

        mutating func value(continuation scanner: inout Scanner) throws(ParseError) -> Value {
            guard let scalar = peek else { throw ParseError(line: line, message: "missing value") }
            switch scalar {
            case "\"":
                if scalars[position...].starts(with: Array("\"\"\"".unicodeScalars)) {
                    throw ParseError(line: line, message: "multi-line strings are not supported")
                }
                return .string(try basicString())
            case "'":
                return .string(try literalString())
            case "[":
                return try array(continuation: &scanner)
            case "{":
                throw ParseError(line: line, message: "inline tables are not supported; use a [table]")
            case "t", "f":
                let word = String(String.UnicodeScalarView(scalars[position...].prefix { ("a"..."z").contains($0) }))
                guard word == "true" || word == "false" else { throw ParseError(line: line, message: "invalid value '\(word)'") }
                position += word.unicodeScalars.count
                return .boolean(word == "true")
            default:
                var text = ""
                while let next = peek, next == "+" || next == "-" || next == "_" || ("0"..."9").contains(next)
                        || next == "." || next == "e" || next == "E" || next == ":" {
                    text.unicodeScalars.append(next)
                    position += 1
                }
                let digits = String(text.filter { $0 != "_" })
                guard !text.isEmpty, !text.hasPrefix("_"), !text.hasSuffix("_"), !text.contains("__"),
                      let number = Int(digits) else {
                    throw ParseError(line: line, message: text.isEmpty ? "invalid value" : "invalid number '\(text)' (only integers are supported)")
                }
                return .integer(number)
            }
        }

        mutating func array(continuation scanner: inout Scanner) throws(ParseError) -> Value {
            position += 1   // [
            let openedOn = line
            var items: [Value] = []
            while true {
                skipSpaces()
                if atEndOrComment {
                    // The array continues on the next line.
                    guard let (number, next) = scanner.nextLine() else {
                        throw ParseError(line: openedOn, message: "unterminated array")
                    }
                    scalars = Array(next.unicodeScalars)
                    position = 0
                    line = number
                    continue
                }
                if consume("]") { return .array(items) }
                items.append(try value(continuation: &scanner))
                skipSpaces()
                if consume(",") { continue }
                skipSpaces()
                if atEndOrComment { continue }
                guard consume("]") else { throw ParseError(line: line, message: "expected , or ] in array") }
                return .array(items)
            }
        }

        mutating func basicString() throws(ParseError) -> String {
            position += 1
            var out = ""
            while let scalar = peek {
                position += 1
                switch scalar {
                case "\"":
                    return out
                case "\\":
                    guard let escaped = peek else { break }
                    position += 1
                    switch escaped {
                    case "\"": out += "\""
                    case "\\": out += "\\"
                    case "n": out += "\n"
                    case "t": out += "\t"
                    case "r": out += "\r"
                    case "u", "U":
                        let count = escaped == "u" ? 4 : 8
                        let hex = String(String.UnicodeScalarView(scalars[position...].prefix(count)))
                        guard hex.unicodeScalars.count == count, let code = UInt32(hex, radix: 16),
                              let decoded = Unicode.Scalar(code) else {
                            throw ParseError(line: line, message: "invalid \\\(escaped) escape")
                        }
                        position += count
                        out.unicodeScalars.append(decoded)
                    default:
                        throw ParseError(line: line, message: "invalid escape \\\(escaped)")
                    }
                default:
                    if scalar.value < 0x20 && scalar != "\t" {
                        throw ParseError(line: line, message: "control character in string")
                    }
                    out.unicodeScalars.append(scalar)
                }
            }
            throw ParseError(line: line, message: "unterminated string")
        }

        mutating func literalString() throws(ParseError) -> String {
            position += 1
            var out = ""
            while let scalar = peek {
                position += 1
                if scalar == "'" { return out }
                out.unicodeScalars.append(scalar)
            }
            throw ParseError(line: line, message: "unterminated string")
        }
    }
}
