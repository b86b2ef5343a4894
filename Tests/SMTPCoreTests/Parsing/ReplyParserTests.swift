import NIOCore
import SMTPCore
import Testing

/// Wire bytes of one reply and the value they must parse to.
struct ReplyFixture: Sendable, CustomTestStringConvertible {
    let wire: String
    let expected: Reply

    init(_ wire: String, _ expected: Reply) {
        self.wire = wire
        self.expected = expected
    }

    var testDescription: String { wire.debugDescription }
}

@Suite struct ReplyParserTests {
    static let fixtures: [ReplyFixture] = [
        ReplyFixture("250 OK\r\n", Reply(.ok, nil, "OK")),
        ReplyFixture("250 2.1.0 Sender OK\r\n", Reply(.ok, EnhancedStatusCode(2, 1, 0), "Sender OK")),
        ReplyFixture("550 5.1.1 User unknown\r\n", Reply(.mailboxUnavailable, .badDestinationMailbox, "User unknown")),
        ReplyFixture("451 4.3.0 Try again\r\n", Reply(.localError, .temporarySystemError, "Try again")),
        ReplyFixture("250 5.1.1 class differs\r\n", Reply(.ok, nil, "5.1.1 class differs")),
        ReplyFixture("250 2.1.0.9 not a code\r\n", Reply(.ok, nil, "2.1.0.9 not a code")),
        ReplyFixture("250 2.1.0\r\n", Reply(.ok, EnhancedStatusCode(2, 1, 0), "")),
        ReplyFixture("354 Start mail input; end with <CRLF>.<CRLF>\r\n", Reply(.startMailInput, nil, "Start mail input; end with <CRLF>.<CRLF>")),
        ReplyFixture("334 \r\n", Reply(.authContinue, nil, "")),
        ReplyFixture("250\r\n", Reply(.ok, nil, "")),
        ReplyFixture("220 mx.example.org ESMTP\n", Reply(.serviceReady, nil, "mx.example.org ESMTP")),
        ReplyFixture("250  two spaces\r\n", Reply(.ok, nil, " two spaces")),
        ReplyFixture("250-mx.example.org\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250 SMTPUTF8\r\n",
                     Reply(.ok, nil, lines: ["mx.example.org", "PIPELINING", "SIZE 10240000", "SMTPUTF8"])),
        ReplyFixture("250-mx.example.org\n250-8BITMIME\r\n250 CHUNKING\n",
                     Reply(.ok, nil, lines: ["mx.example.org", "8BITMIME", "CHUNKING"])),
        ReplyFixture("550-5.7.1 first line\r\n550 5.7.1 second line\r\n",
                     Reply(.mailboxUnavailable, .policyRejection, lines: ["first line", "second line"])),
        ReplyFixture("550-5.7.1 first\r\n550 see https://example.org\r\n",
                     Reply(.mailboxUnavailable, .policyRejection, lines: ["first", "see https://example.org"])),
        ReplyFixture("250-\r\n250 done\r\n", Reply(.ok, nil, lines: ["", "done"])),
        ReplyFixture("250-2.0.0\r\n250 2.0.0 done\r\n", Reply(.ok, .ok, lines: ["", "done"])),
    ]

    @Test(arguments: fixtures)
    func parses(_ fixture: ReplyFixture) throws {
        var parser = ReplyParser()
        var buffer = ByteBuffer(string: fixture.wire)
        #expect(try parser.next(from: &buffer) == fixture.expected)
        #expect(buffer.readableBytes == 0)
        #expect(try parser.next(from: &buffer) == nil)
    }

    @Test(arguments: fixtures)
    func parsesAtEverySplitPoint(_ fixture: ReplyFixture) throws {
        let bytes = Array(fixture.wire.utf8)
        for split in 0...bytes.count {
            var parser = ReplyParser()
            var buffer = ByteBuffer(bytes: bytes[..<split])
            if split < bytes.count {
                #expect(try parser.next(from: &buffer) == nil, "split \(split)")
                #expect(buffer.readableBytes == split, "reader index moved at split \(split)")
            }
            buffer.writeBytes(bytes[split...])
            #expect(try parser.next(from: &buffer) == fixture.expected, "split \(split)")
            #expect(buffer.readableBytes == 0)
        }
    }

    @Test(arguments: fixtures)
    func parsesByteByByte(_ fixture: ReplyFixture) throws {
        var parser = ReplyParser()
        var buffer = ByteBuffer()
        var replies: [Reply] = []
        for byte in fixture.wire.utf8 {
            buffer.writeInteger(byte)
            if let reply = try parser.next(from: &buffer) { replies.append(reply) }
        }
        #expect(replies == [fixture.expected])
        #expect(buffer.readableBytes == 0)
    }

    @Test func returnsPipelinedRepliesOneAtATime() throws {
        var parser = ReplyParser()
        var buffer = ByteBuffer(string: "250 2.1.0 OK\r\n250-a\r\n250 b\r\n354 go\r\n221 2.0.0 Bye")
        #expect(try parser.next(from: &buffer) == Reply(.ok, EnhancedStatusCode(2, 1, 0), "OK"))
        #expect(try parser.next(from: &buffer) == Reply(.ok, nil, lines: ["a", "b"]))
        #expect(try parser.next(from: &buffer) == Reply(.startMailInput, nil, "go"))
        #expect(try parser.next(from: &buffer) == nil)
        #expect(buffer.readableBytes == "221 2.0.0 Bye".utf8.count)
        buffer.writeString("\r\n")
        #expect(try parser.next(from: &buffer) == Reply(.closing, EnhancedStatusCode(2, 0, 0), "Bye"))
    }

