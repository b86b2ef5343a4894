import NIOCore

/// Cuts client input into command lines. A line ends in CRLF (a bare LF is taken too: it cannot
/// smuggle anything into a command stream). A line longer than ``maxLineLength`` octets is
/// skipped up to its end and reported once as ``Frame/tooLong``, so one bad line costs one
/// `-ERR`, never the connection, and never more memory than the limit.
struct POP3LineFramer: Sendable {
    enum Frame: Sendable, Hashable {
        case line(String)
        case tooLong
    }

    /// Octets of one line including CRLF. RFC 2449 §4 limits commands to 255; SASL responses
    /// (RFC 5034 §4) may be longer.
    let maxLineLength: Int
    /// Dropping the rest of an over-long line.
    private var discarding = false

    init(maxLineLength: Int) {
        self.maxLineLength = maxLineLength
    }

    /// The next frame from `buffer` (consumed), or nil when more bytes are needed.
    mutating func next(_ buffer: inout ByteBuffer) -> Frame? {
        while true {
            let view = buffer.readableBytesView
            guard let newline = view.firstIndex(of: 0x0A) else {
                if discarding {
                    buffer.moveReaderIndex(forwardBy: view.count)
                } else if view.count > maxLineLength {
                    buffer.moveReaderIndex(forwardBy: view.count)
                    discarding = true
                    return .tooLong
                }
                return nil
            }
            let length = newline - view.startIndex + 1
            if discarding {
                buffer.moveReaderIndex(forwardBy: length)
                discarding = false
                continue
            }
            guard length <= maxLineLength else {
                buffer.moveReaderIndex(forwardBy: length)
                return .tooLong
            }
            var end = newline
            if end > view.startIndex, view[end - 1] == 0x0D { end -= 1 }
            let text = String(decoding: view[view.startIndex..<end], as: UTF8.self)
            buffer.moveReaderIndex(forwardBy: length)
            return .line(text)
        }
    }
}
