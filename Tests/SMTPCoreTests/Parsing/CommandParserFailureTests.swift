import NIOCore
import SMTPCore
import Testing

/// The shape of a parse error without its log detail, so that fixtures do not pin log wording.
enum ParseErrorKind: Hashable, Sendable {
    case emptyLine, unrecognizedCommand, syntax, badReversePath, badForwardPath
    case unknownParameter, duplicateParameter, invalidParameterValue, invalidUTF8

    init(_ error: CommandParseError) {
        switch error {
        case .emptyLine: self = .emptyLine
        case .unrecognizedCommand: self = .unrecognizedCommand
        case .syntax: self = .syntax
        case .badReversePath: self = .badReversePath
        case .badForwardPath: self = .badForwardPath
        case .unknownParameter: self = .unknownParameter
        case .duplicateParameter: self = .duplicateParameter
        case .invalidParameterValue: self = .invalidParameterValue
        case .invalidUTF8: self = .invalidUTF8
        }
    }
}

/// A malformed line, the error it must give, and the reply that error must produce.
struct FailureFixture: Sendable, CustomTestStringConvertible {
    let bytes: [UInt8]
    let kind: ParseErrorKind
    let code: Int
    let enhanced: EnhancedStatusCode

    init(_ line: String, _ kind: ParseErrorKind, _ code: Int, _ enhanced: EnhancedStatusCode) {
        self.init(bytes: Array(line.utf8), kind, code, enhanced)
    }

    init(bytes: [UInt8], _ kind: ParseErrorKind, _ code: Int, _ enhanced: EnhancedStatusCode) {
        self.bytes = bytes
        self.kind = kind
        self.code = code
        self.enhanced = enhanced
    }

    var testDescription: String { String(decoding: bytes, as: UTF8.self).debugDescription }
}

private let e552 = EnhancedStatusCode(5, 5, 2)
private let e551 = EnhancedStatusCode(5, 5, 1)
private let e554 = EnhancedStatusCode(5, 5, 4)
private let e517 = EnhancedStatusCode(5, 1, 7)
private let e513 = EnhancedStatusCode(5, 1, 3)

private func syntax(_ line: String) -> FailureFixture { FailureFixture(line, .syntax, 501, e552) }
private func badSender(_ line: String) -> FailureFixture { FailureFixture(line, .badReversePath, 501, e517) }
private func badRecipient(_ line: String) -> FailureFixture { FailureFixture(line, .badForwardPath, 501, e513) }
private func badValue(_ line: String) -> FailureFixture { FailureFixture(line, .invalidParameterValue, 501, e554) }
private func from(_ path: String) -> FailureFixture { badSender("MAIL FROM:\(path)") }

@Suite struct CommandParserFailureTests {
    let parser = CommandParser()

    static let lineLevel: [FailureFixture] = [
        FailureFixture("", .emptyLine, 500, e552),
        FailureFixture("   ", .emptyLine, 500, e552),
        FailureFixture("FOO bar", .unrecognizedCommand, 500, e551),
        FailureFixture("MAILFROM:<a@example.org>", .unrecognizedCommand, 500, e551),
        FailureFixture(" QUIT", .unrecognizedCommand, 500, e551),
        FailureFixture("QUITE", .unrecognizedCommand, 500, e551),
        FailureFixture("QUIT\u{0}", .syntax, 501, e552),
        FailureFixture("NOOP a\u{0}b", .syntax, 501, e552),
        FailureFixture("NOOP a\tb", .syntax, 501, e552),
        FailureFixture("NOOP a\rb", .syntax, 501, e552),
        FailureFixture("NOOP a\u{7F}", .syntax, 501, e552),
        FailureFixture("NOOP a\u{85}", .syntax, 501, e552),
        FailureFixture(bytes: Array("NOOP ".utf8) + [0xFF], .invalidUTF8, 500, e552),
        FailureFixture(bytes: [0xFF], .invalidUTF8, 500, e552),
        FailureFixture(bytes: Array("RCPT TO:<".utf8) + [0xC3, 0x28] + Array("@example.org>".utf8), .invalidUTF8, 500, e552),
        FailureFixture(bytes: Array("VRFY ".utf8) + [0xC0, 0xAF], .invalidUTF8, 500, e552),  // overlong "/"
        FailureFixture(bytes: Array("VRFY ".utf8) + [0xED, 0xA0, 0x80], .invalidUTF8, 500, e552),  // surrogate
        FailureFixture(bytes: Array("VRFY ".utf8) + [0xE2, 0x82], .invalidUTF8, 500, e552),  // truncated
    ]

