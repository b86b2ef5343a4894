import Testing

@testable import Defenses

/// ``MessageReader/feed(_:)`` appends the header a line at a time; these compare it, over random
/// messages in random chunks, with a byte-at-a-time reference written from its contract: the
/// header ends at the first line with no bytes but CRs before its LF, and more than
/// `maxHeaderBytes` header octets are refused.
@Suite struct MessageReaderChunkTests {
    /// The reference: (header bytes handed to the parser, body bytes, refused).
    static func reference(_ message: [UInt8], limit: Int) -> (header: [UInt8], body: [UInt8], refused: Bool) {
        var header: [UInt8] = []
        var lineLength = 0
        for (index, byte) in message.enumerated() {
            if byte == 0x0A {
                if lineLength == 0 {
                    if header.last == 0x0D { header.removeLast() }
                    return (header, Array(message[(index + 1)...]), false)
                }
                lineLength = 0
            } else if byte != 0x0D {
                lineLength += 1
            }
            header.append(byte)
            if header.count > limit { return ([], [], true) }
        }
        if header.last == 0x0D { header.removeLast() }
        return (header, [], false)
    }

    @Test func lineRunsAgreeWithTheByteReference() throws {
        var generator = SystemRandomNumberGenerator()
        let pieces: [[UInt8]] = [Array("Subject: hi".utf8), Array("a: b".utf8), [0x0D], [0x0A], [0x0D, 0x0A], [0x20],
                                 [0x09], Array("X".utf8), [0x0D, 0x0D, 0x0A]]
        var agreed = 0
        for _ in 0..<3_000 {
            var message: [UInt8] = []
            for _ in 0..<Int.random(in: 0...30, using: &generator) { message += pieces.randomElement(using: &generator)! }
            let limit = Int.random(in: 1...200, using: &generator)
            let expected = Self.reference(message, limit: limit)
            var reader = MessageReader(limits: MessageLimits(maxHeaderBytes: limit))
            var body: [UInt8] = []
            var refused = false
            var start = 0
            do {
                while start < message.count {
                    let end = min(message.count, start + Int.random(in: 1...12, using: &generator))
                    body += try reader.feed(message[start..<end])
                    start = end
                }
                _ = try reader.finish()
            } catch MessageError.headerTooLarge {
                refused = true
            } catch {
                // The parser may refuse the header text itself; the reference must then not refuse on size.
                #expect(!expected.refused)
                continue
            }
            #expect(refused == expected.refused, "\(message)")
            guard !refused else { continue }
            #expect(body == expected.body, "\(message)")
            let parsed = try MessageHeader.parse(expected.header, limits: MessageLimits(maxHeaderBytes: limit))
            #expect(reader.header?.fields.map(\.raw) == parsed.fields.map(\.raw), "\(message)")
            agreed += 1
        }
        #expect(agreed > 1_000)
    }
}
