import NIOCore
import Testing
@testable import MailStore

@Suite struct POP3CommandTests {
    @Test(arguments: [
        ("USER alice@example.org", POP3Command.user("alice@example.org")),
        ("user Alice", .user("Alice")),
        ("PASS secret with  spaces ", .pass("secret with  spaces ")),
        ("STAT", .stat), ("list", .list(nil)), ("LIST 3", .list(3)), ("UIDL", .uidl(nil)), ("UIDL 12", .uidl(12)),
        ("RETR 1", .retr(1)), ("TOP 2 0", .top(2, lines: 0)), ("TOP 2 10", .top(2, lines: 10)), ("DELE 9", .dele(9)),
        ("RSET", .rset), ("NOOP", .noop), ("QUIT", .quit), ("CAPA", .capa), ("STLS", .stls),
        ("AUTH", .auth(mechanism: nil, initialResponse: nil)), ("AUTH plain", .auth(mechanism: "PLAIN", initialResponse: nil)),
        ("AUTH PLAIN AGFsaWNlAHB3", .auth(mechanism: "PLAIN", initialResponse: "AGFsaWNlAHB3")),
    ])
    func parses(line: String, command: POP3Command) {
        #expect(POP3Command.parse(line) == .success(command))
    }

    @Test(arguments: [
        ("", POP3ParseError.empty), ("HELO x", .unknownCommand("HELO")), ("APOP alice 1234", .unknownCommand("APOP")),
        ("RETR", .invalidArguments("RETR")), ("RETR 0", .invalidArguments("RETR")), ("RETR -1", .invalidArguments("RETR")),
        ("RETR +1", .invalidArguments("RETR")), ("RETR 1 2", .invalidArguments("RETR")), ("RETR x", .invalidArguments("RETR")),
        ("RETR 99999999999", .invalidArguments("RETR")), ("TOP 1", .invalidArguments("TOP")), ("LIST 1 2", .invalidArguments("LIST")),
        ("STAT now", .invalidArguments("STAT")), ("USER", .invalidArguments("USER")), ("USER a b", .invalidArguments("USER")),
        ("PASS", .invalidArguments("PASS")), ("DELE  1", .invalidArguments("DELE")), ("\u{1}\u{2}", .unknownCommand("?")),
    ])
    func refuses(line: String, error: POP3ParseError) {
        #expect(POP3Command.parse(line) == .failure(error))
    }
}

@Suite struct POP3LineFramerTests {
    @Test func linesEndInCRLFOrLFAndLongLinesAreSkippedOnce() {
        var framer = POP3LineFramer(maxLineLength: 16)
        var buffer = ByteBuffer(string: "STAT\r\nNOOP\nLIST 1 2 3 4 5 6 7 8 9\r\nQUIT\r\nRE")
        #expect(framer.next(&buffer) == .line("STAT"))
        #expect(framer.next(&buffer) == .line("NOOP"))
        #expect(framer.next(&buffer) == .tooLong)
        #expect(framer.next(&buffer) == .line("QUIT"))
        #expect(framer.next(&buffer) == nil)
        buffer.writeString("TR 1\r\n")
        #expect(framer.next(&buffer) == .line("RETR 1"))
    }

    /// A line that never ends costs at most the limit: reported once, dropped as it arrives.
    @Test func anEndlessLineIsDroppedWhileItArrives() {
        var framer = POP3LineFramer(maxLineLength: 16)
        var buffer = ByteBuffer(string: String(repeating: "A", count: 40))
        #expect(framer.next(&buffer) == .tooLong)
        #expect(buffer.readableBytes == 0)
        buffer.writeString(String(repeating: "B", count: 100))
        #expect(framer.next(&buffer) == nil)
        #expect(buffer.readableBytes == 0)
        buffer.writeString("B\r\nNOOP\r\n")
        #expect(framer.next(&buffer) == .line("NOOP"))
    }
}

@Suite struct POP3MessageEncoderTests {
    static func encode(_ message: String, lines: Int? = nil, split: Int? = nil) -> String {
        var encoder = POP3MessageEncoder(bodyLines: lines)
        var out = ByteBuffer()
        let bytes = Array(message.utf8)
        let cut = split ?? bytes.count
        encoder.encode(ByteBuffer(bytes: bytes[..<cut]), into: &out)
        encoder.encode(ByteBuffer(bytes: bytes[cut...]), into: &out)
        encoder.finish(into: &out)
        return String(buffer: out)
    }

    static let message = "Subject: dots\r\n\r\n.one\r\nline two\r\n..three\r\n.\r\nlast"

    @Test func byteStuffsAndTerminatesInEveryChunking() {
        let expected = "Subject: dots\r\n\r\n..one\r\nline two\r\n...three\r\n..\r\nlast\r\n.\r\n"
        for split in 0...Self.message.utf8.count {
            #expect(Self.encode(Self.message, split: split) == expected, "split at \(split)")
        }
    }

    @Test func topSendsTheHeaderAndNBodyLines() {
        for split in 0...Self.message.utf8.count {
            #expect(Self.encode(Self.message, lines: 0, split: split) == "Subject: dots\r\n\r\n.\r\n", "split at \(split)")
            #expect(Self.encode(Self.message, lines: 2, split: split) == "Subject: dots\r\n\r\n..one\r\nline two\r\n.\r\n", "split at \(split)")
        }
        #expect(Self.encode(Self.message, lines: 100) == Self.encode(Self.message))
    }

    @Test func bareLFBecomesCRLF() {
        #expect(Self.encode("a\nb\r\n") == "a\r\nb\r\n.\r\n")
        #expect(Self.encode("") == ".\r\n")
    }
}
