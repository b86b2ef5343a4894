import Foundation
import NIOCore
import NIOPosix

/// The message part of a spool entry as an async sequence of ByteBuffers, read with blocking
/// I/O on NIO's thread pool (so a 50 MB message is never in memory at once).
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
            guard let range = ranges.first else { return nil }
            let offset = range.lowerBound
            let length = Swift.min(stream.chunkSize, range.count)
            let path = stream.entry.path
            let start = offset
            let chunk = try await stream.threadPool.runIfActive { () throws -> ByteBuffer in
                guard let handle = FileHandle(forReadingAtPath: path) else {
                    throw SpoolEntry.ParseError.unreadable("cannot open \(path)")
                }
                defer { try? handle.close() }
                try handle.seek(toOffset: UInt64(start))
                let data = try handle.read(upToCount: length) ?? Data()
                guard data.count == length else { throw SpoolEntry.ParseError.unreadable("short read \(path)") }
                return ByteBuffer(bytes: data)
            }
            if length == range.count { ranges.removeFirst() } else { ranges[0] = offset + length..<range.upperBound }
            return chunk
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(stream: self, ranges: entry.messageRanges)
    }
}