    @Test func interleavedFeedingOfTwoRepliesMatchesOneShot() throws {
        let wire = Array("250-mx.example.org\r\n250 SIZE 1000\r\n550-5.1.1 no\r\n550 5.1.1 such user\r\n".utf8)
        for split in 0...wire.count {
            var parser = ReplyParser()
            var buffer = ByteBuffer(bytes: wire[..<split])
            var replies: [Reply] = []
            while let reply = try parser.next(from: &buffer) { replies.append(reply) }
            buffer.writeBytes(wire[split...])
            while let reply = try parser.next(from: &buffer) { replies.append(reply) }
            #expect(replies == [Reply(.ok, nil, lines: ["mx.example.org", "SIZE 1000"]),
                                Reply(.mailboxUnavailable, .badDestinationMailbox, lines: ["no", "such user"])], "split \(split)")
        }
    }

    static let roundTrip: [Reply] = [
        .ok, .badSequence, .syntaxError, .closing, .shuttingDown, .localError,
        Reply(.ok, nil, lines: ["mx.example.org", "PIPELINING", "8BITMIME"]),
        Reply(.mailboxUnavailable, .policyRejection, lines: ["Message rejected", "by policy", ""]),
        Reply(.authContinue, nil, "VXNlcm5hbWU6"),
    ]

    @Test(arguments: roundTrip)
    func parsesWhatReplyEncodes(_ reply: Reply) throws {
        var parser = ReplyParser()
        var buffer = ByteBuffer()
        reply.write(into: &buffer)
        #expect(try parser.next(from: &buffer) == reply)
    }

    struct Malformed: Sendable, CustomTestStringConvertible {
        let wire: String
        let error: ReplyParseError
        var testDescription: String { wire.debugDescription }
    }

    static let malformed: [Malformed] = [
        Malformed(wire: "25 OK\r\n", error: .malformed("")),
        Malformed(wire: "ABC OK\r\n", error: .malformed("")),
        Malformed(wire: "250x OK\r\n", error: .malformed("")),
        Malformed(wire: "250:OK\r\n", error: .malformed("")),
        Malformed(wire: "150 too low\r\n", error: .malformed("")),
        Malformed(wire: "650 too high\r\n", error: .malformed("")),
        Malformed(wire: "\r\n", error: .malformed("")),
        Malformed(wire: " 250 OK\r\n", error: .malformed("")),
        Malformed(wire: "250-first\r\nxyz\r\n", error: .malformed("")),
        Malformed(wire: "250-a\r\n251 b\r\n", error: .inconsistentCode),
        Malformed(wire: "250-a\r\n550 b\r\n", error: .inconsistentCode),
        Malformed(wire: "250-a\r\n250-b\r\n451-c\r\n", error: .inconsistentCode),
    ]

    @Test(arguments: malformed)
    func rejectsMalformed(_ fixture: Malformed) {
        var parser = ReplyParser()
        var buffer = ByteBuffer(string: fixture.wire)
        do {
            let reply = try parser.next(from: &buffer)
            Issue.record("parsed as \(String(describing: reply))")
        } catch {
            switch (error, fixture.error) {
            case (.malformed, .malformed): break
            default: #expect(error == fixture.error)
            }
            #expect(buffer.readableBytes == fixture.wire.utf8.count, "reader index must not move on error")
        }
    }

    @Test func lineLengthLimitIsInclusive() throws {
        var parser = ReplyParser(maxLineLength: 10)
        var buffer = ByteBuffer(string: "250 abcdef\r\n")  // 10 octets before CRLF
        #expect(try parser.next(from: &buffer) == Reply(.ok, nil, "abcdef"))
        buffer = ByteBuffer(string: "250 abcdefg\r\n")
        #expect(throws: ReplyParseError.lineTooLong) { try parser.next(from: &buffer) }
    }

    @Test func overlongLineIsRejectedBeforeItsEndArrives() throws {
        var parser = ReplyParser(maxLineLength: 10)
        var buffer = ByteBuffer(string: "250 abcdef\r")  // could still be a 10-octet line
        #expect(try parser.next(from: &buffer) == nil)
        buffer.writeString("x")
        #expect(throws: ReplyParseError.lineTooLong) { try parser.next(from: &buffer) }
    }

    @Test func lineLimitIsInclusive() throws {
        var parser = ReplyParser(maxLines: 3)
        var buffer = ByteBuffer(string: "250-a\r\n250-b\r\n250 c\r\n")
        #expect(try parser.next(from: &buffer) == Reply(.ok, nil, lines: ["a", "b", "c"]))
        buffer = ByteBuffer(string: "250-a\r\n250-b\r\n250-c\r\n")  // a fourth line would follow
        #expect(throws: ReplyParseError.tooManyLines) { try parser.next(from: &buffer) }
    }

    @Test func parserIsReusableAfterAnError() throws {
        var parser = ReplyParser()
        var bad = ByteBuffer(string: "250-a\r\n")
        #expect(try parser.next(from: &bad) == nil)
        bad = ByteBuffer(string: "xyz\r\n")  // a different buffer: earlier state must not leak
        #expect(throws: ReplyParseError.self) { try parser.next(from: &bad) }
        var good = ByteBuffer(string: "220 ready\r\n")
        #expect(try parser.next(from: &good) == Reply(.serviceReady, nil, "ready"))
    }

    @Test func invalidUTF8TextIsReplacedNotRejected() throws {
        var parser = ReplyParser()
        var buffer = ByteBuffer(bytes: Array("550 caf".utf8) + [0xE9] + Array("\r\n".utf8))
        #expect(try parser.next(from: &buffer) == Reply(.mailboxUnavailable, nil, "caf\u{FFFD}"))
    }
}
