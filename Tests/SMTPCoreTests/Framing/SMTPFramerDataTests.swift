import NIOCore
import SMTPCore
import Testing

/// DATA framing: end of data, dot-unstuffing, SMTP smuggling, summary flags
/// (RFC 5321 §4.1.1.4, §4.5.2).
@Suite struct SMTPFramerDataTests {
    typealias Kit = FramingTestKit

    struct Fixture: CustomTestStringConvertible, Sendable {
        var name: String
        /// Everything after `DATA\r\n`.
        var data: String
        var policy: BareLineEndingPolicy = .reject
        var maxTextLineLength = 1_000
        /// Events after `.line("DATA")`.
        var expected: [Framed]
        var testDescription: String { self.name }
    }

    static let fixtures: [Fixture] = [
        .init(name: "empty message", data: ".\r\nQUIT\r\n", expected: [.end(octets: 0), .line("QUIT")]),
        .init(name: "one line", data: "hello\r\n.\r\nQUIT\r\n", expected: [.data("hello\r\n"), .end(octets: 7), .line("QUIT")]),
        .init(name: "empty lines", data: "\r\n\r\n.\r\n", expected: [.data("\r\n\r\n"), .end(octets: 4)]),
        .init(
            name: "dot-stuffed lines lose one dot",
            data: "..\r\n...x\r\n.y\r\nb.c\r\n.\r\n",
            expected: [.data(".\r\n..x\r\ny\r\nb.c\r\n"), .end(octets: 16)]
        ),
        .init(name: "stuffed first line", data: ".a\r\n.\r\n", expected: [.data("a\r\n"), .end(octets: 3)]),
        .init(name: "dot only line stuffed", data: "a\r\n..\r\n.\r\n", expected: [.data("a\r\n.\r\n"), .end(octets: 6)]),
        .init(name: "dots inside lines stay", data: "a.\r\n.\r.\r\n.\r\n", expected: [.data("a.\r\n\r.\r\n"), .end(octets: 8, bareCR: true)]),
        .init(name: "no end marker yet", data: "hello\r\nworld\r\n", expected: [.data("hello\r\nworld\r\n")]),
        .init(name: "last line without CRLF never ends", data: "hello.\r\n", expected: [.data("hello.\r\n")]),
        .init(name: "held back dot", data: "hello\r\n.", expected: [.data("hello\r\n")]),
        .init(name: "held back dot CR", data: "hello\r\n.\r", expected: [.data("hello\r\n")]),
        .init(
            name: "pipelined commands after the end",
            data: "x\r\n.\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\n",
            expected: [.data("x\r\n"), .end(octets: 3), .line("MAIL FROM:<a@b>"), .line("RCPT TO:<c@d>")]
        ),
        .init(
            name: "two messages",
            data: "one\r\n.\r\nMAIL FROM:<>\r\nDATA\r\ntwo\n\r\n.\r\n",
            expected: [.data("one\r\n"), .end(octets: 5), .line("MAIL FROM:<>"), .line("DATA"), .data("two\n\r\n"), .end(octets: 6, bareLF: true)]
        ),
        // Summary flags.
        .init(name: "NUL is recorded and passed on", data: "a\0b\r\n\0\r\n.\r\n", expected: [.data("a\0b\r\n\0\r\n"), .end(octets: 8, nul: true)]),
        .init(name: "line at the text limit", data: "12345678\r\n.\r\n", maxTextLineLength: 10, expected: [.data("12345678\r\n"), .end(octets: 10)]),
        .init(
            name: "line over the text limit",
            data: "123456789\r\nok\r\n.\r\n",
            maxTextLineLength: 10,
            expected: [.data("123456789\r\nok\r\n"), .end(octets: 15, longLine: true)]
        ),
        .init(
            name: "stuffing dot does not count (RFC 5321 §4.5.3.1.6)",
            data: "..2345678\r\n.\r\n",
            maxTextLineLength: 10,
            expected: [.data(".2345678\r\n"), .end(octets: 10)]
        ),
        .init(
            name: "bare LF does not end a line under accept",
            data: "12345\n12\r\n.\r\n",
            policy: .accept,
            maxTextLineLength: 10,
            expected: [.data("12345\n12\r\n"), .end(octets: 10, bareLF: true)]
        ),
        .init(
            name: "bare LF is one line too many under accept",
            data: "12345\n123\r\n.\r\n",
            policy: .accept,
            maxTextLineLength: 10,
            expected: [.data("12345\n123\r\n"), .end(octets: 11, bareLF: true, longLine: true)]
        ),
        .init(
            name: "normalized bare LF ends the line",
            data: "12345678\n12345678\r\n.\r\n",
            policy: .normalize,
            maxTextLineLength: 10,
            expected: [.data("12345678\r\n12345678\r\n"), .end(octets: 20, bareLF: true)]
        ),
        .init(
            name: "normalized bare CR ends the line",
            data: "12345678\r12345678\r\n.\r\n",
            policy: .normalize,
            maxTextLineLength: 10,
            expected: [.data("12345678\r\n12345678\r\n"), .end(octets: 20, bareCR: true)]
        ),
        .init(
            name: "normalize: CR CR LF",
            data: "a\r\r\nb\r\n.\r\n",
            policy: .normalize,
            expected: [.data("a\r\n\r\nb\r\n"), .end(octets: 8, bareCR: true)]
        ),
        .init(
            name: "normalize: LF LF and CR CR",
            data: "\n\n\r\rx\r\n.\r\n",
            policy: .normalize,
            expected: [.data("\r\n\r\n\r\n\r\nx\r\n"), .end(octets: 11, bareLF: true, bareCR: true)]
        ),
        .init(
            name: "normalize: clean data is untouched",
            data: "a\r\n..b\r\n.\r\n",
            policy: .normalize,
            expected: [.data("a\r\n.b\r\n"), .end(octets: 7)]
        ),
        .init(
            name: "reject passes bare line endings unchanged",
            data: "a\nb\rc\r\n.\r\n",
            expected: [.data("a\nb\rc\r\n"), .end(octets: 7, bareLF: true, bareCR: true)]
        ),
        .init(
            name: "data starting with a bare LF dot",
            data: ".\n.\r\nQUIT\r\n",
            expected: [.data("\n.\r\nQUIT\r\n")]
        ),
        .init(
            name: "data starting with dot CR",
            data: ".\rX\r\n.\r\n",
            expected: [.data("\rX\r\n"), .end(octets: 4, bareCR: true)]
        ),
    ]

