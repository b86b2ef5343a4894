import NIOCore

/// Server-side framing of inbound SMTP bytes into command lines, message data and
/// end-of-data, before any parsing.
///
/// The framer works like a `ByteToMessageDecoder`: ``next(from:)`` consumes what it has decided
/// on from the caller's cumulation buffer and leaves undecided bytes there (at most one
/// unfinished command line, or at most two bytes — `.` or `.\r` at a line start — in message
/// data). It never holds a whole message: message bytes come out as slices of the input as soon
/// as they cannot be part of the end marker.
///
/// The session drives the mode: ``expectData()`` after `354`, ``expectChunk(size:binary:)``
/// after `BDAT`, ``expectAuthLine()`` after `334`. After end of data the framer is back in
/// command mode on its own.
///
/// SMTP smuggling defense: only `CRLF "." CRLF` ends DATA, where the leading CRLF is a real
/// CR LF pair (or the start of the data). `\n.\n`, `\r.\r`, `\r\n.\n`, `\n.\r\n`, `\r.\r\n` and
/// `\r\n.\r` are message content whatever ``BareLineEndingPolicy`` says; the policy only
/// decides what is done with the bare CR/LF (see ``MessageDataSummary``).
///
/// - SeeAlso: [RFC 5321 §4.1.1.4](https://www.rfc-editor.org/rfc/rfc5321#section-4.1.1.4) (DATA),
///   [RFC 5321 §4.5.2](https://www.rfc-editor.org/rfc/rfc5321#section-4.5.2) (transparency),
///   [RFC 3030 §2](https://www.rfc-editor.org/rfc/rfc3030#section-2) (BDAT),
///   [RFC 3207 §4](https://www.rfc-editor.org/rfc/rfc3207#section-4) (STARTTLS).
public struct SMTPFramer: Sendable {
    /// Line limits and the bare line ending policy.
    public struct Configuration: Hashable, Sendable {
        /// Longest command line, CRLF included (RFC 5321 §4.5.3.1.4). At least 1.
        public var maxCommandLineLength: Int
        /// Longest AUTH response line, CRLF included (RFC 4954 §4). At least 1.
        public var maxAuthLineLength: Int
        /// Longest text line of message data, CRLF included (RFC 5321 §4.5.3.1.6). Exceeding it
        /// only sets ``MessageDataSummary/sawLongLine``.
        public var maxTextLineLength: Int
        /// What to do with a bare CR or bare LF (command lines and DATA).
        public var bareLineEndings: BareLineEndingPolicy

        public init(
            maxCommandLineLength: Int = 512,
            maxAuthLineLength: Int = 12_288,
            maxTextLineLength: Int = 1_000,
            bareLineEndings: BareLineEndingPolicy = .reject
        ) {
            self.maxCommandLineLength = maxCommandLineLength
            self.maxAuthLineLength = maxAuthLineLength
            self.maxTextLineLength = maxTextLineLength
            self.bareLineEndings = bareLineEndings
        }

        /// Takes the line limits from the shared ``SMTPLimits``.
        public init(limits: SMTPLimits, bareLineEndings: BareLineEndingPolicy) {
            self.init(
                maxCommandLineLength: limits.maxCommandLineLength,
                maxAuthLineLength: limits.maxAuthLineLength,
                maxTextLineLength: limits.maxTextLineLength,
                bareLineEndings: bareLineEndings
            )
        }
    }

    /// One framed item of inbound bytes.
    public enum Event: Hashable, Sendable {
        /// A command line (or AUTH response line), CRLF removed.
        ///
        /// A bare CR inside the line is kept (the parser rejects it).
        case line(ByteBuffer)
        /// A line exceeded its limit; its bytes up to and including the terminating LF were
        /// discarded (the framer keeps discarding across calls until that LF arrives, then emits
        /// this once). RFC 5321 §4.5.3.1.4: the session answers `500 5.5.6`.
        case lineTooLong
        /// A command line ended with a bare LF while the policy is `.reject` (the line is
        /// discarded). Under `.accept`/`.normalize`, an LF-terminated command line is returned
        /// as ``line(_:)``.
        case bareLineEnding
        /// Message bytes, in order. DATA: dot-unstuffed, CRLF kept (the CRLF before the final
        /// `.` belongs to the message); under `.normalize` every bare CR or LF is rewritten to
        /// CRLF. BDAT: the raw chunk bytes.
        case messageData(ByteBuffer)
        /// DATA ended with `CRLF.CRLF`, or the current BDAT chunk's last octet was consumed.
        /// Afterwards the framer is back in command mode.
        case messageEnd(MessageDataSummary)
    }

