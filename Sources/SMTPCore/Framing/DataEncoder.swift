import NIOCore

/// Client side: turns message bytes into the DATA wire form (RFC 5321 §4.1.1.4, §4.5.2).
///
/// - Every line starting with `.` gets one more `.` (dot-stuffing, RFC 5321 §4.5.2).
/// - Every bare CR and every bare LF becomes CRLF, so that the next server can never see
///   `\n.\n`, `\r.\r` or any other SMTP smuggling end marker in what we relay: after the
///   rewrite the only line breaks on the wire are CRLF, and a `.` after them is stuffed.
///
/// Streaming: state is kept across ``encode(_:into:)`` calls (a CR at the end of one chunk and
/// an LF at the start of the next are one CRLF). Call ``finish(into:)`` once at the end; the
/// encoder is then ready for the next message.
///
/// The output decoded by ``SMTPFramer`` is the input with bare CR/LF rewritten to CRLF and, if
/// the input was not empty and did not end with a line break, a final CRLF.
public struct DataEncoder: Sendable {
    /// The output ends with CRLF (or nothing was written): the next byte starts a line.
    private var atLineStart = true
    /// The last input byte was a CR, already written; its LF is still owed if the next input
    /// byte is not one.
    private var pendingCR = false

    public init() {}

    /// Dot-stuffs (RFC 5321 §4.5.2) and turns every bare CR or bare LF into CRLF so that a
    /// downstream server can never see `\n.\n` etc.; streaming: state is kept across calls.
    public mutating func encode(_ chunk: ByteBuffer, into out: inout ByteBuffer) {
        let view = chunk.readableBytesView
        let end = view.endIndex
        var position = view.startIndex
        while position < end {
            if self.pendingCR {
                self.pendingCR = false
                self.atLineStart = true
                if view[position] == Byte.lf {
                    out.writeInteger(Byte.lf)
                    position += 1
                    continue
                }
                out.writeInteger(Byte.lf)  // a bare CR becomes CRLF
            }
            if self.atLineStart && view[position] == Byte.dot {
                out.writeInteger(Byte.dot)  // RFC 5321 §4.5.2: stuff the line-start dot
            }
            let stop = view[position..<end].firstIndex(where: { $0 == Byte.cr || $0 == Byte.lf }) ?? end
            if stop > position {
                out.writeBytes(view[position..<stop])
                self.atLineStart = false
            }
            position = stop
            guard position < end else { break }
            if view[position] == Byte.cr {
                out.writeInteger(Byte.cr)
                self.pendingCR = true
                self.atLineStart = false
            } else {
                out.writeInteger(Byte.cr)  // a bare LF becomes CRLF
                out.writeInteger(Byte.lf)
                self.atLineStart = true
            }
            position += 1
        }
    }

    /// Writes the terminator: CRLF if the data did not end with CRLF, then `.\r\n`
    /// (RFC 5321 §4.1.1.4). Empty data gives just `.\r\n` (an empty message).
    public mutating func finish(into out: inout ByteBuffer) {
        if self.pendingCR {
            out.writeInteger(Byte.lf)
        } else if !self.atLineStart {
            out.writeStaticString("\r\n")
        }
        out.writeStaticString(".\r\n")
        self = DataEncoder()
    }
}

extension DataEncoder {
    private enum Byte {
        static let cr = UInt8(ascii: "\r")
        static let lf = UInt8(ascii: "\n")
        static let dot = UInt8(ascii: ".")
    }
}