    @Test(arguments: Self.fixtures)
    func data(_ fixture: Fixture) {
        let configuration = SMTPFramer.Configuration(maxTextLineLength: fixture.maxTextLineLength, bareLineEndings: fixture.policy)
        let events = Kit.verifySplits(Kit.bytes("DATA\r\n" + fixture.data), configuration)
        #expect(events == [.line("DATA")] + fixture.expected)
    }

    // MARK: - SMTP smuggling

    struct Smuggling: CustomTestStringConvertible, Sendable {
        /// The would-be end marker, placed between `a` and `b`.
        var marker: String
        /// Message data under `.reject` and `.accept`.
        var passedOn: String
        /// Message data under `.normalize`.
        var normalized: String
        var bareLF = false
        var bareCR = false
        var testDescription: String { FramingTestKit.escaped(Array(self.marker.utf8)) }
    }

    static let smuggling: [Smuggling] = [
        .init(marker: "\n.\n", passedOn: "a\n.\nb\r\n", normalized: "a\r\n.\r\nb\r\n", bareLF: true),
        .init(marker: "\r.\r", passedOn: "a\r.\rb\r\n", normalized: "a\r\n.\r\nb\r\n", bareCR: true),
        .init(marker: "\r\n.\n", passedOn: "a\r\n\nb\r\n", normalized: "a\r\n\r\nb\r\n", bareLF: true),
        .init(marker: "\n.\r\n", passedOn: "a\n.\r\nb\r\n", normalized: "a\r\n.\r\nb\r\n", bareLF: true),
        .init(marker: "\r.\r\n", passedOn: "a\r.\r\nb\r\n", normalized: "a\r\n.\r\nb\r\n", bareCR: true),
        .init(marker: "\r\n.\r", passedOn: "a\r\n\rb\r\n", normalized: "a\r\n\r\nb\r\n", bareCR: true),
        .init(marker: "\n.\n.\r\n", passedOn: "a\n.\n.\r\nb\r\n", normalized: "a\r\n.\r\n.\r\nb\r\n", bareLF: true),
        .init(marker: "\r\n\n.\r\n", passedOn: "a\r\n\n.\r\nb\r\n", normalized: "a\r\n\r\n.\r\nb\r\n", bareLF: true),
        .init(marker: "\r\r\n.\r", passedOn: "a\r\r\n\rb\r\n", normalized: "a\r\n\r\n\r\nb\r\n", bareCR: true),
    ]

