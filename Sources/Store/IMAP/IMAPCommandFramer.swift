import NIOCore

/// Cuts client input into whole commands: a command is a line, and when the line ends in a
/// literal announcement (`{12}` or LITERAL+ `{12+}`, [RFC 3501 §4.3](https://www.rfc-editor.org/rfc/rfc3501#section-4.3),
/// [RFC 7888](https://www.rfc-editor.org/rfc/rfc7888)) the literal's octets and the rest of the
/// command follow. The frame holds the command's octets as sent (literals inline, without the
/// server's `+` continuations), for ``IMAPParser``.
///
/// Limits without reading anything into memory beyond them: the octets outside literals
/// (``IMAPLimits/maxLineLength``), each literal (``IMAPLimits/maxLiteralSize``, or
/// ``IMAPLimits/maxAppendSize`` for APPEND). A synchronising literal over the limit is refused
/// before the client sends it (no `+`); a non-synchronising one is skipped octet by octet.
/// Either way the command gets one `BAD`/`NO` and the connection goes on.
struct IMAPCommandFramer: Sendable {
    enum Frame: Sendable, Hashable {
        /// A complete command.
        case command([UInt8])
        /// A synchronising literal is announced and within its limit: send `+`, then its octets come.
        case continuationNeeded
        /// The command's octets outside literals exceeded the line limit (skipped to its end).
        case tooLong(tag: String?)
        /// A literal exceeded its limit (`synchronizing`: the client waits and sends nothing more of it).
        case literalTooLarge(tag: String?, synchronizing: Bool)
        /// A plain line while the session waits for one (an AUTHENTICATE response, IDLE's DONE).
        case line(String)
        /// An APPEND whose message literal is larger than ``IMAPLimits/maxLiteralSize``: the
        /// command before the literal (`a1 APPEND INBOX (\Seen) `); the octets follow as
        /// ``appendData(_:)`` pieces of up to 64 KiB, then ``appendEnd(trailing:)``. For a
        /// synchronising literal the session sends `+` (or refuses with ``abandonLiteral()``).
        case appendBegin(prefix: [UInt8], size: Int, synchronizing: Bool)
        case appendData(ByteBuffer)
        /// The literal is complete; what followed it on its line (empty for a well-formed APPEND).
        case appendEnd(trailing: [UInt8])
    }

    /// Pieces of a streamed APPEND literal.
    static let appendChunkSize = 64 * 1024

    let limits: IMAPLimits
    /// When set, input is read as plain lines (no literals), up to the line limit.
    var linesOnly = false
    private var command: [UInt8] = []
    /// Octets of the command outside literals so far.
    private var lineOctets = 0
    /// Octets of literal still to copy into ``command``.
    private var literalRemaining = 0
    /// Octets to drop (a refused LITERAL+), then the rest of the command up to its line end.
    private var skipRemaining = 0
    private var discardingToLineEnd = false
    /// Octets of a streamed APPEND literal still to hand out, then its line's rest.
    private var streamRemaining = 0
    private var streamSynchronizing = false
    private var awaitingTrailer = false

    init(limits: IMAPLimits) {
        self.limits = limits
    }

