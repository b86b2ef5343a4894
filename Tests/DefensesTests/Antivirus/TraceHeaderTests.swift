import NIOCore
import Testing

@testable import Defenses

@Suite("X-Virus-Scanned trace header")
struct TraceHeaderTests {
    static func apply(_ message: String) -> String {
        String(buffer: TraceHeader.apply(name: "X-Virus-Scanned", value: "clean", to: ByteBuffer(string: message),
                                         limits: MessageLimits()))
    }

    @Test func oursOnTopTheirsRemoved() {
        // Without an earlier field: byte-identical below ours, bare LF and all.
        #expect(Self.apply("A: 1\nB: 2\n\nbody\nX-Virus-Scanned: in the body\n")
            == "X-Virus-Scanned: clean\r\nA: 1\nB: 2\n\nbody\nX-Virus-Scanned: in the body\n")
        // Earlier fields (any case, folded) go; the body stays untouched, even a look-alike line in it.
        #expect(Self.apply("x-virus-scanned: clean\r\nA: 1\r\nX-Virus-Scanned: ok,\r\n folded\r\n\r\nX-Virus-Scanned: body\r\n")
            == "X-Virus-Scanned: clean\r\nA: 1\r\n\r\nX-Virus-Scanned: body\r\n")
        // All header, no empty line.
        #expect(Self.apply("X-Virus-Scanned: no\r\nA: 1") == "X-Virus-Scanned: clean\r\nA: 1\r\n\r\n")
        // No header at all.
        #expect(Self.apply("\r\nX-Virus-Scanned: body") == "X-Virus-Scanned: clean\r\n\r\nX-Virus-Scanned: body")
    }

    @Test func endOfHeader() {
        #expect(TraceHeader.endOfHeader(ByteBuffer(string: "A: 1\r\n\r\nb").readableBytesView) == 8)
        #expect(TraceHeader.endOfHeader(ByteBuffer(string: "A: 1\n\nb").readableBytesView) == 6)
        #expect(TraceHeader.endOfHeader(ByteBuffer(string: "\nb").readableBytesView) == 1)
        #expect(TraceHeader.endOfHeader(ByteBuffer(string: "A: 1\r\n").readableBytesView) == nil)
    }
}