    /// What the next inbound bytes are.
    private enum Mode: Hashable, Sendable {
        /// Command lines; `discarding` while dropping the rest of an over-long line.
        case command(discarding: Bool)
        /// One AUTH response line, then command mode.
        case authLine(discarding: Bool)
        /// Dot-stuffed DATA until `CRLF.CRLF`.
        case data
        /// `remaining` octets of a BDAT chunk.
        case chunk(remaining: Int, binary: Bool)
    }

    /// Line state of the message being received, over what has been consumed so far.
    /// Survives BDAT chunk boundaries.
    private struct TextState: Hashable, Sendable {
        /// The consumed bytes end with a real CRLF, or none were consumed: a `.` here is a
        /// line-start dot (DATA only).
        var atLineStart = true
        /// The last consumed byte is a CR whose LF may still come.
        var pendingCR = false
        /// Octets of the current text line emitted so far.
        var lineLength = 0
    }

    public var configuration: Configuration
    private var mode: Mode = .command(discarding: false)
    private var text = TextState()
    private var summary = MessageDataSummary()

    public init(configuration: Configuration = .init()) {
        self.configuration = configuration
    }

    /// Next inbound items are command lines (the initial mode).
    public mutating func expectCommand() {
        self.mode = .command(discarding: false)
    }

    /// Next inbound item is one AUTH response line (limit ``Configuration/maxAuthLineLength``);
    /// after that line — or its ``Event/lineTooLong`` / ``Event/bareLineEnding`` — the framer
    /// is back in command mode on its own (RFC 4954 §4).
    public mutating func expectAuthLine() {
        self.mode = .authLine(discarding: false)
    }

    /// After `354`: dot-stuffed message data until `CRLF.CRLF` (RFC 5321 §4.1.1.4).
    ///
    /// DATA always carries a whole message, so this also resets the per-message counters
    /// (as ``resetMessage()`` does); the data starts at a line start.
    public mutating func expectData() {
        self.resetMessage()
        self.mode = .data
    }

    /// After `BDAT size`: exactly `size` octets of chunk (size may be 0) (RFC 3030 §2).
    ///
    /// `binary: true` for `BODY=BINARYMIME` (RFC 3030 §3): no line checks at all (bare CR/LF,
    /// long lines and NUL are not recorded). Chunk bytes are never rewritten, whatever the
    /// bare line ending policy: the octet count is part of the protocol.
    public mutating func expectChunk(size: Int, binary: Bool) {
        self.mode = .chunk(remaining: max(size, 0), binary: binary)
    }

    /// Resets the per-message counters (call at MAIL FROM / RSET); BDAT chunks of one message
    /// accumulate into one summary until reset.
    public mutating func resetMessage() {
        self.summary = MessageDataSummary()
        self.text = TextState()
    }

    /// Forgets all framing state and returns to command mode: an over-long line being
    /// discarded, a DATA or BDAT transfer in progress and the message counters.
    ///
    /// STARTTLS (RFC 3207 §4, CVE-2011-0411 class): the framer holds no input bytes of its own
    /// — unread bytes stay in the buffer passed to ``next(from:)`` — so the caller must also
    /// discard that buffer's readable bytes (the plaintext pipelined after `STARTTLS`).
    public mutating func reset() {
        self.mode = .command(discarding: false)
        self.resetMessage()
    }

    /// Returns the next event, consuming bytes from `buffer`; nil when more bytes are needed.
    ///
    /// Bytes that are not consumed stay in `buffer`; append the next read to it and call again.
    /// For any way of splitting the input into reads the events are the same (with consecutive
    /// ``Event/messageData(_:)`` concatenated).
    public mutating func next(from buffer: inout ByteBuffer) -> Event? {
        switch self.mode {
        case .command(let discarding):
            return self.nextLine(from: &buffer, limit: self.configuration.maxCommandLineLength, discarding: discarding, isAuth: false)
        case .authLine(let discarding):
            return self.nextLine(from: &buffer, limit: self.configuration.maxAuthLineLength, discarding: discarding, isAuth: true)
        case .data:
            return self.nextData(from: &buffer)
        case .chunk(let remaining, let binary):
            return self.nextChunk(from: &buffer, remaining: remaining, binary: binary)
        }
    }
}

// MARK: - Command lines