    /// The next frame from `buffer` (consumed), or nil when more bytes are needed.
    mutating func next(_ buffer: inout ByteBuffer) -> Frame? {
        if streamRemaining > 0 {
            let want = min(streamRemaining, Self.appendChunkSize)
            guard buffer.readableBytes >= want else { return nil }
            streamRemaining -= want
            if streamRemaining == 0 { awaitingTrailer = true }
            return .appendData(buffer.readSlice(length: want)!)
        }
        if awaitingTrailer {
            let view = buffer.readableBytesView
            guard let newline = view.firstIndex(of: 0x0A) else {
                if view.count > limits.maxLineLength {
                    buffer.moveReaderIndex(forwardBy: view.count)
                    awaitingTrailer = false
                    discardingToLineEnd = true
                    return .appendEnd(trailing: Array("?".utf8))
                }
                return nil
            }
            var line = Array(view[view.startIndex..<newline])
            if line.last == 0x0D { line.removeLast() }
            buffer.moveReaderIndex(forwardBy: newline - view.startIndex + 1)
            awaitingTrailer = false
            return .appendEnd(trailing: line)
        }
        while true {
            if skipRemaining > 0 {
                let count = min(skipRemaining, buffer.readableBytes)
                buffer.moveReaderIndex(forwardBy: count)
                skipRemaining -= count
                guard skipRemaining == 0 else { return nil }
                discardingToLineEnd = true
            }
            if literalRemaining > 0 {
                let count = min(literalRemaining, buffer.readableBytes)
                guard count > 0 else { return nil }
                command.append(contentsOf: buffer.readBytes(length: count)!)
                literalRemaining -= count
                guard literalRemaining == 0 else { return nil }
            }
            let view = buffer.readableBytesView
            guard let newline = view.firstIndex(of: 0x0A) else {
                if discardingToLineEnd {
                    buffer.moveReaderIndex(forwardBy: view.count)
                } else if lineOctets + view.count > limits.maxLineLength {
                    let tag = Self.tag(of: command.isEmpty ? Array(view.prefix(64)) : command)
                    buffer.moveReaderIndex(forwardBy: view.count)
                    reset()
                    discardingToLineEnd = true
                    return .tooLong(tag: tag)
                }
                return nil
            }
            let length = newline - view.startIndex + 1
            if discardingToLineEnd {
                // Inside a refused command: a LITERAL+ announced here is skipped too.
                var line = Array(view[view.startIndex..<newline])
                if line.last == 0x0D { line.removeLast() }
                buffer.moveReaderIndex(forwardBy: length)
                if let literal = Self.literal(endingLine: line), !literal.synchronizing {
                    skipRemaining = literal.size
                    if skipRemaining == 0 { continue }
                } else {
                    discardingToLineEnd = false
                }
                continue
            }
            guard lineOctets + length <= limits.maxLineLength else {
                let tag = Self.tag(of: command.isEmpty ? Array(view.prefix(64)) : command)
                buffer.moveReaderIndex(forwardBy: length)
                reset()
                return .tooLong(tag: tag)
            }
            command.append(contentsOf: view[view.startIndex..<(newline + 1)])
            lineOctets += length
            buffer.moveReaderIndex(forwardBy: length)
            var end = command.count - 1
            if end > 0, command[end - 1] == 0x0D { end -= 1 }
            if linesOnly {
                defer { reset() }
                return .line(String(decoding: command[..<end], as: UTF8.self))
            }
            guard let literal = Self.literal(endingLine: command[..<end]) else {
                // A whole command: without its line end.
                let frame = Frame.command(Array(command[..<end]))
                reset()
                return frame
            }
            let limit = Self.isAppend(command) ? limits.maxAppendSize : limits.maxLiteralSize
            guard literal.size <= limit else {
                let tag = Self.tag(of: command)
                reset()
                if !literal.synchronizing {
                    skipRemaining = literal.size
                    if skipRemaining == 0 { discardingToLineEnd = true }
                }
                return .literalTooLarge(tag: tag, synchronizing: literal.synchronizing)
            }
            if Self.isAppend(command), literal.size > limits.maxLiteralSize {
                // A message: streamed to the body file instead of collected here.
                let prefix = Array(command[..<Self.literalStart(command[..<end])])
                reset()
                streamRemaining = literal.size
                streamSynchronizing = literal.synchronizing
                awaitingTrailer = literal.size == 0
                return .appendBegin(prefix: prefix, size: literal.size, synchronizing: literal.synchronizing)
            }
            literalRemaining = literal.size
            if literal.synchronizing { return .continuationNeeded }
        }
    }

    /// The session refused a streamed APPEND: a synchronising literal will not come (no `+` was
    /// sent); a LITERAL+ one is skipped with the rest of its command.
    mutating func abandonLiteral() {
        if streamSynchronizing {
            streamRemaining = 0
        } else {
            skipRemaining = streamRemaining
            streamRemaining = 0
            discardingToLineEnd = skipRemaining == 0
        }
        awaitingTrailer = false
    }

    /// Where the `{` of the literal that ends `line` is.
    static func literalStart(_ line: ArraySlice<UInt8>) -> Int {
        line.lastIndex(of: UInt8(ascii: "{")) ?? line.endIndex
    }

    private mutating func reset() {
        command = []
        lineOctets = 0
        literalRemaining = 0
    }

    /// `{123}` or `{123+}` at the end of a line (RFC 3501 §9 `literal`, RFC 7888 `literal-nonsync`).
    static func literal(endingLine line: some BidirectionalCollection<UInt8>) -> (size: Int, synchronizing: Bool)? {
        guard line.last == UInt8(ascii: "}") else { return nil }
        var digits: [UInt8] = []
        var synchronizing = true
        var index = line.index(before: line.endIndex)
        while index > line.startIndex {
            index = line.index(before: index)
            let byte = line[index]
            if byte == UInt8(ascii: "{") {
                guard !digits.isEmpty, digits.count <= 32 else { return nil }
                // Beyond 18 digits it is over every limit anyway.
                let size = digits.count > 18 ? Int.max : Int(String(decoding: digits.reversed(), as: UTF8.self))!
                return (size, synchronizing)
            } else if byte == UInt8(ascii: "+"), digits.isEmpty, synchronizing {
                synchronizing = false
            } else if (0x30...0x39).contains(byte) {
                digits.append(byte)
            } else {
                return nil
            }
        }
        return nil
    }

    /// The command's first token when it is a valid tag (RFC 3501 §9 `tag`).
    static func tag(of bytes: [UInt8]) -> String? {
        let token = bytes.prefix { $0 != 0x20 && $0 != 0x0D && $0 != 0x0A }
        guard !token.isEmpty, token.count <= 64, token.allSatisfy(IMAPParser.isTagChar) else { return nil }
        return String(decoding: token, as: UTF8.self)
    }

    /// `tag SP [UID SP] APPEND`: its literal may be as large as a message.
    static func isAppend(_ bytes: [UInt8]) -> Bool {
        let words = bytes.prefix(64).split(separator: 0x20, maxSplits: 2)
        guard words.count >= 2 else { return false }
        return String(decoding: words[1], as: UTF8.self).uppercased() == "APPEND"
    }
}
