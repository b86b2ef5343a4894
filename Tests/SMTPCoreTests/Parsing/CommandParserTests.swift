import NIOCore
import SMTPCore
import Testing

/// One command line and the value it must parse to.
struct CommandFixture: Sendable, CustomTestStringConvertible {
    let line: String
    let expected: Command

    init(_ line: String, _ expected: Command) {
        self.line = line
        self.expected = expected
    }

    var testDescription: String { line }
}

func mailbox(_ localPart: String, _ domain: String) -> Mailbox {
    Mailbox(localPart: localPart, host: .domain(domain))
}

func mailFrom(_ localPart: String, _ domain: String, _ parameters: MailParameters = MailParameters()) -> Command {
    .mail(.mailbox(mailbox(localPart, domain)), parameters)
}

func rcptTo(_ localPart: String, _ domain: String, _ parameters: RcptParameters = RcptParameters()) -> Command {
    .rcpt(.mailbox(mailbox(localPart, domain)), parameters)
}

@Suite struct CommandParserTests {
    let parser = CommandParser()

    static let hello: [CommandFixture] = [
        CommandFixture("EHLO client.example.org", .ehlo(.domain("client.example.org"))),
        CommandFixture("ehlo Client.Example.ORG", .ehlo(.domain("Client.Example.ORG"))),
        CommandFixture("EhLo localhost", .ehlo(.domain("localhost"))),
        CommandFixture("EHLO   spaced.example", .ehlo(.domain("spaced.example"))),
        CommandFixture("EHLO trailing.example   ", .ehlo(.domain("trailing.example"))),
        CommandFixture("HELO mail_server.example", .helo(.domain("mail_server.example"))),
        CommandFixture("HELO host.example.", .helo(.domain("host.example."))),
        CommandFixture("HELO -odd-.example", .helo(.domain("-odd-.example"))),
        CommandFixture("EHLO bücher.example", .ehlo(.domain("bücher.example"))),
        CommandFixture("EHLO [192.0.2.1]", .ehlo(.ipv4("192.0.2.1"))),
        CommandFixture("HELO [192.0.2.1]", .helo(.ipv4("192.0.2.1"))),
        CommandFixture("EHLO [IPv6:2001:db8::1]", .ehlo(.ipv6("2001:db8::1"))),
        CommandFixture("EHLO [x-tag:some.content]", .ehlo(.general(tag: "x-tag", content: "some.content"))),
        CommandFixture("LHLO mx.example.org", .lhlo(.domain("mx.example.org"))),
        CommandFixture("lhlo [IPv6:::1]", .lhlo(.ipv6("::1"))),
    ]

