import NIOCore

/// Turns a stored message, chunk by chunk, into the lines of a multi-line POP3 response (RFC
/// 1939 §3): a line starting with `.` gets another `.` in front (byte-stuffing), a bare LF
/// becomes CRLF, and ``finish(into:)`` ends the message with CRLF when needed and `.` CRLF.
/// For TOP the header section passes whole and then only ``bodyLines`` lines of the body.
/// Works on any chunking (state is kept across chunk borders).
struct POP3MessageEncoder: Sendable {
    /// nil: the whole message (RETR); otherwise TOP's line count.
    let bodyLines: Int?
    private var atLineStart = true
    /// The previous octet was CR (a CRLF may be split across chunks).
    private var afterCR = false
    private var inBody = false
    /// The line being copied is empty so far (to find the header section's end).
    private var lineEmpty = true
    private var bodyLinesSent = 0
    /// Nothing more is copied (TOP reached its count).
    private(set) var done = false

    init(bodyLines: Int? = nil) {
        self.bodyLines = bodyLines
    }

    mutating func encode(_ chunk: ByteBuffer, into out: inout ByteBuffer) {
        guard !done else { return }
        out.reserveCapacity(out.writerIndex + chunk.readableBytes + chunk.readableBytes / 64 + 8)
        for byte in chunk.readableBytesView {
            if done { return }
            if atLineStart {
                if inBody, let limit = bodyLines, bodyLinesSent >= limit {
                    done = true
                    return
                }
                if byte == 0x2E { out.writeInteger(UInt8(0x2E)) }
                atLineStart = false
                lineEmpty = true
            }
            switch byte {
            case 0x0A:
                if !afterCR { out.writeInteger(UInt8(0x0D)) }
                out.writeInteger(byte)
                endLine()
            case 0x0D:
                out.writeInteger(byte)
            default:
                lineEmpty = false
                out.writeInteger(byte)
            }
            afterCR = byte == 0x0D
        }
    }

    private mutating func endLine() {
        atLineStart = true
        if inBody {
            bodyLinesSent += 1
        } else if lineEmpty {
            inBody = true   // the empty line ends the header section (RFC 5322 §2.1)
        }
    }

    /// The terminating `.` line, after a CRLF when the message did not end with one.
    mutating func finish(into out: inout ByteBuffer) {
        if !atLineStart { out.writeString(afterCR ? "\n" : "\r\n") }
        out.writeString(".\r\n")
        done = true
    }
}
