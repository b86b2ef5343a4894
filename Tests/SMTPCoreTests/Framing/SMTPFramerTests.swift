import NIOCore
import SMTPCore
import Testing

/// Command lines, AUTH lines and mode handling of ``SMTPFramer``.
@Suite struct SMTPFramerTests {
    typealias Kit = FramingTestKit

    struct Fixture: CustomTestStringConvertible, Sendable {
        var name: String
        var input: String
        var policy: BareLineEndingPolicy = .reject
        var maxCommandLineLength = 512
        var maxAuthLineLength = 12_288
        var expected: [Framed]
        var testDescription: String { self.name }

        var configuration: SMTPFramer.Configuration {
            .init(maxCommandLineLength: self.maxCommandLineLength, maxAuthLineLength: self.maxAuthLineLength, bareLineEndings: self.policy)
        }
    }

    static let lineFixtures: [Fixture] = [
        .init(name: "one command", input: "EHLO client.example\r\n", expected: [.line("EHLO client.example")]),
        .init(name: "empty line", input: "\r\n", expected: [.line("")]),
        .init(name: "incomplete line waits", input: "NOOP\r", expected: []),
        .init(
            name: "pipelined commands",
            input: "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nRCPT TO:<c@example.net>\r\nNOOP\r\n",
            expected: [.line("MAIL FROM:<a@example.org>"), .line("RCPT TO:<b@example.net>"), .line("RCPT TO:<c@example.net>"), .line("NOOP")]
        ),
        .init(name: "bare CR stays in the line", input: "NO\rOP\r\n", expected: [.line("NO\rOP")]),
        .init(name: "CR CR LF keeps one CR", input: "NOOP\r\r\n", expected: [.line("NOOP\r")]),
        .init(name: "line at the limit", input: "12345678\r\nNOOP\r\n", maxCommandLineLength: 10, expected: [.line("12345678"), .line("NOOP")]),
        .init(name: "line one over the limit", input: "123456789\r\nNOOP\r\n", maxCommandLineLength: 10, expected: [.lineTooLong, .line("NOOP")]),
        .init(
            name: "much too long line, then the next line",
            input: String(repeating: "x", count: 45) + "\r\nQUIT\r\n",
            maxCommandLineLength: 10,
            expected: [.lineTooLong, .line("QUIT")]
        ),
        .init(
            name: "two long lines in a row",
            input: String(repeating: "x", count: 12) + "\n" + String(repeating: "y", count: 30) + "\r\nQUIT\r\n",
            maxCommandLineLength: 10,
            expected: [.lineTooLong, .lineTooLong, .line("QUIT")]
        ),
        .init(name: "bare LF rejected", input: "NOOP\nQUIT\r\n", expected: [.bareLineEnding, .line("QUIT")]),
        .init(name: "bare LF empty line rejected", input: "\nQUIT\r\n", expected: [.bareLineEnding, .line("QUIT")]),
        .init(name: "bare LF accepted", input: "NOOP\nQUIT\r\n", policy: .accept, expected: [.line("NOOP"), .line("QUIT")]),
        .init(name: "bare LF normalized", input: "NOOP\nQUIT\r\n", policy: .normalize, expected: [.line("NOOP"), .line("QUIT")]),
        .init(name: "bare LF line over the limit", input: "1234567890\nNOOP\r\n", policy: .accept, maxCommandLineLength: 10, expected: [.lineTooLong, .line("NOOP")]),
        .init(
            name: "AUTH line may be longer than a command",
            input: "AUTH PLAIN\r\n" + String(repeating: "A", count: 600) + "\r\n" + String(repeating: "B", count: 600) + "\r\nNOOP\r\n",
            expected: [.line("AUTH PLAIN"), .line(String(repeating: "A", count: 600)), .lineTooLong, .line("NOOP")]
        ),
        .init(
            name: "AUTH line over its own limit",
            input: "AUTH LOGIN\r\n" + String(repeating: "A", count: 30) + "\r\nNOOP\r\n",
            maxAuthLineLength: 20,
            expected: [.line("AUTH LOGIN"), .lineTooLong, .line("NOOP")]
        ),
        .init(
            name: "AUTH cancel then commands",
            input: "AUTH LOGIN\r\n*\r\nNOOP\r\n",
            expected: [.line("AUTH LOGIN"), .line("*"), .line("NOOP")]
        ),
        .init(
            name: "AUTH line with bare LF is rejected, then command mode",
            input: "AUTH PLAIN\r\nAAAA\n" + String(repeating: "B", count: 600) + "\r\n",
            expected: [.line("AUTH PLAIN"), .bareLineEnding, .lineTooLong]
        ),
    ]

