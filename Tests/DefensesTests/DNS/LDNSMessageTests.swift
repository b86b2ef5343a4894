import Testing

@testable import Defenses

/// Queries built by ldns, read back with our own header code; replies parsed by ldns.
@Suite("ldns messages")
struct LDNSMessageTests {
    @Test func queryHasIDFlagsQuestionAndOPT() throws {
        let question = try DNSQuestion(name: "mail.example", type: .mx)
        let query = try LDNSMessage.makeQuery(
            question, id: 0xBEEF, edns: .init(udpPayloadSize: 1232, dnssecOK: true), requestAuthenticatedData: true)
        let header = try #require(DNSWire.Header(query))
        #expect(header.id == 0xBEEF)
        #expect(!header.isResponse)
        #expect(header.flags & 0x0100 != 0)  // RD
        #expect(header.isAuthenticatedData)  // AD in the query, RFC 6840 §5.7
        #expect(header.questionCount == 1 && header.answerCount == 0 && header.additionalCount == 1)
        let end = try #require(DNSWire.singleQuestionEnd(query))
        #expect(Array(query[12..<end]) == (try DNSWire.encodeName("mail.example")) + [0, 15, 0, 1])
        // OPT: root name, TYPE 41, CLASS = UDP size, TTL = ext-rcode/version/DO flag (RFC 6891 §6.1.2-3)
        let opt = Array(query[end...])
        #expect(opt.prefix(5) == [0, 0, 41, 0x04, 0xD0])
        #expect(opt[7] & 0x80 != 0)
    }

    @Test func plainQueryHasNoOPT() throws {
        let query = try LDNSMessage.makeQuery(
            try DNSQuestion(name: "host.example", type: .a), id: 1, edns: nil, requestAuthenticatedData: false)
        let header = try #require(DNSWire.Header(query))
        #expect(header.additionalCount == 0)
        #expect(!header.isAuthenticatedData)
        #expect(DNSWire.singleQuestionEnd(query) == query.count)
    }

    @Test func parsesAReplyWithAnswersAndAuthority() throws {
        // Reply to host.example A: one A record (name compressed to the question), and an SOA.
        var reply: [UInt8] = [0xBE, 0xEF, 0x85, 0xA3, 0, 1, 0, 1, 0, 1, 0, 0]  // QR AA RD RA AD, NXDOMAIN (for the test)
        reply += try DNSWire.encodeName("host.example") + [0, 1, 0, 1]
        reply += [0xC0, 12, 0, 1, 0, 1, 0, 0, 1, 44, 0, 4, 192, 0, 2, 10]
        let soaData = (try DNSWire.encodeName("ns.example")) + (try DNSWire.encodeName("h.example"))
            + [0, 0, 0, 1, 0, 0, 14, 16, 0, 0, 2, 88, 0, 1, 81, 128, 0, 0, 0, 60]
        reply += [0xC0, 17, 0, 6, 0, 1, 0, 0, 14, 16, 0, UInt8(soaData.count)] + soaData
        let parsed = try LDNSMessage.parseReply(reply)
        #expect(parsed.id == 0xBEEF)
        #expect(parsed.responseCode == 3)
        #expect(!parsed.truncated)
        #expect(parsed.authenticatedData)
        #expect(parsed.answers == [DNSResourceRecord(name: "host.example", ttl: 300, data: .a(IPv4Address("192.0.2.10")!))])
        #expect(parsed.authority.first?.name == "example")
        #expect(parsed.authority.first?.ttl == 3600)
        guard case .soa(let soa) = parsed.authority.first?.data else {
            Issue.record("no SOA")
            return
        }
        #expect(soa.minimum == 60 && soa.primaryNameServer == "ns.example")
    }

    @Test func refusesGarbage() {
        #expect(throws: DNSError.self) { try LDNSMessage.parseReply([1, 2, 3]) }
        #expect(throws: DNSError.self) { try LDNSMessage.parseReply([0, 1, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0, 3, 0x61]) }
    }

    @Test func zoneTextBecomesRecords() throws {
        let records = try LDNSMessage.parseZone(
            """
            $ORIGIN example.
            $TTL 600
            ; a comment
            mail    IN MX 10 mx1
                    IN MX 20 mx2.example.
            txt  60 IN TXT "v=spf1 " "-all"
            tlsa    IN TLSA 3 1 1 ABCD
            """)
        #expect(
            records == [
                DNSResourceRecord(name: "mail.example", ttl: 600, data: .mx(MXRecord(preference: 10, exchange: "mx1.example"))),
                DNSResourceRecord(name: "mail.example", ttl: 600, data: .mx(MXRecord(preference: 20, exchange: "mx2.example"))),
                DNSResourceRecord(name: "txt.example", ttl: 60, data: .txt(TXTRecord("v=spf1 ", "-all"))),
                DNSResourceRecord(
                    name: "tlsa.example", ttl: 600, data: .tlsa(TLSARecord(usage: 3, selector: 1, matchingType: 1, data: [0xAB, 0xCD]))),
            ])
        #expect(throws: DNSError.self) { try LDNSMessage.parseZone("x.example. IN A not-an-address") }
    }
}
