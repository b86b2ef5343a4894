import Foundation
import NIOCore
import NIOPosix
import Testing
@testable import SMTPCore

/// ``SpoolMessageStream`` reads a format-2 entry's two file ranges (prepended fields, stored
/// bytes) in chunks of at most `chunkSize` octets, one job per chunk, nothing lost or repeated.
@Suite struct SpoolMessageStreamTests {
    @Test func splitCoversTheRangesInOrderWithinTheChunkSize() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2_000 {
            var ranges: [Range<Int>] = []
            var at = Int.random(in: 0..<50, using: &generator)
            for _ in 0..<Int.random(in: 1...3, using: &generator) {
                let length = Int.random(in: 1...300, using: &generator)
                ranges.append(at..<at + length)
                at += length + Int.random(in: 0...40, using: &generator)
            }
            let chunkSize = Int.random(in: 1...400, using: &generator)
            var left = ranges
            var covered: [Int] = []
            var chunks = 0
            while !left.isEmpty {
                let (pieces, rest) = SpoolMessageStream.split(left, chunkSize: chunkSize)
                #expect(!pieces.isEmpty)
                #expect(pieces.reduce(0) { $0 + $1.count } <= chunkSize)
                covered += pieces.flatMap { Array($0) }
                left = rest
                chunks += 1
            }
            #expect(covered == ranges.flatMap { Array($0) })
            let total = ranges.reduce(0) { $0 + $1.count }
            #expect(chunks == (total + chunkSize - 1) / chunkSize, "every chunk but the last is full")
        }
    }

    @Test func readJoinsPiecesOfTheFile() throws {
        let path = NSTemporaryDirectory() + "mailnode-stream-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: path) }
        let bytes = (0..<5_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let pieces = [4_000..<4_100, 10..<2_010, 4_999..<5_000]
        var buffer = try SpoolMessageStream.read(pieces, from: path)
        #expect(buffer.readBytes(length: buffer.readableBytes) == pieces.flatMap { Array(bytes[$0]) })
        #expect(throws: SpoolEntry.ParseError.self) { try SpoolMessageStream.read([4_990..<5_010], from: path) }
        #expect(throws: SpoolEntry.ParseError.self) { try SpoolMessageStream.read([0..<1], from: path + "-missing") }
    }
}
