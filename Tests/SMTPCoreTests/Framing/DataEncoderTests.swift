import NIOCore
import SMTPCore
import Testing

/// Client-side DATA encoding (RFC 5321 §4.1.1.4, §4.5.2) and its round trip through the framer.
@Suite struct DataEncoderTests {
    typealias Kit = FramingTestKit

    /// Encodes `input` cut at `cuts`, then finishes.
    static func encode(_ input: [UInt8], cuts: [Int] = []) -> [UInt8] {
        var encoder = DataEncoder()
        var out = ByteBuffer()
        var start = 0
        for cut in cuts + [input.count] {
            encoder.encode(ByteBuffer(bytes: input[start..<cut]), into: &out)
            start = cut
        }
        encoder.finish(into: &out)
        return Array(out.readableBytesView)
    }

    struct Fixture: CustomTestStringConvertible, Sendable {
        var input: String
        var wire: String
        var testDescription: String { FramingTestKit.escaped(Array(self.input.utf8)) }
    }

    static let fixtures: [Fixture] = [
        .init(input: "", wire: ".\r\n"),
        .init(input: "a", wire: "a\r\n.\r\n"),
        .init(input: "a\r\n", wire: "a\r\n.\r\n"),
        .init(input: "a\r", wire: "a\r\n.\r\n"),
        .init(input: "a\n", wire: "a\r\n.\r\n"),
        .init(input: "\r\n", wire: "\r\n.\r\n"),
        .init(input: ".", wire: "..\r\n.\r\n"),
        .init(input: ".\r\n", wire: "..\r\n.\r\n"),
        .init(input: "a\r\n.b\r\n..c\r\n", wire: "a\r\n..b\r\n...c\r\n.\r\n"),
        .init(input: "a.b\r\nc.\r\n", wire: "a.b\r\nc.\r\n.\r\n"),
        .init(input: "a\nb", wire: "a\r\nb\r\n.\r\n"),
        .init(input: "a\rb", wire: "a\r\nb\r\n.\r\n"),
        .init(input: "\n.\n", wire: "\r\n..\r\n.\r\n"),
        .init(input: "\r.\r", wire: "\r\n..\r\n.\r\n"),
        .init(input: "a\r\n.\n", wire: "a\r\n..\r\n.\r\n"),
        .init(input: "a\n.\r\n", wire: "a\r\n..\r\n.\r\n"),
        .init(input: "\r\r\n\n\r", wire: "\r\n\r\n\r\n\r\n.\r\n"),
        .init(input: "a\0b", wire: "a\0b\r\n.\r\n"),
    ]

    @Test(arguments: Self.fixtures)
    func encodes(_ fixture: Fixture) {
        let input = Kit.bytes(fixture.input)
        let whole = Self.encode(input)
        #expect(Kit.escaped(whole) == Kit.escaped(Kit.bytes(fixture.wire)))
        #expect(Self.encode(input, cuts: Array(input.indices.dropFirst())) == whole, "byte by byte")
        for cut in input.indices.dropFirst() {
            #expect(Self.encode(input, cuts: [cut]) == whole, "cut at \(cut)")
        }
    }

    @Test func streamingKeepsStateAcrossCalls() {
        var encoder = DataEncoder()
        var out = ByteBuffer()
        encoder.encode(ByteBuffer(string: "a\r"), into: &out)
        encoder.encode(ByteBuffer(string: "\nb\r"), into: &out)
        encoder.encode(ByteBuffer(string: ".c\r\n"), into: &out)
        encoder.encode(ByteBuffer(string: ".d"), into: &out)
        #expect(out == ByteBuffer(string: "a\r\nb\r\n..c\r\n..d"))
        encoder.finish(into: &out)
        #expect(out == ByteBuffer(string: "a\r\nb\r\n..c\r\n..d\r\n.\r\n"))

        // After finish the encoder starts a new message at a line start.
        out.clear()
        encoder.encode(ByteBuffer(string: ".x"), into: &out)
        encoder.finish(into: &out)
        #expect(out == ByteBuffer(string: "..x\r\n.\r\n"))
    }

    @Test func emptyChunksChangeNothing() {
        var encoder = DataEncoder()
        var out = ByteBuffer()
        encoder.encode(ByteBuffer(string: "a\r"), into: &out)
        encoder.encode(ByteBuffer(), into: &out)
        encoder.encode(ByteBuffer(string: "\n"), into: &out)
        encoder.encode(ByteBuffer(), into: &out)
        encoder.finish(into: &out)
        #expect(out == ByteBuffer(string: "a\r\n.\r\n"))
    }

    /// encode → frame gives the input back with bare CR/LF as CRLF (and a final CRLF), under
    /// every policy, with no bare line ending left, for random inputs and random chunkings.
    @Test(arguments: BareLineEndingPolicy.allCases)
    func roundTripThroughFramer(policy: BareLineEndingPolicy) {
        var random = Kit.SplitMix64(seed: 0xE2C0DE + UInt64(policy.rawValue.utf8.count))
        let alphabet = Kit.bytes("\r\n.\r\n.a\0")
        let cr = UInt8(ascii: "\r"), lf = UInt8(ascii: "\n")
        for _ in 0..<2_000 {
            let input = random.bytes(from: alphabet, count: Int.random(in: 0...24, using: &random))
            var normalized: [UInt8] = []
            var index = 0
            while index < input.count {
                switch input[index] {
                case cr:
                    normalized += [cr, lf]
                    if index + 1 < input.count && input[index + 1] == lf { index += 1 }
                case lf:
                    normalized += [cr, lf]
                default:
                    normalized.append(input[index])
                }
                index += 1
            }
            if !normalized.isEmpty && normalized.suffix(2) != [cr, lf] { normalized += [cr, lf] }

            let wire = Self.encode(input, cuts: random.cuts(for: input.count))
            let session = Kit.bytes("DATA\r\n") + wire + Kit.bytes("QUIT\r\n")
            let events = Kit.frame(session, cuts: random.cuts(for: session.count), .init(bareLineEndings: policy))
            let expected: [Framed] = [.line("DATA")] + (normalized.isEmpty ? [] : [.dataBytes(normalized)]) + [
                .end(octets: normalized.count, nul: normalized.contains(0)),
                .line("QUIT"),
            ]
            if events != expected {
                Issue.record("\(Kit.escaped(input)) → \(Kit.escaped(wire)): \(events) != \(expected)")
                return
            }
        }
    }
}