    static let verbs: [FailureFixture] = [
        syntax("DATA x"), syntax("RSET now"), syntax("QUIT please"), syntax("STARTTLS x"),
        syntax("EHLO"), syntax("HELO   "), syntax("EHLO a b"), syntax("EHLO a..b"), syntax("EHLO .a"), syntax("EHLO a.."),
        syntax("EHLO host/x"), syntax("EHLO a@b"), syntax("HELO [300.1.1.1]"), syntax("EHLO [IPv6:zz]"),
        syntax("EHLO [192.0.2.1"), syntax("EHLO [192.0.2.1]x"), syntax("LHLO \"quoted\""),
        syntax("EHLO " + String(repeating: "a", count: 256)),
        syntax("BDAT"), syntax("BDAT 10 FIRST"), syntax("BDAT x"), syntax("BDAT -1"), syntax("BDAT 10LAST"),
        syntax("BDAT 1234567890123456789"), syntax("BDAT 10 LAST x"), syntax("BDAT 10  LAST"),
        syntax("VRFY"), syntax("EXPN"),
        syntax("AUTH"), syntax("AUTH PL@IN"), syntax("AUTH ABCDEFGHIJKLMNOPQRSTU"), syntax("AUTH PLAIN abc!"),
        syntax("AUTH PLAIN a b"), syntax("AUTH PLAIN ==="), syntax("AUTH PLAIN ab=c"), syntax("AUTH PLAIN ab==="),
        syntax("MAIL"), syntax("MAIL <a@example.org>"), syntax("MAIL TO:<a@example.org>"), syntax("MAIL FROM :<a@example.org>"),
        syntax("RCPT"), syntax("RCPT <b@example.net>"), syntax("RCPT FROM:<b@example.net>"),
        syntax("MAIL FROM:<a@example.org>SIZE=10"), syntax("MAIL FROM:<a@example.org>>"), syntax("RCPT TO:<b@example.net>NOTIFY=NEVER"),
        syntax("MAIL FROM:<a@example.org> =x"), syntax("MAIL FROM:<a@example.org> -SIZE=1"),
        syntax("MAIL FROM:<a@example.org> SI_ZE=1"),
    ]

