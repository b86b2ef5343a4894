import NIOCore

/// Reads server replies for the SMTP/LMTP client side (RFC 5321 §4.2, RFC 2034 for enhanced
/// status codes).
///
/// ```
/// Reply-line = *( Reply-code "-" [ textstring ] CRLF )
///              Reply-code [ SP textstring ] CRLF
/// Reply-code = %x32-35 %x30-35 %x30-39
/// ```
///
/// Lenient as a client should be: a bare LF ends a line too, the second and third digit of the
/// code may be any digit, and text that is not UTF-8 is decoded with replacement characters.
///
/// Feed it the same accumulating buffer, as a `ByteToMessageDecoder` does: it remembers which
/// complete lines of an unfinished reply it has already read, so a reply trickling in byte by
/// byte costs linear, not quadratic, time.
public struct ReplyParser: Sendable {
    private let maxLineLength: Int
    private let maxLines: Int
    /// Complete lines of the reply in progress.
    private var lines: [Line] = []
    /// Bytes after the reader index that `lines` were read from.
    private var consumed = 0
    /// Bytes after `consumed` already searched for a line end without finding one.
    private var searched = 0

    private struct Line {
        var code: Int
        var isLast: Bool
        var text: String
    }

    /// - Parameters:
    ///   - maxLineLength: longest line, without its line ending (RFC 5321 §4.5.3.1.5 says 512
    ///     with CRLF; real servers send longer ones).
    ///   - maxLines: most lines in one reply (an EHLO reply lists one extension per line).
    public init(maxLineLength: Int = 4096, maxLines: Int = 100) {
        self.maxLineLength = maxLineLength
        self.maxLines = maxLines
    }

    /// Consumes a complete (possibly multi-line `250-…`/`250 …`) reply from `buffer`; returns
    /// nil when more bytes are needed (leaving the buffer's reader index untouched in that case).
    ///
    /// On error the reader index is untouched too; the connection cannot be trusted any more.
    public mutating func next(from buffer: inout ByteBuffer) throws(ReplyParseError) -> Reply? {
        if buffer.readableBytes < consumed + searched { reset() }  // not the buffer we saw before
        let view = buffer.readableBytesView
        while true {
            let lineStart = view.startIndex + consumed
            guard let lineFeed = view[(lineStart + searched)...].firstIndex(of: ParserASCII.lf) else {
                searched = view.endIndex - lineStart
                // One more byte than the limit may still be the CR of a CRLF.
                if searched > maxLineLength + 1 { reset(); throw .lineTooLong }
                return nil
            }
            var lineEnd = lineFeed
            if lineEnd > lineStart, view[lineEnd - 1] == ParserASCII.cr { lineEnd -= 1 }
            guard lineEnd - lineStart <= maxLineLength else { reset(); throw .lineTooLong }
            let line: Line
            do {
                line = try Self.line(view[lineStart..<lineEnd])
            } catch {
                reset()
                throw error
            }
            if let first = lines.first, first.code != line.code { reset(); throw .inconsistentCode }
            lines.append(line)
            consumed = lineFeed + 1 - view.startIndex
            searched = 0
            if line.isLast {
                let reply = Self.reply(lines)
                buffer.moveReaderIndex(forwardBy: consumed)
                reset()
                return reply
            }
            if lines.count >= maxLines { reset(); throw .tooManyLines }
        }
    }

    private mutating func reset() {
        lines = []
        consumed = 0
        searched = 0
    }

    // Reply-line = Reply-code ( "-" / SP / "" ) [ textstring ]
    private static func line(_ bytes: ByteBufferView.SubSequence) throws(ReplyParseError) -> Line {
        let digits = Array(bytes.prefix(3))
        guard digits.count == 3, digits.allSatisfy(ParserASCII.isDigit),
              (UInt8(ascii: "2")...UInt8(ascii: "5")).contains(digits[0])
        else { throw .malformed("no reply code") }
        let code = digits.reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
        let rest = bytes.dropFirst(3)
        guard let separator = rest.first else { return Line(code: code, isLast: true, text: "") }
        switch separator {
        case ParserASCII.space: return Line(code: code, isLast: true, text: ParserASCII.string(rest.dropFirst()))
        case UInt8(ascii: "-"): return Line(code: code, isLast: false, text: ParserASCII.string(rest.dropFirst()))
        default: throw .malformed("no separator after reply code")
        }
    }

    /// RFC 2034 §4: `status-code SP text` at the start of each line. The first line decides;
    /// the code is taken only when its class matches the reply code's first digit, and is then
    /// removed from every line that starts with it.
    private static func reply(_ lines: [Line]) -> Reply {
        let code = ReplyCode(lines[0].code)
        let texts = lines.map(\.text)
        let candidate = texts[0].prefix { $0 != " " }
        guard let enhanced = EnhancedStatusCode(parsing: candidate),
              enhanced.statusClass == code.rawValue / 100
        else { return Reply(code, nil, lines: texts) }
        let prefix = String(candidate)
        let stripped = texts.map { text -> String in
            if text == prefix { return "" }
            if text.hasPrefix(prefix + " ") { return String(text.dropFirst(prefix.count + 1)) }
            return text
        }
        return Reply(code, enhanced, lines: stripped)
    }
}