extension SMTPFramer {
    private mutating func nextLine(from buffer: inout ByteBuffer, limit: Int, discarding: Bool, isAuth: Bool) -> Event? {
        let view = buffer.readableBytesView
        if discarding {
            guard let lf = view.firstIndex(of: Byte.lf) else {
                buffer.moveReaderIndex(forwardBy: view.count)
                return nil
            }
            buffer.moveReaderIndex(to: lf + 1)
            self.mode = .command(discarding: false)
            return .lineTooLong
        }

        // RFC 5321 §4.5.3.1.4: the limit counts the CRLF, so the LF must be among the first
        // `limit` bytes; never keep more than that for one line.
        let limit = max(limit, 1)
        let searchEnd = view.startIndex + min(view.count, limit)
        guard let lf = view[view.startIndex..<searchEnd].firstIndex(of: Byte.lf) else {
            guard view.count >= limit else { return nil }
            // Too long: discard through the LF, here or in a later read.
            self.mode = isAuth ? .authLine(discarding: true) : .command(discarding: true)
            return self.nextLine(from: &buffer, limit: limit, discarding: true, isAuth: isAuth)
        }

        let start = view.startIndex
        let contentLength: Int
        if lf > start && view[lf - 1] == Byte.cr {
            contentLength = lf - 1 - start
        } else if self.configuration.bareLineEndings == .reject {
            buffer.moveReaderIndex(to: lf + 1)
            self.mode = .command(discarding: false)
            return .bareLineEnding
        } else {
            contentLength = lf - start
        }
        let line = buffer.getSlice(at: start, length: contentLength)!
        buffer.moveReaderIndex(to: lf + 1)
        self.mode = .command(discarding: false)
        return .line(line)
    }
}

// MARK: - DATA

extension SMTPFramer {
    /// Streams dot-stuffed message data (RFC 5321 §4.1.1.4, §4.5.2).
    ///
    /// Emits one event per call: a run of message bytes that cannot belong to the end marker,
    /// or the end. Without rewriting, the run is a slice of `buffer` (no copy); a dropped
    /// stuffing dot ends the run so the next call skips it without copying. Under `.normalize`
    /// a bare CR/LF starts a copied run (rewriting needs new bytes).
    ///
    /// Under `.normalize` a rewritten bare CR or LF ends the text line for line-length
    /// counting, but it never starts a line for dot detection: `\n.\n` rewritten is
    /// `\r\n.\r\n` in the output, yet the `.` was not at a line start on the wire, so it is
    /// neither unstuffed nor an end marker (that would reopen SMTP smuggling).
    private mutating func nextData(from buffer: inout ByteBuffer) -> Event? {
        let view = buffer.readableBytesView
        let end = view.endIndex
        let normalize = self.configuration.bareLineEndings == .normalize
        var position = view.startIndex
        var runStart = position
        // Once a byte is rewritten the event is built here instead of being a slice. Not an
        // Optional: unwrapping a copy would share the storage and make every write copy it.
        var rewritten = ByteBuffer()
        var isRewriting = false

        /// Moves the run so far into `rewritten` (starting it if needed), then appends `bytes`.
        func rewrite(_ bytes: StaticString, at position: Int) {
            if !isRewriting {
                isRewriting = true
                rewritten.reserveCapacity(end - runStart + 64)
            }
            rewritten.writeBytes(view[runStart..<position])
            rewritten.writeStaticString(bytes)
            runStart = position
        }

        scan: while position < end {
            if self.text.pendingCR {
                self.text.pendingCR = false
                if view[position] == Byte.lf {
                    // A real CRLF ends the line: the next byte is at a line start.
                    position += 1
                    self.countLineOctets(1)
                    self.text.lineLength = 0
                    self.text.atLineStart = true
                    continue scan
                }
                self.summary.sawBareCR = true
                if normalize {
                    rewrite("\n", at: position)
                    self.countLineOctets(1)
                    self.text.lineLength = 0
                }
                // The byte at `position` continues mid-line: a bare CR never starts a line.
            }

            if self.text.atLineStart && view[position] == Byte.dot {
                guard position + 1 < end else { break scan }
                if view[position + 1] == Byte.cr {
                    guard position + 2 < end else { break scan }
                    if view[position + 2] == Byte.lf {
                        // RFC 5321 §4.1.1.4: CRLF "." CRLF; the leading CRLF is already emitted.
                        if position > runStart || isRewriting { break scan }
                        buffer.moveReaderIndex(to: position + 3)
                        self.mode = .command(discarding: false)
                        return .messageEnd(self.summary)
                    }
                }
                // RFC 5321 §4.5.2: a line starting with "." that is not the end loses that dot.
                if isRewriting {
                    rewritten.writeBytes(view[runStart..<position])
                } else if position > runStart {
                    break scan  // emit the run first; the next call drops the dot without a copy
                }
                position += 1
                runStart = position
                self.text.atLineStart = false
                continue scan
            }
            self.text.atLineStart = false

            // The plain part of the line up to the next CR, LF or (first) NUL.
            let nul: UInt8 = self.summary.sawNUL ? Byte.cr : 0
            let stop = view[position..<end].firstIndex(where: { $0 == Byte.cr || $0 == Byte.lf || $0 == nul }) ?? end
            self.countLineOctets(stop - position)
            position = stop
            guard position < end else { break scan }

            switch view[position] {
            case Byte.cr:
                self.text.pendingCR = true
                self.countLineOctets(1)
            case Byte.lf:
                // Not preceded by CR (that case is handled above): a bare LF.
                self.summary.sawBareLF = true
                if normalize {
                    rewrite("\r", at: position)
                    self.countLineOctets(2)
                    self.text.lineLength = 0
                } else {
                    self.countLineOctets(1)
                }
            default:
                // RFC 5321 §4.5.2: NUL is not text; recorded, passed on.
                self.summary.sawNUL = true
                self.countLineOctets(1)
            }
            position += 1
        }

        let event: ByteBuffer
        if isRewriting {
            rewritten.writeBytes(view[runStart..<position])
            event = rewritten
        } else if position > runStart {
            event = buffer.getSlice(at: runStart, length: position - runStart)!
        } else {
            buffer.moveReaderIndex(to: position)
            return nil
        }
        buffer.moveReaderIndex(to: position)
        self.summary.octets += event.readableBytes
        return .messageData(event)
    }

