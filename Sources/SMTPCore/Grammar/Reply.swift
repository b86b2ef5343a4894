import NIOCore

/// A server reply: a code, an optional enhanced status code and one or more text lines
/// (RFC 5321 §4.2, multi-line form `250-...` / `250 ...`; RFC 2034 for the enhanced code).
///
/// ```
/// S: 250-mx.example.org
/// S: 250-PIPELINING
/// S: 250 SIZE 10240000
/// ```
public struct Reply: Hashable, Sendable, CustomStringConvertible {
    public var code: ReplyCode
    public var enhancedCode: EnhancedStatusCode?
    /// Text lines without the code prefix and without CRLF. Never empty.
    public var lines: [String]

    public init(_ code: ReplyCode, _ enhancedCode: EnhancedStatusCode? = nil, _ text: String) {
        self.init(code, enhancedCode, lines: [text])
    }

    public init(_ code: ReplyCode, _ enhancedCode: EnhancedStatusCode? = nil, lines: [String]) {
        self.code = code
        self.enhancedCode = enhancedCode
        self.lines = lines.isEmpty ? [""] : lines
    }

    /// The text of all lines joined by a space (for logs and error messages).
    public var text: String { lines.joined(separator: " ") }

    public var description: String {
        if let enhancedCode { return "\(code) \(enhancedCode) \(text)" }
        return "\(code) \(text)"
    }

    /// The whole reply as it goes on the wire, CRLF-terminated lines.
    public var wireText: String {
        var out = ""
        for (index, line) in lines.enumerated() {
            out += String(code.rawValue)
            out += index == lines.count - 1 ? " " : "-"
            if let enhancedCode {
                out += enhancedCode.description
                if !line.isEmpty { out += " " }
            }
            out += Reply.sanitized(line)
            out += "\r\n"
        }
        return out
    }

    /// Replies never carry CR or LF inside a line (that would forge a second reply).
    static func sanitized(_ line: String) -> String {
        guard line.utf8.contains(where: { $0 == 0x0D || $0 == 0x0A }) else { return line }
        return String(line.map { $0 == "\r" || $0 == "\n" || $0 == "\r\n" ? " " : $0 })
    }
}

// MARK: - Encoding
extension Reply {
    /// Writes the wire form into `buffer`.
    public func write(into buffer: inout ByteBuffer) {
        buffer.writeString(wireText)
    }
}

// MARK: - Common replies
extension Reply {
    public static let ok = Reply(.ok, .ok, "OK")
    public static let badSequence = Reply(.badSequence, .badSequence, "Bad sequence of commands")
    public static let syntaxError = Reply(.syntaxError, .syntaxError, "Syntax error")
    public static let lineTooLong = Reply(.syntaxError, .syntaxError, "Line too long")
    public static let notImplemented = Reply(.commandNotImplemented, .invalidCommand, "Command not implemented")
    public static let closing = Reply(.closing, EnhancedStatusCode(2, 0, 0), "Bye")
    public static let shuttingDown = Reply(.serviceNotAvailable, .systemNotAccepting, "Service shutting down, try again later")
    public static let timeout = Reply(.serviceNotAvailable, .timeout, "Timeout, closing connection")
    public static let localError = Reply(.localError, .temporarySystemError, "Local error in processing, try again later")
}