    @Test(arguments: Self.lineFixtures)
    func commandLines(_ fixture: Fixture) {
        let events = Kit.verifySplits(Kit.bytes(fixture.input), fixture.configuration)
        #expect(events == fixture.expected)
    }

    @Test func overLongLineIsNotBuffered() {
        var framer = SMTPFramer(configuration: .init(maxCommandLineLength: 10))
        var buffer = ByteBuffer(string: "123456789")
        #expect(framer.next(from: &buffer) == nil)
        #expect(buffer.readableBytes == 9)  // may still become a line of 10 with "\n"
        buffer.writeString("0")
        #expect(framer.next(from: &buffer) == nil)
        #expect(buffer.readableBytes == 0)  // 10 bytes without LF: discarded
        buffer.writeString(String(repeating: "z", count: 5000))
        #expect(framer.next(from: &buffer) == nil)
        #expect(buffer.readableBytes == 0)
        buffer.writeString("z\r\nNOOP\r\n")
        #expect(framer.next(from: &buffer) == .lineTooLong)
        #expect(framer.next(from: &buffer) == .line(ByteBuffer(string: "NOOP")))
        #expect(framer.next(from: &buffer) == nil)
    }

    @Test func configurationFromLimits() {
        var limits = SMTPLimits()
        limits.maxCommandLineLength = 1_000
        limits.maxAuthLineLength = 2_000
        limits.maxTextLineLength = 3_000
        let configuration = SMTPFramer.Configuration(limits: limits, bareLineEndings: .normalize)
        #expect(configuration == .init(maxCommandLineLength: 1_000, maxAuthLineLength: 2_000, maxTextLineLength: 3_000, bareLineEndings: .normalize))
        #expect(SMTPFramer.Configuration() == .init(limits: SMTPLimits(), bareLineEndings: .reject))
    }

    /// STARTTLS (RFC 3207 §4): the session resets the framer and drops the unread plaintext.
    @Test func resetAfterStartTLSForgetsEverything() {
        var framer = SMTPFramer(configuration: .init(maxCommandLineLength: 10))
        var buffer = ByteBuffer(string: "STARTTLS\r\nRCPT TO:<x>\r\n")
        #expect(framer.next(from: &buffer) == .line(ByteBuffer(string: "STARTTLS")))
        framer.reset()
        buffer.clear()
        buffer.writeString("EHLO a\r\n")
        #expect(framer.next(from: &buffer) == .line(ByteBuffer(string: "EHLO a")))

        // A reset also ends the discarding of an over-long line and any DATA in progress.
        buffer.writeString(String(repeating: "x", count: 20))
        #expect(framer.next(from: &buffer) == nil)
        framer.reset()
        buffer.writeString("NOOP\r\n")
        #expect(framer.next(from: &buffer) == .line(ByteBuffer(string: "NOOP")))

        framer.expectData()
        buffer.writeString("half a message")
        #expect(framer.next(from: &buffer) == .messageData(ByteBuffer(string: "half a message")))
        framer.reset()
        buffer.writeString(".\r\nQUIT\r\n")
        #expect(framer.next(from: &buffer) == .line(ByteBuffer(string: ".")))
    }

    @Test func expectCommandLeavesAuthMode() {
        var framer = SMTPFramer(configuration: .init(maxCommandLineLength: 10))
        framer.expectAuthLine()
        framer.expectCommand()
        var buffer = ByteBuffer(string: String(repeating: "A", count: 20) + "\r\n")
        #expect(framer.next(from: &buffer) == .lineTooLong)
    }

    @Test func linesAreSlicesWithoutTheLineEnding() {
        var framer = SMTPFramer()
        var buffer = ByteBuffer(string: "RSET\r\nNOOP\r\n")
        guard case .line(let first) = framer.next(from: &buffer) else {
            Issue.record("expected a line")
            return
        }
        #expect(first.readableBytes == 4)
        #expect(buffer.readableBytes == 6)
    }
}