    /// Adds emitted octets to the current text line (RFC 5321 §4.5.3.1.6, CRLF included).
    private mutating func countLineOctets(_ count: Int) {
        self.text.lineLength += count
        if self.text.lineLength > self.configuration.maxTextLineLength {
            self.summary.sawLongLine = true
        }
    }
}

// MARK: - BDAT

extension SMTPFramer {
    /// Streams exactly `remaining` raw octets of a BDAT chunk (RFC 3030 §2).
    private mutating func nextChunk(from buffer: inout ByteBuffer, remaining: Int, binary: Bool) -> Event? {
        guard remaining > 0 else {
            self.mode = .command(discarding: false)
            // Describe the message as if it ended here: a CR at the very end is bare unless the
            // next chunk of the message starts with LF (then a later summary says so).
            var snapshot = self.summary
            if self.text.pendingCR { snapshot.sawBareCR = true }
            return .messageEnd(snapshot)
        }
        let count = min(remaining, buffer.readableBytes)
        guard count > 0 else { return nil }
        let chunk = buffer.readSlice(length: count)!
        if !binary {
            self.track(chunk.readableBytesView)
        }
        self.summary.octets += count
        self.mode = .chunk(remaining: remaining - count, binary: binary)
        return .messageData(chunk)
    }

    /// Records bare CR/LF, long lines and NUL in raw text bytes, continuing the line state of
    /// the previous chunk.
    private mutating func track(_ view: ByteBufferView) {
        var position = view.startIndex
        let end = view.endIndex
        while position < end {
            if self.text.pendingCR {
                self.text.pendingCR = false
                if view[position] == Byte.lf {
                    position += 1
                    self.countLineOctets(1)
                    self.text.lineLength = 0
                    continue
                }
                self.summary.sawBareCR = true
            }
            let nul: UInt8 = self.summary.sawNUL ? Byte.cr : 0
            let stop = view[position..<end].firstIndex(where: { $0 == Byte.cr || $0 == Byte.lf || $0 == nul }) ?? end
            self.countLineOctets(stop - position)
            position = stop
            guard position < end else { return }
            switch view[position] {
            case Byte.cr:
                self.text.pendingCR = true
            case Byte.lf:
                self.summary.sawBareLF = true
            default:
                self.summary.sawNUL = true
            }
            self.countLineOctets(1)
            position += 1
        }
    }
}

extension SMTPFramer {
    private enum Byte {
        static let cr = UInt8(ascii: "\r")
        static let lf = UInt8(ascii: "\n")
        static let dot = UInt8(ascii: ".")
    }
}
