import Testing

@testable import Defenses

/// The wire pieces handled in Swift, without ldns and without a server.
@Suite("DNS wire format")
struct DNSWireTests {
    // MARK: - Names

    @Test func encodesLabelsEndingInTheRoot() throws {
        #expect(try DNSWire.encodeName("mail.example") == [4] + Array("mail".utf8) + [7] + Array("example".utf8) + [0])
        #expect(try DNSWire.encodeName("mail.example.") == DNSWire.encodeName("mail.example"))
        #expect(try DNSWire.encodeName(".") == [0])
    }

    @Test func encodesEscapes() throws {
        // RFC 1035 §5.1: \. is a dot inside a label, \DDD a byte by its decimal value.
        #expect(try DNSWire.encodeName("a\\.b.example") == [3, 0x61, 0x2E, 0x62, 7] + Array("example".utf8) + [0])
        #expect(try DNSWire.encodeName("\\065b") == [2, 0x41, 0x62, 0])
    }

    @Test func refusesBadNames() throws {
        #expect(throws: DNSError.self) { try DNSWire.encodeName("a..b") }
        #expect(throws: DNSError.self) { try DNSWire.encodeName(".a") }
        #expect(throws: DNSError.self) { try DNSWire.encodeName(String(repeating: "a", count: 64) + ".example") }
        #expect(throws: DNSError.self) { try DNSWire.encodeName("a\\") }
        let long = Array(repeating: String(repeating: "a", count: 63), count: 4).joined(separator: ".")
        #expect(throws: DNSError.self) { try DNSWire.encodeName(long) }  // 4 × 64 + 1 = 257 octets
        #expect(try DNSWire.encodeName(String(repeating: "a", count: 63) + ".example").count == 73)
    }

    @Test func decodesNamesLowerCasedAndEscaped() {
        #expect(DNSWire.decodeName([4] + Array("MAIL".utf8) + [7] + Array("Example".utf8) + [0]) == "mail.example")
        #expect(DNSWire.decodeName([0]) == ".")
        // A dot inside a label must not make it look like two labels.
        #expect(DNSWire.decodeName([3, 0x61, 0x2E, 0x62, 0]) == "a\\.b")
        #expect(DNSWire.decodeName([2, 0x20, 0xFF, 0]) == "\\032\\255")
    }

    @Test func refusesMalformedWireNames() {
        #expect(DNSWire.decodeName([]) == nil)
        #expect(DNSWire.decodeName([3, 0x61, 0x62]) == nil)  // no root label
        #expect(DNSWire.decodeName([5, 0x61, 0]) == nil)  // label runs past the end
        #expect(DNSWire.decodeName([0xC0, 0x0C]) == nil)  // compression pointer
        #expect(DNSWire.decodeName([1, 0x61, 0, 0]) == nil)  // bytes after the root
    }

    @Test(arguments: ["mail.example", "a\\.b.example", "\\032x", "xn--bcher-kva.example", "_25._tcp.mx.example", "."])
    func namesRoundTrip(name: String) throws {
        #expect(DNSWire.decodeName(try DNSWire.encodeName(name)) == name)
    }

    // MARK: - Header and matching

    /// A query for host.example A with ID 0x1234, RD set.
    static let query: [UInt8] =
        [0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]
        + [4] + Array("host".utf8) + [7] + Array("example".utf8) + [0] + [0, 1, 0, 1]

    static func reply(to query: [UInt8], flags: UInt16 = 0x8180) -> [UInt8] {
        var reply = query
        reply[2] = UInt8(flags >> 8)
        reply[3] = UInt8(flags & 0xFF)
        return reply
    }

    @Test func readsTheHeader() throws {
        let header = try #require(DNSWire.Header(Self.reply(to: Self.query, flags: 0x8383 | 0x0200 | 0x0020)))
        #expect(header.id == 0x1234)
        #expect(header.isResponse)
        #expect(header.opcode == 0)
        #expect(header.isTruncated)
        #expect(header.isAuthenticatedData)
        #expect(header.responseCode == 3)
        #expect(header.questionCount == 1)
        #expect(DNSWire.Header([1, 2, 3]) == nil)
    }

    @Test func matcherAcceptsOnlyTheReplyToItsQuery() throws {
        let matcher = try #require(DNSWire.ReplyMatcher(query: Self.query))
        #expect(matcher.matches(Self.reply(to: Self.query)))
        // The question's case may differ (RFC 4343), nothing else.
        var upper = Self.reply(to: Self.query)
        upper[13] = UInt8(ascii: "H")
        #expect(matcher.matches(upper))

        var otherID = Self.reply(to: Self.query)
        otherID[1] = 0x35
        #expect(!matcher.matches(otherID))
        #expect(!matcher.matches(Self.query))  // QR not set
        var otherName = Self.reply(to: Self.query)
        otherName[14] = UInt8(ascii: "x")
        #expect(!matcher.matches(otherName))
        var otherType = Self.reply(to: Self.query)
        otherType[otherType.count - 3] = 28
        #expect(!matcher.matches(otherType))
        #expect(!matcher.matches(Array(Self.reply(to: Self.query).prefix(20))))
        var notify = Self.reply(to: Self.query, flags: 0x8000 | 4 << 11)
        notify[1] = 0x34
        #expect(!matcher.matches(notify))  // another opcode
    }

    @Test func questionEndNeedsExactlyOneQuestion() {
        #expect(DNSWire.singleQuestionEnd(Self.query) == Self.query.count)
        var two = Self.query
        two[5] = 2
        #expect(DNSWire.singleQuestionEnd(two) == nil)
        #expect(DNSWire.singleQuestionEnd(Array(Self.query.dropLast(2))) == nil)
    }

    // MARK: - TCP framing

