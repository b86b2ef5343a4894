import NIOCore
import SMTPCore
import Testing

/// BDAT framing (RFC 3030 §2): exact octet counts, raw bytes, summaries across chunks.
@Suite struct SMTPFramerChunkTests {
    typealias Kit = FramingTestKit

    /// `BDAT <size>[ LAST]\r\n` followed by the chunk.
    static func bdat(_ chunk: String, last: Bool = false, binary: Bool = false) -> String {
        "\(binary ? "BDATBIN" : "BDAT") \(chunk.utf8.count)\(last ? " LAST" : "")\r\n" + chunk
    }

    struct Fixture: CustomTestStringConvertible, Sendable {
        var name: String
        var input: String
        var maxTextLineLength = 1_000
        var expected: [Framed]
        var testDescription: String { self.name }
    }

    static let fixtures: [Fixture] = [
        .init(name: "size 0", input: "BDAT 0 LAST\r\nQUIT\r\n", expected: [.line("BDAT 0 LAST"), .end(octets: 0), .line("QUIT")]),
        .init(name: "size 0 at the end of input", input: "BDAT 0 LAST\r\n", expected: [.line("BDAT 0 LAST"), .end(octets: 0)]),
        .init(name: "size 1", input: "BDAT 1 LAST\r\nxQUIT\r\n", expected: [.line("BDAT 1 LAST"), .data("x"), .end(octets: 1), .line("QUIT")]),
        .init(
            name: "size n with an end marker and commands inside",
            input: bdat("ab\r\n.\r\nQUIT\r\n", last: true) + "NOOP\r\n",
            expected: [.line("BDAT 13 LAST"), .data("ab\r\n.\r\nQUIT\r\n"), .end(octets: 13), .line("NOOP")]
        ),
        .init(name: "incomplete chunk waits", input: "BDAT 10\r\nabc", expected: [.line("BDAT 10"), .data("abc")]),
        .init(
            name: "several chunks accumulate",
            input: "MAIL FROM:<a@b>\r\n" + bdat("ab\r\n") + bdat("cd\n", last: true) + "QUIT\r\n",
            expected: [
                .line("MAIL FROM:<a@b>"), .line("BDAT 4"), .data("ab\r\n"), .end(octets: 4),
                .line("BDAT 3 LAST"), .data("cd\n"), .end(octets: 7, bareLF: true), .line("QUIT"),
            ]
        ),
        .init(
            name: "CR and LF across the chunk boundary are one CRLF",
            input: bdat("ab\r") + bdat("\ncd\r\n", last: true),
            expected: [
                .line("BDAT 3"), .data("ab\r"), .end(octets: 3, bareCR: true),
                .line("BDAT 5 LAST"), .data("\ncd\r\n"), .end(octets: 8),
            ]
        ),
        .init(
            name: "CR at the end of a chunk, no LF next",
            input: bdat("ab\r") + bdat("x\r\n", last: true),
            expected: [
                .line("BDAT 3"), .data("ab\r"), .end(octets: 3, bareCR: true),
                .line("BDAT 3 LAST"), .data("x\r\n"), .end(octets: 6, bareCR: true),
            ]
        ),
        .init(
            name: "long line across chunks",
            input: bdat("12345") + bdat("678\r\n") + bdat("12345") + bdat("6789\r\n", last: true),
            maxTextLineLength: 10,
            expected: [
                .line("BDAT 5"), .data("12345"), .end(octets: 5),
                .line("BDAT 5"), .data("678\r\n"), .end(octets: 10),
                .line("BDAT 5"), .data("12345"), .end(octets: 15),
                .line("BDAT 6 LAST"), .data("6789\r\n"), .end(octets: 21, longLine: true),
            ]
        ),
        .init(
            name: "NUL and bare line endings in a text chunk",
            input: bdat("a\0\r\nb\rc\n", last: true),
            expected: [.line("BDAT 8 LAST"), .data("a\0\r\nb\rc\n"), .end(octets: 8, bareLF: true, bareCR: true, nul: true)]
        ),
        .init(
            name: "binary chunk: no checks",
            input: bdat("a\0\r\nb\rc\n" + String(repeating: "x", count: 20), last: true, binary: true) + "QUIT\r\n",
            maxTextLineLength: 10,
            expected: [.line("BDATBIN 28 LAST"), .data("a\0\r\nb\rc\n" + String(repeating: "x", count: 20)), .end(octets: 28), .line("QUIT")]
        ),
        .init(
            name: "MAIL starts a new summary",
            input: bdat("a\n", last: true) + "MAIL FROM:<>\r\n" + bdat("b\r\n", last: true),
            expected: [
                .line("BDAT 2 LAST"), .data("a\n"), .end(octets: 2, bareLF: true),
                .line("MAIL FROM:<>"), .line("BDAT 3 LAST"), .data("b\r\n"), .end(octets: 3),
            ]
        ),
        .init(
            name: "chunk bytes are never normalized or unstuffed",
            input: bdat("..x\n", last: true),
            expected: [.line("BDAT 4 LAST"), .data("..x\n"), .end(octets: 4, bareLF: true)]
        ),
    ]