    static let mail: [CommandFixture] = [
        CommandFixture("MAIL FROM:<a@example.org>", mailFrom("a", "example.org")),
        CommandFixture("mail from:<a@example.org>", mailFrom("a", "example.org")),
        CommandFixture("Mail From:<A.B+tag@Sub.Example.ORG>", mailFrom("A.B+tag", "Sub.Example.ORG")),
        CommandFixture("MAIL FROM: <a@example.org>", mailFrom("a", "example.org")),
        CommandFixture("MAIL FROM:<>", .mail(.null, MailParameters())),
        CommandFixture("MAIL FROM: <>", .mail(.null, MailParameters())),
        CommandFixture("MAIL FROM:<> SIZE=0 BODY=8BITMIME", .mail(.null, MailParameters(size: 0, body: .eightBitMIME))),
        CommandFixture("MAIL FROM:<postmaster@example.org>", mailFrom("postmaster", "example.org")),
        CommandFixture("MAIL FROM:<\"john doe\"@example.org>", mailFrom("john doe", "example.org")),
        CommandFixture(#"MAIL FROM:<"a\"b"@example.org>"#, mailFrom("a\"b", "example.org")),
        CommandFixture(#"MAIL FROM:<"a\\b"@example.org>"#, mailFrom("a\\b", "example.org")),
        CommandFixture(#"MAIL FROM:<"\a\ b"@example.org>"#, mailFrom("a b", "example.org")),
        CommandFixture("MAIL FROM:<\"\"@example.org>", mailFrom("", "example.org")),
        CommandFixture("MAIL FROM:<\"a@b\"@example.org>", mailFrom("a@b", "example.org")),
        CommandFixture("MAIL FROM:<user@[192.0.2.1]>", .mail(.mailbox(Mailbox(localPart: "user", host: .ipv4("192.0.2.1"))), MailParameters())),
        CommandFixture("MAIL FROM:<user@[0.0.0.0]>", .mail(.mailbox(Mailbox(localPart: "user", host: .ipv4("0.0.0.0"))), MailParameters())),
        CommandFixture("MAIL FROM:<user@[IPv6:2001:db8::1]>", .mail(.mailbox(Mailbox(localPart: "user", host: .ipv6("2001:db8::1"))), MailParameters())),
        CommandFixture("MAIL FROM:<user@[ipv6:2001:DB8:0:0:0:0:0:1]>", .mail(.mailbox(Mailbox(localPart: "user", host: .ipv6("2001:DB8:0:0:0:0:0:1"))), MailParameters())),
        CommandFixture("MAIL FROM:<user@[IPv6:::ffff:192.0.2.1]>", .mail(.mailbox(Mailbox(localPart: "user", host: .ipv6("::ffff:192.0.2.1"))), MailParameters())),
        CommandFixture("MAIL FROM:<user@[IPv6:2001:db8:1:2:3:4:192.0.2.1]>", .mail(.mailbox(Mailbox(localPart: "user", host: .ipv6("2001:db8:1:2:3:4:192.0.2.1"))), MailParameters())),
        CommandFixture("MAIL FROM:<user@[IPv6:::]>", .mail(.mailbox(Mailbox(localPart: "user", host: .ipv6("::"))), MailParameters())),
        CommandFixture("MAIL FROM:<user@[IPv6:1:2:3:4:5:6:7::]>", .mail(.mailbox(Mailbox(localPart: "user", host: .ipv6("1:2:3:4:5:6:7::"))), MailParameters())),
        CommandFixture("MAIL FROM:<user@[x-tag:some-content]>", .mail(.mailbox(Mailbox(localPart: "user", host: .general(tag: "x-tag", content: "some-content"))), MailParameters())),
        CommandFixture("MAIL FROM:<@a.example,@b.example:user@c.example>", mailFrom("user", "c.example")),
        CommandFixture("MAIL FROM:<üser@bücher.example> SMTPUTF8", mailFrom("üser", "bücher.example", MailParameters(smtpUTF8: true))),
        CommandFixture("MAIL FROM:<\"ü ser\"@例え.テスト>", mailFrom("ü ser", "例え.テスト")),
        CommandFixture("MAIL FROM:<\(String(repeating: "x", count: 64))@example.org>", mailFrom(String(repeating: "x", count: 64), "example.org")),
        CommandFixture("MAIL FROM:<a@\(String(repeating: "d", count: 63)).example>", mailFrom("a", String(repeating: "d", count: 63) + ".example")),
        CommandFixture("MAIL FROM:<a@1.2.3.4>", mailFrom("a", "1.2.3.4")),
        // Parameters
        CommandFixture("MAIL FROM:<a@example.org> SIZE=1234 BODY=8bitmime SMTPUTF8 RET=hdrs ENVID=QQ314159 AUTH=<> REQUIRETLS",
                       mailFrom("a", "example.org", MailParameters(size: 1234, body: .eightBitMIME, smtpUTF8: true, dsnReturn: .headers,
                                                                   envelopeID: "QQ314159", auth: "<>", requireTLS: true))),
        CommandFixture("MAIL FROM:<a@example.org> body=binarymime ret=FULL auth=e+3Dmc2@example.com",
                       mailFrom("a", "example.org", MailParameters(body: .binaryMIME, dsnReturn: .full, auth: "e=mc2@example.com"))),
        CommandFixture("MAIL FROM:<a@example.org> BODY=7BIT", mailFrom("a", "example.org", MailParameters(body: .sevenBit))),
        CommandFixture("MAIL FROM:<a@example.org> ENVID=abc+2Bdef+20g", mailFrom("a", "example.org", MailParameters(envelopeID: "abc+def g"))),
        CommandFixture("MAIL FROM:<a@example.org> SIZE=00042", mailFrom("a", "example.org", MailParameters(size: 42))),
        CommandFixture("MAIL FROM:<a@example.org> SIZE=99999999999999999999", mailFrom("a", "example.org", MailParameters(size: Int.max))),
        CommandFixture("MAIL FROM:<a@example.org>   SIZE=10   smtputf8", mailFrom("a", "example.org", MailParameters(size: 10, smtpUTF8: true))),
        CommandFixture("MAIL FROM:<a@example.org> requiretls", mailFrom("a", "example.org", MailParameters(requireTLS: true))),
        CommandFixture("MAIL FROM:<a@example.org> ENVID=\(String(repeating: "e", count: 100))",
                       mailFrom("a", "example.org", MailParameters(envelopeID: String(repeating: "e", count: 100)))),
    ]

    static let rcpt: [CommandFixture] = [
        CommandFixture("RCPT TO:<b@example.net>", rcptTo("b", "example.net")),
        CommandFixture("rcpt to:<B@Example.NET>", rcptTo("B", "Example.NET")),
        CommandFixture("RCPT TO: <b@example.net>", rcptTo("b", "example.net")),
        CommandFixture("RCPT TO:<Postmaster>", .rcpt(.postmaster, RcptParameters())),
        CommandFixture("RCPT TO:<postMASTER>", .rcpt(.postmaster, RcptParameters())),
        CommandFixture("RCPT TO:<postmaster@example.net>", rcptTo("postmaster", "example.net")),
        CommandFixture("RCPT TO:<Postmaster> NOTIFY=FAILURE", .rcpt(.postmaster, RcptParameters(notify: .on(success: false, failure: true, delay: false)))),
        CommandFixture("RCPT TO:<@relay.example:b@example.net>", rcptTo("b", "example.net")),
        CommandFixture("RCPT TO:<ü@bücher.example>", rcptTo("ü", "bücher.example")),
        CommandFixture("RCPT TO:<b@example.net> NOTIFY=NEVER", rcptTo("b", "example.net", RcptParameters(notify: .never))),
        CommandFixture("RCPT TO:<b@example.net> notify=never", rcptTo("b", "example.net", RcptParameters(notify: .never))),
        CommandFixture("RCPT TO:<b@example.net> NOTIFY=success,failure,delay ORCPT=rfc822;b+40example.net",
                       rcptTo("b", "example.net", RcptParameters(notify: .on(success: true, failure: true, delay: true),
                                                                 originalRecipient: OriginalRecipient(addressType: "rfc822", address: "b@example.net")))),
        CommandFixture("RCPT TO:<b@example.net> NOTIFY=DELAY,FAILURE",
                       rcptTo("b", "example.net", RcptParameters(notify: .on(success: false, failure: true, delay: true)))),
        CommandFixture("RCPT TO:<b@example.net> orcpt=utf-8;b@example.net",
                       rcptTo("b", "example.net", RcptParameters(originalRecipient: OriginalRecipient(addressType: "utf-8", address: "b@example.net")))),
    ]

    static let other: [CommandFixture] = [
        CommandFixture("DATA", .data),
        CommandFixture("data", .data),
        CommandFixture("DATA ", .data),
        CommandFixture("RSET", .rset),
        CommandFixture("QUIT", .quit),
        CommandFixture("STARTTLS", .startTLS),
        CommandFixture("StartTLS", .startTLS),
        CommandFixture("BDAT 0 LAST", .bdat(size: 0, last: true)),
        CommandFixture("BDAT 1000", .bdat(size: 1000, last: false)),
        CommandFixture("bdat 1000 last", .bdat(size: 1000, last: true)),
        CommandFixture("BDAT 999999999999999999", .bdat(size: 999_999_999_999_999_999, last: false)),
        CommandFixture("NOOP", .noop(nil)),
        CommandFixture("NOOP hello there", .noop("hello there")),
        CommandFixture("HELP", .help(nil)),
        CommandFixture("help MAIL", .help("MAIL")),
        CommandFixture("VRFY john", .vrfy("john")),
        CommandFixture("VRFY John Smith", .vrfy("John Smith")),
        CommandFixture("vrfy <ü@example.org>", .vrfy("<ü@example.org>")),
        CommandFixture("EXPN staff", .expn("staff")),
        CommandFixture("AUTH PLAIN", .auth(mechanism: "PLAIN", initialResponse: nil)),
        CommandFixture("auth plain AGFsaWNlAHNlY3JldA==", .auth(mechanism: "PLAIN", initialResponse: "AGFsaWNlAHNlY3JldA==")),
        CommandFixture("AUTH LOGIN =", .auth(mechanism: "LOGIN", initialResponse: "=")),
        CommandFixture("AUTH cram-md5", .auth(mechanism: "CRAM-MD5", initialResponse: nil)),
        CommandFixture("AUTH X_MECH-2 dGVzdA", .auth(mechanism: "X_MECH-2", initialResponse: "dGVzdA")),
        CommandFixture("AUTH SCRAM-SHA-256-PLUS", .auth(mechanism: "SCRAM-SHA-256-PLUS", initialResponse: nil)),
        CommandFixture("AUTH ABCDEFGHIJKLMNOPQRST", .auth(mechanism: "ABCDEFGHIJKLMNOPQRST", initialResponse: nil)),
    ]

    @Test(arguments: hello + mail + rcpt + other)
    func parsesString(_ fixture: CommandFixture) throws {
        #expect(try parser.parse(fixture.line) == fixture.expected)
    }

    @Test(arguments: hello + mail + rcpt + other)
    func parsesByteBuffer(_ fixture: CommandFixture) throws {
        #expect(try parser.parse(ByteBuffer(string: fixture.line)) == fixture.expected)
    }

    @Test func parsesOnlyTheReadableBytesOfABuffer() throws {
        var buffer = ByteBuffer(string: "XXXXQUIT")
        buffer.moveReaderIndex(forwardBy: 4)
        #expect(try parser.parse(buffer) == .quit)
    }

    @Test func pathOf256OctetsIsAccepted() throws {
        // "<" + 64 + "@" + domain + ">" = 256 when the domain has 189 octets.
        let local = String(repeating: "l", count: 64)
        let domain189 = [String](repeating: String(repeating: "d", count: 62), count: 2).joined(separator: ".") + "." + String(repeating: "e", count: 63)
        #expect(domain189.utf8.count == 189)
        #expect(try parser.parse("RCPT TO:<\(local)@\(domain189)>") == rcptTo(local, domain189))
    }
}