    @Test func tcpFramePrefixesTheLength() {
        #expect(DNSWire.tcpFrame([1, 2, 3]) == [0, 3, 1, 2, 3])
        #expect(DNSWire.tcpFrame(Array(repeating: 7, count: 300)).prefix(2) == [1, 44])
    }

    @Test func tcpDecoderHandlesEverySplitPoint() {
        let first = Array(repeating: UInt8(1), count: 40)
        let second = Array(repeating: UInt8(2), count: 3)
        let stream = DNSWire.tcpFrame(first) + DNSWire.tcpFrame(second)
        for split in 0...stream.count {
            var decoder = DNSWire.TCPFrameDecoder()
            var messages: [[UInt8]] = []
            decoder.append(stream[..<split])
            while let message = decoder.nextMessage() { messages.append(message) }
            decoder.append(stream[split...])
            while let message = decoder.nextMessage() { messages.append(message) }
            #expect(messages == [first, second], "split at \(split)")
        }
    }

    // MARK: - Record data

    @Test func recordDataOfEachType() throws {
        let mxName = try DNSWire.encodeName("mx.example")
        #expect(DNSWire.recordData(type: .a, fields: [[192, 0, 2, 1]]) == .a(IPv4Address("192.0.2.1")!))
        #expect(
            DNSWire.recordData(type: .aaaa, fields: [[0x20, 0x01, 0x0D, 0xB8] + Array(repeating: 0, count: 11) + [1]])
                == .aaaa(IPv6Address("2001:db8::1")!))
        #expect(DNSWire.recordData(type: .mx, fields: [[0, 10], mxName]) == .mx(MXRecord(preference: 10, exchange: "mx.example")))
        #expect(DNSWire.recordData(type: .mx, fields: [[0, 0], [0]]) == .mx(MXRecord(preference: 0, exchange: ".")))
        #expect(
            DNSWire.recordData(type: .txt, fields: [[2, 0x61, 0x62], [0], [1, 0x63]])
                == .txt(TXTRecord(strings: [[0x61, 0x62], [], [0x63]])))
        #expect(DNSWire.recordData(type: .ptr, fields: [mxName]) == .ptr("mx.example"))
        #expect(DNSWire.recordData(type: .cname, fields: [mxName]) == .cname("mx.example"))
        #expect(
            DNSWire.recordData(type: .tlsa, fields: [[3], [1], [1], [0xAB, 0xCD]])
                == .tlsa(TLSARecord(usage: 3, selector: 1, matchingType: 1, data: [0xAB, 0xCD])))
        let soaFields: [[UInt8]] = [mxName, mxName, [0, 0, 0, 1], [0, 0, 14, 16], [0, 0, 2, 88], [0, 1, 81, 128], [0, 0, 0, 60]]
        #expect(
            DNSWire.recordData(type: .soa, fields: soaFields)
                == .soa(
                    SOARecord(
                        primaryNameServer: "mx.example", responsibleMailbox: "mx.example", serial: 1,
                        refresh: 3600, retry: 600, expire: 86400, minimum: 60)))
        #expect(DNSWire.recordData(type: .ns, fields: [mxName]) == .unknown(type: .ns, rdata: mxName))
    }

    @Test func recordDataOfTheWrongShapeIsRefused() {
        #expect(DNSWire.recordData(type: .a, fields: [[1, 2, 3]]) == nil)
        #expect(DNSWire.recordData(type: .aaaa, fields: [[1, 2, 3, 4]]) == nil)
        #expect(DNSWire.recordData(type: .mx, fields: [[0, 10]]) == nil)
        #expect(DNSWire.recordData(type: .txt, fields: [[5, 0x61]]) == nil)
        #expect(DNSWire.recordData(type: .txt, fields: []) == nil)
        #expect(DNSWire.recordData(type: .tlsa, fields: [[3], [1], [1, 1], []]) == nil)
        #expect(DNSWire.recordData(type: .soa, fields: [[0]]) == nil)
    }

    // MARK: - Following CNAMEs in an answer section

    @Test func answerWalkFollowsCNAMEsAndStopsAtLoops() {
        func record(_ name: String, _ data: DNSRecordData, ttl: UInt32 = 300) -> DNSResourceRecord {
            DNSResourceRecord(name: name, ttl: ttl, data: data)
        }
        let answer = [
            record("www.example", .cname("web.example")),
            record("web.example", .cname("host.example")),
            record("host.example", .a(IPv4Address("192.0.2.1")!)),
            record("other.example", .a(IPv4Address("192.0.2.9")!)),
        ]
        let walk = DNSAnswerWalk(records: answer, name: "www.example", type: .a)
        #expect(walk.records == [answer[2]])
        #expect(walk.aliases == [answer[0], answer[1]])
        #expect(walk.finalName == "host.example")

        let partial = DNSAnswerWalk(records: Array(answer.prefix(2)), name: "www.example", type: .a)
        #expect(partial.records.isEmpty && partial.finalName == "host.example" && !partial.looped)

        let loop = DNSAnswerWalk(
            records: [record("a.example", .cname("b.example")), record("b.example", .cname("a.example"))],
            name: "a.example", type: .a)
        #expect(loop.looped)

        let soa = record(
            "example", .soa(SOARecord(primaryNameServer: "ns", responsibleMailbox: "h", serial: 1, refresh: 1, retry: 1, expire: 1, minimum: 60)),
            ttl: 3600)
        #expect(walk.negativeTTL(authority: [soa]) == 60)
        #expect(walk.negativeTTL(authority: [record("example", .soa(SOARecord(primaryNameServer: "ns", responsibleMailbox: "h", serial: 1, refresh: 1, retry: 1, expire: 1, minimum: 600)), ttl: 30)]) == 30)
        #expect(walk.negativeTTL(authority: []) == nil)
    }
}
