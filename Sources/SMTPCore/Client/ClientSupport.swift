import NIOCore

/// Base64 (RFC 4648 §4) for SASL responses (RFC 4954 §4); the client only encodes.
enum ClientBase64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    static func encode<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        let input = Array(bytes)
        var out: [UInt8] = []
        out.reserveCapacity((input.count + 2) / 3 * 4)
        var index = 0
        while index + 2 < input.count {
            let n = UInt32(input[index]) << 16 | UInt32(input[index + 1]) << 8 | UInt32(input[index + 2])
            out += [alphabet[Int(n >> 18 & 63)], alphabet[Int(n >> 12 & 63)],
                    alphabet[Int(n >> 6 & 63)], alphabet[Int(n & 63)]]
            index += 3
        }
        let rest = input.count - index
        if rest == 1 {
            let n = UInt32(input[index]) << 16
            out += [alphabet[Int(n >> 18 & 63)], alphabet[Int(n >> 12 & 63)], UInt8(ascii: "="), UInt8(ascii: "=")]
        } else if rest == 2 {
            let n = UInt32(input[index]) << 16 | UInt32(input[index + 1]) << 8
            out += [alphabet[Int(n >> 18 & 63)], alphabet[Int(n >> 12 & 63)], alphabet[Int(n >> 6 & 63)], UInt8(ascii: "=")]
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// Turns bare CR and bare LF into CRLF, streaming across chunks (for BDAT, which has no
/// dot-stuffing but should still carry canonical line endings, RFC 3030 §3 / RFC 5321 §2.3.8).
struct ClientLineEndingNormalizer {
    private var pendingCR = false

    init() {}

    mutating func normalize(_ chunk: ByteBuffer, into out: inout ByteBuffer) {
        let cr = UInt8(ascii: "\r"), lf = UInt8(ascii: "\n")
        chunk.withUnsafeReadableBytes { bytes in
            var runStart = 0
            var index = 0
            if pendingCR, !bytes.isEmpty {
                pendingCR = false
                out.writeBytes([cr, lf])
                if bytes[0] == lf { index = 1 }
                runStart = index
            }
            while index < bytes.count {
                let byte = bytes[index]
                if byte == cr || byte == lf {
                    out.writeBytes(UnsafeRawBufferPointer(rebasing: bytes[runStart..<index]))
                    if byte == lf {
                        out.writeBytes([cr, lf])
                        index += 1
                    } else if index + 1 < bytes.count {
                        out.writeBytes([cr, lf])
                        index += bytes[index + 1] == lf ? 2 : 1
                    } else {
                        pendingCR = true
                        index += 1
                    }
                    runStart = index
                } else {
                    index += 1
                }
            }
            out.writeBytes(UnsafeRawBufferPointer(rebasing: bytes[runStart..<bytes.count]))
        }
    }

    mutating func finish(into out: inout ByteBuffer) {
        if pendingCR {
            pendingCR = false
            out.writeBytes([UInt8(ascii: "\r"), UInt8(ascii: "\n")])
        }
    }
}

/// A whole message in memory, offered as a sequence of slices (no copy) so it travels the
/// same path as a streamed one.
public struct SingleBufferMessage: AsyncSequence, Sendable {
    public typealias Element = ByteBuffer

    public let buffer: ByteBuffer
    public let sliceSize: Int

    public init(_ buffer: ByteBuffer, sliceSize: Int = 64 * 1024) {
        self.buffer = buffer
        self.sliceSize = Swift.max(1, sliceSize)
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        var remaining: ByteBuffer
        let sliceSize: Int

        public mutating func next() async -> ByteBuffer? {
            guard remaining.readableBytes > 0 else { return nil }
            return remaining.readSlice(length: Swift.min(sliceSize, remaining.readableBytes))
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(remaining: buffer, sliceSize: sliceSize)
    }
}
