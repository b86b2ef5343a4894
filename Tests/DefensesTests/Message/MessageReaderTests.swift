import Testing

@testable import Defenses

@Suite("Message header model and streaming reader")
struct MessageReaderTests {
    static let message = Array(
        """
        From Joe Mon Jan  1 00:00:00 2024\r
        Received: from a\r
        \tby b; Mon, 1 Jan 2024 00:00:00 +0000\r
        Subject : obsolete spacing\r
        from: first@example.com\r
        To: x@example.com,\r
          y@example.com\r
        FROM: second@example.com\r
        \r
        body line 1\r
        \r
        body line 3\r

        """.utf8)

    @Test func splitsFieldsKeepingRawBytes() throws {
        var reader = MessageReader()
        let body = try reader.feed(Self.message)
        let header = try #require(reader.header)
        #expect(header.fields.count == 6)
        #expect(header.fields[1].raw == Array("Received: from a\r\n\tby b; Mon, 1 Jan 2024 00:00:00 +0000".utf8))
        #expect(header.fields[2].name == "Subject")
        #expect(header.fields[2].value == "obsolete spacing")
        #expect(header.first(named: "subject")?.value == "obsolete spacing")
        #expect(header.fields[4].value == "x@example.com,  y@example.com")
        #expect(header.fields(named: "From").map(\.value) == ["first@example.com", "second@example.com"])
        // The mbox line is kept but matches no field name.
        #expect(header.fields[0].colonIndex != nil)
        #expect(!header.fields[0].hasName("From"))
        #expect(Array(body) == Array("body line 1\r\n\r\nbody line 3\r\n".utf8))
    }

    @Test func selectorPicksBottomUpThenRunsOut() throws {
        var reader = MessageReader()
        _ = try reader.feed(Self.message)
        var selector = HeaderFieldSelector(try #require(reader.header))
        #expect(selector.next(named: "from")?.field.value == "second@example.com")
        #expect(selector.next(named: "From")?.field.value == "first@example.com")
        #expect(selector.next(named: "from") == nil)
        #expect(selector.next(named: "to")?.index == 4)
        #expect(selector.next(named: "x-missing") == nil)
    }

    @Test func bareLFBecomesCRLFInFields() throws {
        var reader = MessageReader()
        let body = try reader.feed(Array("A: 1\n  2\nB: 3\n\nbody\n".utf8))
        let header = try #require(reader.header)
        #expect(header.fields.map(\.raw) == [Array("A: 1\r\n  2".utf8), Array("B: 3".utf8)])
        #expect(Array(body) == Array("body\n".utf8))
    }

    @Test func messageWithoutBody() throws {
        var reader = MessageReader()
        #expect(try reader.feed(Array("A: 1\r\nB: 2\r\n".utf8)).isEmpty)
        #expect(reader.header == nil)
        #expect(try reader.finish().fields.count == 2)
    }

    /// Every split point of the message into two chunks, and byte-by-byte, gives the same header
    /// and body.
    @Test func everyChunkingGivesTheSameResult() throws {
        var whole = MessageReader()
        let expectedBody = Array(try whole.feed(Self.message))
        let expectedHeader = try whole.finish()
        var splits: [[ArraySlice<UInt8>]] = (0...Self.message.count).map { [Self.message[..<$0], Self.message[$0...]] }
        splits.append(Self.message.indices.map { Self.message[$0..<($0 + 1)] })
        for chunks in splits {
            var reader = MessageReader()
            var body: [UInt8] = []
            for chunk in chunks { body += try reader.feed(chunk) }
            #expect(try reader.finish() == expectedHeader)
            #expect(body == expectedBody)
        }
    }

    @Test func limitsBoundTheHeader() {
        var small = MessageReader(limits: MessageLimits(maxHeaderBytes: 64, maxFieldCount: 10))
        #expect(throws: MessageError.headerTooLarge(limit: 64)) {
            _ = try small.feed(Array(repeating: UInt8(ascii: "a"), count: 65))
        }
        var few = MessageReader(limits: MessageLimits(maxHeaderBytes: 1 << 20, maxFieldCount: 3))
        #expect(throws: MessageError.tooManyFields(limit: 3)) {
            _ = try few.feed(Array("A: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n".utf8))
        }
    }
}