    @Test(arguments: Self.fixtures, [BareLineEndingPolicy.reject, .normalize])
    func chunks(_ fixture: Fixture, policy: BareLineEndingPolicy) {
        let configuration = SMTPFramer.Configuration(maxTextLineLength: fixture.maxTextLineLength, bareLineEndings: policy)
        let events = Kit.verifySplits(Kit.bytes(fixture.input), configuration)
        #expect(events == fixture.expected)
    }

    @Test func sizeZeroEndsWithoutInput() {
        var framer = SMTPFramer()
        framer.expectChunk(size: 0, binary: false)
        var buffer = ByteBuffer()
        #expect(framer.next(from: &buffer) == .messageEnd(MessageDataSummary()))
        #expect(framer.next(from: &buffer) == nil)
    }

    /// The chunk comes out as one slice of the read, and the end follows even without more input.
    @Test func chunkIsOneSliceThenEnd() {
        var framer = SMTPFramer()
        framer.expectChunk(size: 5, binary: false)
        var buffer = ByteBuffer(string: "hello")
        #expect(framer.next(from: &buffer) == .messageData(ByteBuffer(string: "hello")))
        #expect(framer.next(from: &buffer) == .messageEnd(MessageDataSummary(octets: 5)))
    }

    /// Random text chunks: the data is passed on raw and the final summary matches a direct
    /// computation over the whole message.
    @Test func randomChunksMatchWholeMessage() {
        var random = Kit.SplitMix64(seed: 0xBDA7)
        let alphabet = Kit.bytes("\r\n.a\0")
        let cr = UInt8(ascii: "\r"), lf = UInt8(ascii: "\n")
        for _ in 0..<1_000 {
            var input: [UInt8] = []
            var message: [UInt8] = []
            for chunk in 0..<Int.random(in: 1...4, using: &random) {
                let bytes = random.bytes(from: alphabet, count: Int.random(in: 0...8, using: &random))
                input += Kit.bytes("BDAT \(bytes.count)\(chunk == 3 ? " LAST" : "")\r\n") + bytes
                message += bytes
            }
            var expected = MessageDataSummary(octets: message.count)
            var lineLength = 0
            for (index, byte) in message.enumerated() {
                lineLength += 1
                let next: UInt8? = index + 1 < message.count ? message[index + 1] : nil
                let previous: UInt8? = index > 0 ? message[index - 1] : nil
                if byte == cr && next != lf { expected.sawBareCR = true }
                if byte == lf && previous != cr { expected.sawBareLF = true }
                if byte == 0 { expected.sawNUL = true }
                if lineLength > 4 { expected.sawLongLine = true }
                if byte == lf && previous == cr { lineLength = 0 }
            }
            let events = Kit.frame(input, cuts: random.cuts(for: input.count), .init(maxTextLineLength: 4))
            let data = events.reduce(into: [UInt8]()) { if case .dataBytes(let bytes) = $1 { $0 += bytes } }
            guard data == message, case .end(let summary) = events.last, summary == expected else {
                Issue.record("\(Kit.escaped(input)): \(events), expected \(Framed.end(expected))")
                return
            }
        }
    }
}