    /// None of the markers ends the data; the real end afterwards does, and what follows it is
    /// the next command line.
    @Test(arguments: Self.smuggling, BareLineEndingPolicy.allCases)
    func smugglingMarkerNeverEndsData(_ fixture: Smuggling, policy: BareLineEndingPolicy) {
        let input = "DATA\r\na" + fixture.marker + "b\r\n.\r\nMAIL FROM:<evil@example.com>\r\n"
        let events = Kit.verifySplits(Kit.bytes(input), .init(bareLineEndings: policy))
        let data = policy == .normalize ? fixture.normalized : fixture.passedOn
        #expect(events == [
            .line("DATA"),
            .data(data),
            .end(octets: data.utf8.count, bareLF: fixture.bareLF, bareCR: fixture.bareCR),
            .line("MAIL FROM:<evil@example.com>"),
        ])
    }

    /// The classic smuggling payload: the smuggled "commands" stay message content.
    @Test(arguments: BareLineEndingPolicy.allCases)
    func smuggledTransactionStaysInTheMessage(policy: BareLineEndingPolicy) {
        let smuggled = "Subject: hi\r\n\r\nhello\n.\nMAIL FROM:<admin@example.com>\nRCPT TO:<victim@example.org>\nDATA\n"
        let events = Kit.verifySplits(Kit.bytes("DATA\r\n" + smuggled), .init(bareLineEndings: policy))
        #expect(events.count == 2)
        #expect(!events.contains { if case .end = $0 { true } else { false } })
        #expect(!events.contains(.line("MAIL FROM:<admin@example.com>")))
    }

    // MARK: - Streaming

    /// Bytes that may belong to `CRLF.CRLF` stay in the buffer until they are decided.
    @Test func holdsBackOnlyPossibleEndMarker() {
        var framer = SMTPFramer()
        framer.expectData()
        var buffer = ByteBuffer(string: "ab\r\n.")
        #expect(framer.next(from: &buffer) == .messageData(ByteBuffer(string: "ab\r\n")))
        #expect(framer.next(from: &buffer) == nil)
        #expect(buffer.readableBytes == 1)
        buffer.writeString("\r")
        #expect(framer.next(from: &buffer) == nil)
        #expect(buffer.readableBytes == 2)
        buffer.writeString("\n")
        #expect(framer.next(from: &buffer) == .messageEnd(MessageDataSummary(octets: 4)))
        #expect(buffer.readableBytes == 0)
    }

    /// A plain message in one buffer comes out as one slice, not byte by byte.
    @Test(arguments: BareLineEndingPolicy.allCases)
    func plainMessageIsOneSlice(policy: BareLineEndingPolicy) {
        var harness = FramerHarness(.init(bareLineEndings: policy))
        let body = String(repeating: "Lorem ipsum dolor sit amet.\r\n", count: 1_000)
        harness.feed(Kit.bytes("DATA\r\n" + body + ".\r\n"))
        #expect(harness.dataEventCount == 1)
        #expect(harness.events == [.line("DATA"), .data(body), .end(octets: body.utf8.count)])
    }

    /// Stuffed lines cut the slices without copying; normalization copies, in few events.
    @Test func fewEventsForStuffingAndNormalization() {
        var stuffed = FramerHarness()
        stuffed.feed(Kit.bytes("DATA\r\n" + String(repeating: "a\r\n..b\r\n", count: 100) + ".\r\n"))
        #expect(stuffed.dataEventCount == 101)  // a run before each stuffed line, and the last

        var normalized = FramerHarness(.init(bareLineEndings: .normalize))
        normalized.feed(Kit.bytes("DATA\r\n" + String(repeating: "unix line\n", count: 1_000) + "\r\n.\r\n"))
        #expect(normalized.dataEventCount == 1)
        #expect(normalized.events.last == .end(octets: 11_002, bareLF: true))

        // 1 MB of Unix line endings in 64 KiB reads: one rewritten event per read.
        var unix = FramerHarness(.init(bareLineEndings: .normalize))
        unix.feed(Kit.bytes("DATA\r\n"))
        let read = Kit.bytes(String(repeating: String(repeating: "u", count: 63) + "\n", count: 1_024))
        for _ in 0..<16 { unix.feed(read) }
        unix.feed(Kit.bytes("\r\n.\r\n"))
        #expect(unix.dataEventCount == 17)
        #expect(unix.events.last == .end(octets: 16 * 1_024 * 65 + 2, bareLF: true))
    }

    /// A 10 MB message in 64 KiB reads: the octets add up, the end is found once.
    @Test func tenMegabyteMessage() {
        var harness = FramerHarness()
        harness.feed(Kit.bytes("DATA\r\n"))
        let line = Kit.bytes(String(repeating: "x", count: 76) + "\r\n")
        let stuffedLine = Kit.bytes("." + String(repeating: "y", count: 75) + "\r\n")
        var read: [UInt8] = []
        var expectedOctets = 0
        var lines = 0
        while expectedOctets < 10 * 1024 * 1024 {
            if lines % 10 == 9 {
                read += [UInt8(ascii: ".")] + stuffedLine
            } else {
                read += line
            }
            expectedOctets += 78
            lines += 1
            if read.count >= 65_536 {
                harness.feed(read)
                read.removeAll(keepingCapacity: true)
            }
        }
        harness.feed(read + Kit.bytes(".\r\nQUIT\r\n"))

        #expect(harness.dataEventOctets == expectedOctets)
        #expect(harness.events.count == 4)
        #expect(harness.events.last == .line("QUIT"))
        guard case .end(let summary) = harness.events[2] else {
            Issue.record("no end of data: \(harness.events.count) events")
            return
        }
        #expect(summary == MessageDataSummary(octets: expectedOctets))
    }

    // MARK: - Against a reference model

    /// Random data from the dangerous alphabet, in random reads, under each policy, matches a
    /// byte-at-a-time reference implementation of RFC 5321 §4.1.1.4 / §4.5.2.
    @Test(arguments: BareLineEndingPolicy.allCases)
    func matchesReferenceModel(policy: BareLineEndingPolicy) {
        var random = Kit.SplitMix64(seed: 0x5EED_0000 + UInt64(policy.rawValue.utf8.count))
        let alphabet = Kit.bytes("\r\n.\r\n.a\0")
        let configuration = SMTPFramer.Configuration(maxTextLineLength: 6, bareLineEndings: policy)
        for _ in 0..<2_000 {
            let body = random.bytes(from: alphabet, count: Int.random(in: 0...24, using: &random))
            // Guarantee an end: a real CRLF, then the end marker, then a command.
            let input = Kit.bytes("DATA\r\n") + body + Kit.bytes("\r\n.\r\nQUIT\r\n")
            let expected = [.line("DATA")] + Self.reference(body + Kit.bytes("\r\n.\r\nQUIT\r\n"), configuration)
            let events = Kit.frame(input, cuts: random.cuts(for: input.count), configuration)
            if events != expected {
                Issue.record("\(Kit.escaped(body)): \(events) != \(expected)")
                return
            }
        }
    }

    /// The rules, one byte at a time, with unlimited look-ahead: returns the data and end events,
    /// then the command lines after the end (no limits, no mode changes).
    static func reference(_ input: [UInt8], _ configuration: SMTPFramer.Configuration) -> [Framed] {
        let cr = UInt8(ascii: "\r"), lf = UInt8(ascii: "\n"), dot = UInt8(ascii: ".")
        let normalize = configuration.bareLineEndings == .normalize
        var out: [UInt8] = []
        var summary = MessageDataSummary()
        var atLineStart = true
        var index = 0
        var endIndex: Int? = nil
        while index < input.count {
            let byte = input[index]
            if atLineStart && byte == dot {
                if index + 2 < input.count && input[index + 1] == cr && input[index + 2] == lf {
                    endIndex = index + 3
                    break
                }
                atLineStart = false
                index += 1
                continue
            }
            atLineStart = false
            if byte == cr && index + 1 < input.count && input[index + 1] == lf {
                out += [cr, lf]
                atLineStart = true
                index += 2
                continue
            }
            if byte == cr {
                summary.sawBareCR = true
                out += normalize ? [cr, lf] : [cr]
            } else if byte == lf {
                summary.sawBareLF = true
                out += normalize ? [cr, lf] : [lf]
            } else {
                summary.sawNUL = summary.sawNUL || byte == 0
                out.append(byte)
            }
            index += 1
        }
        // Line lengths, CRLF included, over the output: CRLF in the output is a line end.
        var lineStart = 0
        var position = 0
        while position < out.count {
            if out[position] == cr && position + 1 < out.count && out[position + 1] == lf {
                if position + 2 - lineStart > configuration.maxTextLineLength { summary.sawLongLine = true }
                position += 2
                lineStart = position
            } else {
                position += 1
            }
        }
        if out.count - lineStart > configuration.maxTextLineLength { summary.sawLongLine = true }
        summary.octets = out.count

        var events: [Framed] = out.isEmpty ? [] : [.dataBytes(out)]
        guard let endIndex else { return events }
        events.append(.end(summary))
        let rest = input[endIndex...]
        for line in rest.split(separator: lf, omittingEmptySubsequences: false).dropLast() {
            if line.last == cr {
                events.append(.lineBytes(Array(line.dropLast())))
            } else if configuration.bareLineEndings == .reject {
                events.append(.bareLineEnding)
            } else {
                events.append(.lineBytes(Array(line)))
            }
        }
        return events
    }
}
