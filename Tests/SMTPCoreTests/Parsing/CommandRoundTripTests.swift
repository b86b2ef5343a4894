import NIOCore
import SMTPCore
import Testing

/// parse(encode(x)) == x: `Command.wireLine` is the encoder, ``CommandParser`` the decoder.
@Suite struct CommandRoundTripTests {
    let parser = CommandParser()

    static let mailboxHosts: [MailHost] = [
        .domain("example.org"), .domain("Mixed-Case.Example"), .domain("xn--bcher-kva.example"),
        .domain("bücher.example"), .domain("1.2.3.4"), .ipv4("192.0.2.1"), .ipv6("2001:db8::1"),
        .ipv6("::ffff:192.0.2.1"), .ipv6("fe80:0:0:0:0:0:0:1"), .general(tag: "x-tag", content: "a.b/c"),
    ]

    static let helloHosts: [MailHost] = mailboxHosts + [
        .domain("host_name.example."), .domain("localhost"), .domain("-odd-"),
    ]

    static let localParts: [String] = [
        "a", "first.last", "user+tag", "o'neil", "john doe", "a\"b", "a\\b", "", "ü", "例え",
        "a..b", ".a", "a.", "a@b", "(comment)", "\"quoted\"", String(repeating: "x", count: 64),
    ]

    static let mailParameters: [MailParameters] = [
        MailParameters(),
        MailParameters(size: 0),
        MailParameters(size: Int.max),
        MailParameters(body: .binaryMIME, smtpUTF8: true),
        MailParameters(body: .sevenBit, dsnReturn: .full),
        MailParameters(dsnReturn: .headers, envelopeID: "QQ314159"),
        MailParameters(envelopeID: "a+b=c d ü"),
        MailParameters(auth: "<>"),
        MailParameters(auth: "user+x@example.org"),
        MailParameters(requireTLS: true),
        MailParameters(size: 1234, body: .eightBitMIME, smtpUTF8: true, dsnReturn: .headers,
                       envelopeID: "id", auth: "a@b", requireTLS: true),
    ]

    static let rcptParameters: [RcptParameters] = {
        var all = [RcptParameters(), RcptParameters(notify: .never)]
        for bits in 1..<8 {
            all.append(RcptParameters(notify: .on(success: bits & 1 != 0, failure: bits & 2 != 0, delay: bits & 4 != 0)))
        }
        all.append(RcptParameters(originalRecipient: OriginalRecipient(addressType: "rfc822", address: "b@example.net")))
        all.append(RcptParameters(notify: .never, originalRecipient: OriginalRecipient(addressType: "utf-8", address: "ü=x+y@bücher.example")))
        return all
    }()

    static let fixedCommands: [Command] = {
        var commands: [Command] = [.data, .rset, .quit, .startTLS]
        for host in helloHosts { commands += [.ehlo(host), .helo(host), .lhlo(host)] }
        var index = 0
        for local in localParts {
            for host in mailboxHosts {
                let mailbox = Mailbox(localPart: local, host: host)
                commands.append(.mail(.mailbox(mailbox), mailParameters[index % mailParameters.count]))
                commands.append(.rcpt(.mailbox(mailbox), rcptParameters[index % rcptParameters.count]))
                index += 1
            }
        }
        commands += mailParameters.map { .mail(.null, $0) }
        commands += rcptParameters.map { .rcpt(.postmaster, $0) }
        for size in [0, 1, 1000, 999_999_999_999_999_999] { commands += [.bdat(size: size, last: false), .bdat(size: size, last: true)] }
        for text in ["john", "John Smith", "<ü@example.org>", "\"quoted words\""] { commands += [.vrfy(text), .expn(text)] }
        for text in [nil, "x", "a b c"] as [String?] { commands += [.help(text), .noop(text)] }
        commands += [
            .auth(mechanism: "PLAIN", initialResponse: nil),
            .auth(mechanism: "PLAIN", initialResponse: "AGFsaWNlAHNlY3JldA=="),
            .auth(mechanism: "LOGIN", initialResponse: "="),
            .auth(mechanism: "SCRAM-SHA-256", initialResponse: "biwsbj11c2VyLHI9ZmFz"),
            .auth(mechanism: "X_1", initialResponse: "YQ="),
        ]
        return commands
    }()

    @Test(arguments: fixedCommands)
    func roundTrips(_ command: Command) throws {
        #expect(try parser.parse(command.wireLine) == command, "\(command.wireLine)")
    }

    /// Pseudo-random mailboxes and parameters from a fixed seed (so a failure is reproducible).
    @Test func roundTripsGeneratedEnvelopes() throws {
        var random = SplitMix64(seed: 0x6D61_696C_6E6F_6465)
        for _ in 0..<2_000 {
            let mailbox = Mailbox(localPart: random.localPart(), host: .domain(random.domain()))
            let mail = Command.mail(.mailbox(mailbox), MailParameters(size: random.next(below: 2) == 0 ? nil : Int(random.next(below: 1 << 40)),
                                                                      envelopeID: random.next(below: 2) == 0 ? nil : random.text(maxLength: 30)))
            let rcpt = Command.rcpt(.mailbox(mailbox), RcptParameters(
                originalRecipient: OriginalRecipient(addressType: "rfc822", address: random.text(maxLength: 40))))
            #expect(try parser.parse(mail.wireLine) == mail, "\(mail.wireLine)")
            #expect(try parser.parse(rcpt.wireLine) == rcpt, "\(rcpt.wireLine)")
        }
    }
}

/// A small deterministic generator (SplitMix64), enough for test data.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func next(below bound: UInt64) -> UInt64 { next() % bound }

    /// Printable ASCII (space included) and a few non-ASCII scalars, as allowed in a quoted local part.
    mutating func text(maxLength: Int) -> String {
        let extra: [Unicode.Scalar] = ["ü", "ß", "例", "€"]
        var out = String.UnicodeScalarView()
        for _ in 0...Int(next(below: UInt64(maxLength))) {
            let pick = next(below: 100)
            out.append(pick < 96 ? Unicode.Scalar(UInt8(32 + pick % 95)) : extra[Int(pick - 96)])
        }
        return String(out)
    }

    /// A local part of at most 64 octets (the limit is on the decoded form).
    mutating func localPart() -> String {
        var local = text(maxLength: 20)
        while local.utf8.count > 64 { local.removeLast() }
        return local
    }

    /// `label(.label)*` with LDH and U-label characters, no leading or trailing hyphen.
    mutating func domain() -> String {
        let letters = Array("abcdefghijklmnopqrstuvwxyz0123456789-üé")
        let labels = (0...Int(next(below: 3))).map { _ -> String in
            var label = String((0...Int(next(below: 10))).map { _ in letters[Int(next(below: UInt64(letters.count)))] })
            while label.first == "-" { label.removeFirst() }
            while label.last == "-" { label.removeLast() }
            return label.isEmpty ? "x" : label
        }
        return labels.joined(separator: ".")
    }
}
