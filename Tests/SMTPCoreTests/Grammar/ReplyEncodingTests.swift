import NIOCore
import Testing
@testable import SMTPCore

@Suite struct ReplyEncodingTests {
    @Test(arguments: [
        (Reply(.ok, .ok, "OK"), "250 2.0.0 OK\r\n"),
        (Reply(.serviceReady, nil, "mx.test ESMTP ready"), "220 mx.test ESMTP ready\r\n"),
        (Reply(.authContinue, nil, ""), "334 \r\n"),
        (Reply(.ok, nil, lines: ["mx.test greets c", "PIPELINING", "SIZE 100"]), "250-mx.test greets c\r\n250-PIPELINING\r\n250 SIZE 100\r\n"),
        (Reply(.mailboxUnavailable, .badDestinationMailbox, lines: ["No such user", "try again"]), "550-5.1.1 No such user\r\n550 5.1.1 try again\r\n"),
        (Reply(.ok, .ok, "a\r\n250 injected"), "250 2.0.0 a 250 injected\r\n"),
        (Reply(.ok, .ok, "a\n250 b\rc"), "250 2.0.0 a 250 b c\r\n"),
    ])
    func wireForm(reply: Reply, wire: String) {
        #expect(reply.wireText == wire)
        var buffer = ByteBuffer()
        reply.write(into: &buffer)
        #expect(String(buffer: buffer) == wire)
    }

    @Test func encodeThenParseRoundTrips() throws {
        let replies = [
            Reply(.ok, .ok, "OK"),
            Reply(.ok, nil, lines: ["mx.test", "PIPELINING", "SIZE 10"]),
            Reply(.serviceNotAvailable, .timeout, "Timeout, closing connection"),
            Reply(.transactionFailed, .syntaxError, lines: ["first", "second"]),
        ]
        for reply in replies {
            var buffer = ByteBuffer(string: reply.wireText)
            var parser = ReplyParser()
            #expect(try parser.next(from: &buffer) == reply)
        }
    }

    @Test func replyCodeClasses() {
        #expect(ReplyCode.ok.isPositiveCompletion)
        #expect(ReplyCode.startMailInput.isPositiveIntermediate)
        #expect(ReplyCode.mailboxBusy.isTransientFailure)
        #expect(ReplyCode.transactionFailed.isPermanentFailure)
        #expect(ReplyCode(validating: 600) == nil)
        #expect(ReplyCode(validating: 199) == nil)
        #expect(ReplyCode(validating: 421) == .serviceNotAvailable)
    }

    @Test(arguments: ["2.0.0", "4.4.2", "5.7.1", "5.1.10", "2.100.999"])
    func enhancedCodeParses(text: String) {
        #expect(EnhancedStatusCode(parsing: Substring(text))?.description == text)
    }

    @Test(arguments: ["3.0.0", "5.0", "5..1", "5.1.1000", "x.1.1", ""])
    func enhancedCodeRejects(text: String) {
        #expect(EnhancedStatusCode(parsing: Substring(text)) == nil)
    }
}

@Suite struct GrammarValueTests {
    @Test(arguments: [("a b+c=", "a+20b+2Bc+3D"), ("plain", "plain"), ("ü", "+C3+BC")])
    func xtextRoundTrip(text: String, encoded: String) {
        #expect(XText.encode(text) == encoded)
        #expect(XText.decode(encoded) == text)
    }

    @Test(arguments: ["+FF", "+4", "a=b", "a b", "+ZZ"])
    func xtextRejects(encoded: String) {
        #expect(XText.decode(encoded) == nil)
    }

    @Test func emptyNotifyHasNoWireForm() {
        let parameters = RcptParameters(notify: .on(success: false, failure: false, delay: false))
        #expect(parameters.wireParameters.isEmpty)
        #expect(RcptParameters(notify: .on(success: true, failure: false, delay: true)).wireParameters == ["NOTIFY=SUCCESS,DELAY"])
        #expect(RcptParameters(notify: .never).wireParameters == ["NOTIFY=NEVER"])
    }

    @Test func localPartsAreQuotedOnlyWhenNeeded() {
        #expect(Mailbox(localPart: "john.doe", host: .domain("x.test")).description == "john.doe@x.test")
        #expect(Mailbox(localPart: "john doe", host: .domain("x.test")).description == "\"john doe\"@x.test")
        #expect(Mailbox(localPart: "a\"b\\c", host: .domain("x.test")).description == "\"a\\\"b\\\\c\"@x.test")
        #expect(Mailbox(localPart: ".lead", host: .domain("x.test")).description == "\".lead\"@x.test")
        #expect(Mailbox(localPart: "x", host: .ipv6("2001:db8::1")).description == "x@[IPv6:2001:db8::1]")
    }

    @Test func base64RoundTripsAndRejects() {
        for text in ["", "a", "ab", "abc", "abcd", "\0user\0pass"] {
            #expect(Base64.decode(Base64.encode(text)) == Array(text.utf8))
        }
        #expect(Base64.encode("\0user\0pass") == "AHVzZXIAcGFzcw==")
        for bad in ["A", "AB=C", "A===", "****", "QQ==QQ=="] {
            #expect(Base64.decode(bad) == nil, "\(bad)")
        }
    }

    @Test func ipNetworks() throws {
        let v4 = try #require(IPNetwork("192.0.2.0/24"))
        #expect(v4.contains(try SocketAddress(ipAddress: "192.0.2.77", port: 25)))
        #expect(!v4.contains(try SocketAddress(ipAddress: "192.0.3.1", port: 25)))
        #expect(v4.contains(try SocketAddress(ipAddress: "::ffff:192.0.2.5", port: 25)))
        let v6 = try #require(IPNetwork("2001:db8::/32"))
        #expect(v6.contains(try SocketAddress(ipAddress: "2001:db8:1::5", port: 25)))
        #expect(!v6.contains(try SocketAddress(ipAddress: "2001:db9::5", port: 25)))
        #expect(IPNetwork("10.0.0.0/33") == nil)
        #expect(IPNetwork("not-an-ip") == nil)
        #expect(IPNetwork("127.0.0.1")?.prefixLength == 32)
    }
}
