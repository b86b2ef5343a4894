import NIOCore
import Testing
@testable import SMTPCore

@Suite struct ProxyHeaderParserTests {
    @Test func v1TCP4() throws {
        var buffer = ByteBuffer(string: "PROXY TCP4 203.0.113.7 192.0.2.1 5555 25\r\nEHLO x\r\n")
        let header = try #require(try ProxyHeaderParser.parse(&buffer))
        #expect(header.source?.ipAddress == "203.0.113.7")
        #expect(header.source?.port == 5555)
        #expect(header.destination?.port == 25)
        #expect(String(buffer: buffer) == "EHLO x\r\n")
    }

    @Test func v1TCP6AndUnknown() throws {
        var six = ByteBuffer(string: "PROXY TCP6 2001:db8::1 2001:db8::2 1 2\r\n")
        #expect(try ProxyHeaderParser.parse(&six)?.source?.ipAddress == "2001:db8::1")
        var unknown = ByteBuffer(string: "PROXY UNKNOWN\r\n")
        #expect(try ProxyHeaderParser.parse(&unknown) == ProxyHeader(source: nil, destination: nil))
    }

    @Test func incompleteNeedsMoreBytes() throws {
        let full = "PROXY TCP4 203.0.113.7 192.0.2.1 5555 25\r\n"
        let bytes = Array(full.utf8)
        for end in 1..<bytes.count {
            var buffer = ByteBuffer(bytes: bytes[..<end])
            #expect(try ProxyHeaderParser.parse(&buffer) == nil, "prefix of \(end) bytes")
        }
    }

    @Test(arguments: [
        "EHLO x\r\n", "PROXY TCP4 1.2.3.4\r\n", "PROXY TCP4 1.2.3.4 5.6.7.8 99999 25\r\n",
        "PROXY TCP4 nothost 5.6.7.8 1 25\r\n", "PROXY TCP4 1.2.3.4 5.6.7.8 1 25\n",
        "PROXY " + String(repeating: "A", count: 200) + "\r\n",
    ])
    func malformedV1(input: String) {
        var buffer = ByteBuffer(string: input)
        #expect(throws: ProxyHeaderParser.Error.self) { try ProxyHeaderParser.parse(&buffer) }
    }

    static let signature: [UInt8] = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A]

    @Test func v2IPv4WithTLVs() throws {
        // PROXY command, TCP over IPv4, 12 address bytes + a 4-byte TLV that must be skipped.
        var bytes = Self.signature + [0x21, 0x11, 0x00, 0x10]
        bytes += [198, 51, 100, 9, 192, 0, 2, 1, 0x30, 0x39, 0x00, 0x19, 0x04, 0x00, 0x01, 0x00]
        bytes += Array("EHLO".utf8)
        var buffer = ByteBuffer(bytes: bytes)
        let header = try #require(try ProxyHeaderParser.parse(&buffer))
        #expect(header.source?.ipAddress == "198.51.100.9")
        #expect(header.source?.port == 12345)
        #expect(header.destination?.port == 25)
        #expect(String(buffer: buffer) == "EHLO")
    }

    @Test func v2LocalCommand() throws {
        var buffer = ByteBuffer(bytes: Self.signature + [0x20, 0x00, 0x00, 0x00])
        #expect(try ProxyHeaderParser.parse(&buffer) == ProxyHeader(source: nil, destination: nil))
    }

    @Test func v2BadVersion() {
        var buffer = ByteBuffer(bytes: Self.signature + [0x11, 0x11, 0x00, 0x00])
        #expect(throws: ProxyHeaderParser.Error.self) { try ProxyHeaderParser.parse(&buffer) }
    }
}