    static let reversePaths: [FailureFixture] = [
        from(""), from("a@example.org"), from("<a@example.org"), from(" a@example.org>"), from("  <a@example.org>"),
        from("<\"john@example.org>"), from("<\"john\\"), from("<a..b@example.org>"), from("<.a@example.org>"),
        from("<a.@example.org>"), from("<a b@example.org>"), from("<a(b)@example.org>"), from("<@example.org>"),
        from("<a@>"), from("<a>"), from("<Postmaster>"), from("<a@-example.org>"), from("<a@example-.org>"),
        from("<a@example..org>"), from("<a@.example.org>"), from("<a@example.org.>"), from("<a@exa_mple.org>"),
        from("<\(String(repeating: "x", count: 65))@example.org>"),
        from("<\"\(String(repeating: "x", count: 65))\"@example.org>"),
        from("<a@\(String(repeating: "d", count: 64)).example>"),
        from("<a@\([String](repeating: "d", count: 128).joined(separator: "."))>"),
        from("<a@[192.0.2.256]>"), from("<a@[192.0.2]>"), from("<a@[192.0.2.1.5]>"), from("<a@[01.2.3.4]>"),
        from("<a@[1234.2.3.4]>"), from("<a@[]>"), from("<a@[192.0.2.1>"),
        from("<a@[IPv6:1:2:3:4:5:6:7]>"), from("<a@[IPv6:1:2:3:4:5:6:7:8:9]>"), from("<a@[IPv6:1::2::3]>"),
        from("<a@[IPv6:12345::]>"), from("<a@[IPv6:::1.2.3]>"), from("<a@[IPv6:1:2:3:4:5:6:7:8::]>"),
        from("<a@[IPv6:1.2.3.4::]>"), from("<a@[IPv6::::]>"), from("<a@[IPv6:g::1]>"), from("<a@[IPv6:]>"),
        from("<a@[IPv6:1:2:3:4:5:6:7:1.2.3.4]>"),
        from("<a@[tag:]>"), from("<a@[-:x]>"), from("<a@[tag-:x]>"), from("<a@[tag:a\\b]>"), from("<a@[tag:ü]>"),
        from("<@a.example:>"), from("<@a.example,b.example:user@c.example>"), from("<@a.example user@c.example>"),
        from("<@:user@c.example>"),
        from(#"<"a\ü"@example.org>"#),
    ]

    static let forwardPaths: [FailureFixture] = [
        badRecipient("RCPT TO:<>"), badRecipient("RCPT TO:b@example.net"), badRecipient("RCPT TO:<b@example.net"),
        badRecipient("RCPT TO:<Postmaster@>"), badRecipient("RCPT TO:<\"Postmaster\">"),
        badRecipient("RCPT TO:<\(String(repeating: "y", count: 65))@example.net>"),
        badRecipient("RCPT TO:<b@[IPv6:::g]>"), badRecipient("RCPT TO:  <b@example.net>"),
    ]

    static let parameters: [FailureFixture] = [
        badValue("MAIL FROM:<a@example.org> SIZE=abc"), badValue("MAIL FROM:<a@example.org> SIZE="),
        badValue("MAIL FROM:<a@example.org> SIZE"), badValue("MAIL FROM:<a@example.org> SIZE=123456789012345678901"),
        badValue("MAIL FROM:<a@example.org> SIZE=-1"), badValue("MAIL FROM:<a@example.org> BODY=9BIT"),
        badValue("MAIL FROM:<a@example.org> BODY"), badValue("MAIL FROM:<a@example.org> SMTPUTF8=yes"),
        badValue("MAIL FROM:<a@example.org> SMTPUTF8="), badValue("MAIL FROM:<a@example.org> REQUIRETLS=1"),
        badValue("MAIL FROM:<a@example.org> RET=ALL"), badValue("MAIL FROM:<a@example.org> RET"),
        badValue("MAIL FROM:<a@example.org> ENVID=\(String(repeating: "e", count: 101))"),
        badValue("MAIL FROM:<a@example.org> ENVID=a+ZZ"), badValue("MAIL FROM:<a@example.org> ENVID=a+2"),
        badValue("MAIL FROM:<a@example.org> ENVID=ü"), badValue("MAIL FROM:<a@example.org> ENVID=a=b"),
        badValue("MAIL FROM:<a@example.org> AUTH=a+2"), badValue("MAIL FROM:<a@example.org> AUTH="),
        badValue("RCPT TO:<b@example.net> NOTIFY=NEVER,SUCCESS"), badValue("RCPT TO:<b@example.net> NOTIFY=SUCCESS,NEVER"),
        badValue("RCPT TO:<b@example.net> NOTIFY=SUCCESS,SUCCESS"), badValue("RCPT TO:<b@example.net> NOTIFY="),
        badValue("RCPT TO:<b@example.net> NOTIFY=SUCCESS,"), badValue("RCPT TO:<b@example.net> NOTIFY=,DELAY"),
        badValue("RCPT TO:<b@example.net> NOTIFY=SOMETIMES"), badValue("RCPT TO:<b@example.net> NOTIFY"),
        badValue("RCPT TO:<b@example.net> ORCPT=b@example.net"), badValue("RCPT TO:<b@example.net> ORCPT=;b@example.net"),
        badValue("RCPT TO:<b@example.net> ORCPT=rfc822;"), badValue("RCPT TO:<b@example.net> ORCPT=rfc822;a+G1"),
        badValue("RCPT TO:<b@example.net> ORCPT=rfc(822);a"), badValue("RCPT TO:<b@example.net> ORCPT"),
        FailureFixture("MAIL FROM:<a@example.org> FOO=bar", .unknownParameter, 555, e554),
        FailureFixture("MAIL FROM:<a@example.org> XFORWARD", .unknownParameter, 555, e554),
        FailureFixture("MAIL FROM:<a@example.org> NOTIFY=NEVER", .unknownParameter, 555, e554),
        FailureFixture("MAIL FROM:<a@example.org> FOO=bar FOO=bar", .unknownParameter, 555, e554),
        FailureFixture("RCPT TO:<b@example.net> SIZE=10", .unknownParameter, 555, e554),
        FailureFixture("RCPT TO:<Postmaster> BODY=8BITMIME", .unknownParameter, 555, e554),
        FailureFixture("MAIL FROM:<a@example.org> SIZE=1 SIZE=2", .duplicateParameter, 501, e554),
        FailureFixture("MAIL FROM:<a@example.org> BODY=8BITMIME BODY=7BIT", .duplicateParameter, 501, e554),
        FailureFixture("RCPT TO:<b@example.net> NOTIFY=NEVER NOTIFY=SUCCESS", .duplicateParameter, 501, e554),
        FailureFixture("RCPT TO:<b@example.net> ORCPT=rfc822;b ORCPT=rfc822;c", .duplicateParameter, 501, e554),
    ]

    @Test(arguments: lineLevel + verbs + reversePaths + forwardPaths + parameters)
    func rejects(_ fixture: FailureFixture) {
        do {
            let command = try parser.parse(ByteBuffer(bytes: fixture.bytes))
            Issue.record("parsed as \(command)")
        } catch {
            #expect(ParseErrorKind(error) == fixture.kind, "\(error)")
            #expect(error.reply.code.rawValue == fixture.code)
            #expect(error.reply.enhancedCode == fixture.enhanced)
        }
    }

    @Test func pathLongerThan256OctetsIsABadPath() {
        let local = String(repeating: "l", count: 64)
        let domain190 = [String](repeating: String(repeating: "d", count: 62), count: 3).joined(separator: ".") + ".a"
        #expect(domain190.utf8.count == 190)
        do {
            let command = try parser.parse("RCPT TO:<\(local)@\(domain190)>")
            Issue.record("parsed as \(command)")
        } catch {
            #expect(ParseErrorKind(error) == .badForwardPath)
        }
    }

    /// smtplib sends `SMTPUTF8` twice when the caller also asks for it; Postfix accepts that.
    @Test func identicalRepeatsAreTolerated() throws {
        let mail = try parser.parse("MAIL FROM:<a@example.org> SMTPUTF8 SMTPUTF8 size=1 SIZE=1")
        #expect(mail == .mail(.mailbox(Mailbox(localPart: "a", host: .domain("example.org"))), MailParameters(size: 1, smtpUTF8: true)))
        let rcpt = try parser.parse("RCPT TO:<b@example.net> NOTIFY=NEVER NOTIFY=NEVER")
        #expect(rcpt == .rcpt(.mailbox(Mailbox(localPart: "b", host: .domain("example.net"))), RcptParameters(notify: .never)))
    }

    @Test func errorsNamingTheKeywordOrVerbKeepItForTheLog() {
        #expect(throws: CommandParseError.unknownParameter("XSECRET")) {
            try parser.parse("MAIL FROM:<a@example.org> xsecret=1")
        }
        #expect(throws: CommandParseError.duplicateParameter("BODY")) {
            try parser.parse("MAIL FROM:<a@example.org> BODY=7BIT body=8BITMIME")
        }
        #expect(throws: CommandParseError.unrecognizedCommand("FROB")) { try parser.parse("frob x") }
        #expect(throws: CommandParseError.invalidUTF8) { try parser.parse(ByteBuffer(bytes: [0x51, 0xFF])) }
        #expect(throws: CommandParseError.emptyLine) { try parser.parse("") }
    }

    @Test func unrecognizedVerbIsCappedForTheLog() {
        #expect(throws: CommandParseError.unrecognizedCommand(String(repeating: "X", count: 32))) {
            try parser.parse(String(repeating: "x", count: 500))
        }
    }

    @Test(arguments: lineLevel + verbs + reversePaths + forwardPaths + parameters)
    func replyNeverEchoesTheClient(_ fixture: FailureFixture) {
        let marker = "XSECRETMARKER"
        var bytes = fixture.bytes
        bytes.append(contentsOf: Array(" \(marker)".utf8))
        do {
            _ = try parser.parse(ByteBuffer(bytes: bytes))
        } catch {
            #expect(!error.reply.wireText.uppercased().contains(marker))
            #expect(error.reply.wireText.hasSuffix("\r\n"))
        }
    }

    /// Random lines built from grammar-relevant bytes: the parser returns or throws, never traps,
    /// and every error maps to a 5xx reply.
    @Test func survivesRandomLines() {
        let alphabet = Array("MAILFROM:RCPTTO:EHLOBDAT <>@[]\"\\.,;:=+-_ IPv6:0123456789abcdefNOTIFY=SIZE=ORCPT=".utf8)
            + [0x00, 0x09, 0x7F, 0xC3, 0xBC, 0xFF, 0xE2, 0x82, 0xAC]
        var random = SplitMix64(seed: 42)
        var parsed = 0
        for _ in 0..<20_000 {
            let length = Int(random.next(below: 60))
            var bytes = (0..<length).map { _ in alphabet[Int(random.next(below: UInt64(alphabet.count)))] }
            // Give half of the lines a real verb so that argument parsers get exercised.
            let verbs = ["MAIL FROM:<", "RCPT TO:<", "EHLO ", "BDAT ", "AUTH "]
            if random.next(below: 2) == 0 { bytes = Array(verbs[Int(random.next(below: 5))].utf8) + bytes }
            do {
                _ = try parser.parse(ByteBuffer(bytes: bytes))
                parsed += 1
            } catch {
                #expect(error.reply.code.isPermanentFailure)
            }
        }
        #expect(parsed > 0)
    }
}
