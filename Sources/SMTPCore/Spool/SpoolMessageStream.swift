#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore
import NIOPosix

/// The message part of a spool entry as an async sequence of ByteBuffers, read with blocking
/// I/O on NIO's thread pool (so a 50 MB message is never in memory at once).
///
/// Each chunk is one thread-pool job with one `open` and a `pread` per file range: an entry with
/// prepended fields (format 2) is two ranges, and a small message comes out as one chunk holding
/// both, not as one job per range.
public struct SpoolMessageStream: AsyncSequence, Sendable {
    public typealias Element = ByteBuffer
    let entry: SpoolEntry
    let chunkSize: Int
    let threadPool: NIOThreadPool

    public struct AsyncIterator: AsyncIteratorProtocol {
        let stream: SpoolMessageStream
        /// The file ranges still to read (prepended fields first, then the stored bytes).
        var ranges: [Range<Int>]

        public mutating func next() async throws -> ByteBuffer? {
            guard !ranges.isEmpty else { return nil }
            let (pieces, rest) = SpoolMessageStream.split(ranges, chunkSize: stream.chunkSize)
            let path = stream.entry.path
            let chunk = try await stream.threadPool.runIfActive { try SpoolMessageStream.read(pieces, from: path) }
            ranges = rest
            return chunk
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(stream: self, ranges: entry.messageRanges)   // never an empty range
    }

    /// The file ranges of the next chunk (at most `chunkSize` octets, at least one) and what is
    /// left after them.
    static func split(_ ranges: [Range<Int>], chunkSize: Int) -> (pieces: [Range<Int>], rest: [Range<Int>]) {
        var pieces: [Range<Int>] = []
        var rest = ranges[...]
        var room = Swift.max(chunkSize, 1)
        while room > 0, let range = rest.first {
            let length = Swift.min(room, range.count)
            pieces.append(range.lowerBound..<range.lowerBound + length)
            room -= length
            if length == range.count {
                rest.removeFirst()
            } else {
                rest[rest.startIndex] = range.lowerBound + length..<range.upperBound
            }
        }
        return (pieces, Array(rest))
    }

    /// The bytes of `pieces` of the file at `path`, in order, in one buffer (blocking).
    static func read(_ pieces: [Range<Int>], from path: String) throws -> ByteBuffer {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw SpoolEntry.ParseError.unreadable("cannot open \(path)") }
        defer { close(fd) }
        var buffer = ByteBufferAllocator().buffer(capacity: pieces.reduce(0) { $0 + $1.count })
        for piece in pieces {
            var offset = piece.lowerBound
            while offset < piece.upperBound {
                let want = piece.upperBound - offset
                var got = 0
                buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: want) { bytes in
                    got = pread(fd, bytes.baseAddress, want, off_t(offset))
                    return Swift.max(got, 0)
                }
                if got < 0 {
                    if errno == EINTR { continue }
                    throw SpoolEntry.ParseError.unreadable("cannot read \(path): errno \(errno)")
                }
                guard got > 0 else { throw SpoolEntry.ParseError.unreadable("short read \(path)") }
                offset += got
            }
        }
        return buffer
    }
}
