import NIOCore
import SMTPCore
import Testing

/// An ``SMTPFramer/Event`` in a form that compares and prints well in test failures.
enum Framed: Equatable, CustomStringConvertible {
    case lineBytes([UInt8])
    case lineTooLong
    case bareLineEnding
    case dataBytes([UInt8])
    case end(MessageDataSummary)

    static func line(_ text: String) -> Framed { .lineBytes(Array(text.utf8)) }
    static func data(_ text: String) -> Framed { .dataBytes(Array(text.utf8)) }
    static func end(
        octets: Int,
        bareLF: Bool = false,
        bareCR: Bool = false,
        longLine: Bool = false,
        nul: Bool = false
    ) -> Framed {
        .end(MessageDataSummary(octets: octets, sawBareLF: bareLF, sawBareCR: bareCR, sawLongLine: longLine, sawNUL: nul))
    }

    var description: String {
        switch self {
        case .lineBytes(let bytes): return "line(\(FramingTestKit.escaped(bytes)))"
        case .lineTooLong: return "lineTooLong"
        case .bareLineEnding: return "bareLineEnding"
        case .dataBytes(let bytes): return "data(\(FramingTestKit.escaped(bytes)))"
        case .end(let s):
            return "end(octets: \(s.octets), bareLF: \(s.sawBareLF), bareCR: \(s.sawBareCR), long: \(s.sawLongLine), nul: \(s.sawNUL))"
        }
    }
}

/// A minimal session around the framer, reacting to command lines the way the real session
/// does: `DATA` → ``SMTPFramer/expectData()``, `BDAT n` → text chunk, `BDATBIN n` → binary
/// chunk, `AUTH ...` → one AUTH line, `MAIL ...`/`RSET` → ``SMTPFramer/resetMessage()``.
struct FramerHarness {
    var framer: SMTPFramer
    var buffer = ByteBuffer()
    /// Events with consecutive message data concatenated.
    var events: [Framed] {
        self.recorded + (self.pendingData.isEmpty ? [] : [.dataBytes(self.pendingData)])
    }
    /// How many `.messageData` events there were, and their octets (without holding on to the
    /// buffers: a held slice would make every later write to `buffer` copy its storage).
    private(set) var dataEventCount = 0
    private(set) var dataEventOctets = 0
    private var recorded: [Framed] = []
    private var pendingData: [UInt8] = []

    init(_ configuration: SMTPFramer.Configuration = .init()) {
        self.framer = SMTPFramer(configuration: configuration)
    }

    /// Appends `bytes` to the cumulation buffer and drains every event.
    mutating func feed<Bytes: Sequence>(_ bytes: Bytes) where Bytes.Element == UInt8 {
        self.buffer.writeBytes(bytes)
        self.drain()
    }

    mutating func drain() {
        while let event = self.framer.next(from: &self.buffer) {
            self.record(event)
        }
    }

    private mutating func record(_ event: SMTPFramer.Event) {
        if case .messageData(let data) = event {
            self.dataEventCount += 1
            self.dataEventOctets += data.readableBytes
            self.pendingData += data.readableBytesView
            return
        }
        if !self.pendingData.isEmpty {
            self.recorded.append(.dataBytes(self.pendingData))
            self.pendingData = []
        }
        switch event {
        case .line(let line):
            let bytes = Array(line.readableBytesView)
            self.recorded.append(.lineBytes(bytes))
            self.react(to: String(decoding: bytes, as: UTF8.self))
        case .lineTooLong:
            self.recorded.append(.lineTooLong)
        case .bareLineEnding:
            self.recorded.append(.bareLineEnding)
        case .messageData:
            break  // handled above
        case .messageEnd(let summary):
            self.recorded.append(.end(summary))
        }
    }

    private mutating func react(to line: String) {
        let words = line.split(separator: " ")
        switch words.first?.uppercased() {
        case "DATA":
            self.framer.expectData()
        case "BDAT":
            self.framer.expectChunk(size: Int(words[1])!, binary: false)
        case "BDATBIN":
            self.framer.expectChunk(size: Int(words[1])!, binary: true)
        case "AUTH":
            self.framer.expectAuthLine()
        case "MAIL", "RSET":
            self.framer.resetMessage()
        default:
            break
        }
    }
}

/// Helpers for the framing suites (namespaced: the test target is one module).
enum FramingTestKit {
    /// Bytes as a Swift-like string literal, with CR, LF and NUL visible.
    static func escaped(_ bytes: [UInt8]) -> String {
        var out = "\""
        for byte in bytes {
            switch byte {
            case 0x0D: out += "\\r"
            case 0x0A: out += "\\n"
            case 0x00: out += "\\0"
            case 0x20..<0x7F: out += String(UnicodeScalar(byte))
            default: out += "\\x" + String(byte, radix: 16)
            }
        }
        return out + "\""
    }

    /// The bytes of `text` (UTF-8).
    static func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    /// Frames `input` delivered in pieces cut at `cuts` (ascending offsets).
    static func frame(_ input: [UInt8], cuts: [Int] = [], _ configuration: SMTPFramer.Configuration = .init()) -> [Framed] {
        var harness = FramerHarness(configuration)
        var start = 0
        for cut in cuts + [input.count] {
            harness.feed(input[start..<cut])
            start = cut
        }
        return harness.events
    }

    /// Like NIOTestUtils' `ByteToMessageDecoderVerifier`: frames `input` whole, byte by byte and cut
    /// at every single position, and expects the same events (message data concatenated) each time.
    /// Returns the events of the whole input.
    @discardableResult
    static func verifySplits(
        _ input: [UInt8],
        _ configuration: SMTPFramer.Configuration = .init(),
        sourceLocation: SourceLocation = #_sourceLocation
    ) -> [Framed] {
        let whole = frame(input, configuration)
        let byteByByte = frame(input, cuts: Array(input.indices.dropFirst()), configuration)
        #expect(byteByByte == whole, "byte by byte", sourceLocation: sourceLocation)
        for cut in input.indices.dropFirst() {
            let split = frame(input, cuts: [cut], configuration)
            if split != whole {
                Issue.record("cut at \(cut): \(split) != \(whole)", sourceLocation: sourceLocation)
                break
            }
        }
        return whole
    }

    /// A small deterministic PRNG (SplitMix64) so randomized tests replay identically.
    struct SplitMix64: RandomNumberGenerator {
        var state: UInt64
        init(seed: UInt64) { self.state = seed }
        mutating func next() -> UInt64 {
            self.state &+= 0x9E37_79B9_7F4A_7C15
            var z = self.state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }
}

extension FramingTestKit.SplitMix64 {
    /// Random bytes drawn from `alphabet`, biased towards the interesting ones by repetition.
    mutating func bytes(from alphabet: [UInt8], count: Int) -> [UInt8] {
        (0..<count).map { _ in alphabet.randomElement(using: &self)! }
    }

    /// Ascending random cut offsets inside `0..<count`.
    mutating func cuts(for count: Int) -> [Int] {
        guard count > 1 else { return [] }
        let n = Int.random(in: 0...min(count - 1, 8), using: &self)
        return Set((0..<n).map { _ in Int.random(in: 1..<count, using: &self) }).sorted()
    }
}
