import Foundation
import NIOCore
import Testing
@testable import MailStore

/// The IMAP framer, parser, modified UTF-7 and the MIME structure, without sockets.
@Suite(.serialized) struct IMAPCodecTests {
    static func parse(_ line: String) -> Result<TaggedCommand, IMAPParseError> { IMAPParser.parse(Array(line.utf8)) }

    static func command(_ line: String) throws -> IMAPCommand {
        try parse(line).get().command
    }

    static func frames(_ input: String, limits: IMAPLimits = IMAPLimits()) -> [IMAPCommandFramer.Frame] {
        var framer = IMAPCommandFramer(limits: limits)
        var buffer = ByteBuffer(string: input)
        var frames: [IMAPCommandFramer.Frame] = []
        while let frame = framer.next(&buffer) { frames.append(frame) }
        return frames
    }

    @Test func commonCommands() throws {
        #expect(try Self.command("a1 CAPABILITY") == .capability)
        #expect(try Self.command("a2 login alice \"pass \\\"word\\\"\"") == .login(user: "alice", password: "pass \"word\""))
        #expect(try Self.command("a3 AUTHENTICATE PLAIN AGFsaWNlAHB3") == .authenticate(mechanism: "PLAIN", initialResponse: "AGFsaWNlAHB3"))
        #expect(try Self.command("a4 select inbox") == .select("INBOX"))
        #expect(try Self.command("a5 LIST \"\" *") == .list(reference: "", pattern: "*", subscribedOnly: false, specialUseOnly: false))
        #expect(try Self.command("a6 LIST (SPECIAL-USE) \"\" \"*\" RETURN (SPECIAL-USE)")
                == .list(reference: "", pattern: "*", subscribedOnly: false, specialUseOnly: true))
        #expect(try Self.command("a7 STATUS Sent (MESSAGES UIDNEXT unseen)") == .status("Sent", [.messages, .uidNext, .unseen]))
        #expect(try Self.command("a8 UID STORE 1:* +FLAGS.SILENT (\\Deleted $Junk)")
                == .store(SequenceSet(ranges: [.init(first: 1, last: nil)]), .add(["\\Deleted", "$Junk"]), silent: true, uid: true))
        #expect(try Self.command("a9 STORE 2,4:5 FLAGS \\Seen") == .store(SequenceSet(ranges: [.init(first: 2, last: 2), .init(first: 4, last: 5)]),
                                                                          .replace(["\\Seen"]), silent: false, uid: false))
        #expect(try Self.command("b1 UID MOVE 3 Trash") == .move(SequenceSet(ranges: [.init(first: 3, last: 3)]), "Trash", uid: true))
        #expect(try Self.command("b2 UID EXPUNGE 4:7") == .expunge(uids: SequenceSet(ranges: [.init(first: 4, last: 7)])))
        #expect(try Self.command("b3 ID (\"name\" \"mutt\" \"version\" NIL)") == .id(["name": "mutt", "version": ""]))
        #expect(try Self.command("b4 GETQUOTAROOT INBOX") == .getQuotaRoot("INBOX"))
        #expect(try Self.command("b5 ENABLE CONDSTORE utf8=accept") == .enable(["CONDSTORE", "UTF8=ACCEPT"]))
    }

    @Test func fetchAttributesAndSections() throws {
        guard case .fetch(_, let attributes, let uid) = try Self.command(
            "f1 UID FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (Subject From)] BODY[1.2]<0.100> BODY[2.MIME] RFC822.SIZE BODYSTRUCTURE)") else {
            Issue.record("not a fetch"); return
        }
        #expect(uid)
        #expect(attributes == [
            .uid, .flags, .body(BodySection(text: .headerFields(["SUBJECT", "FROM"])), peek: true),
            .body(BodySection(part: [1, 2], partial: .init(origin: 0, count: 100)), peek: false),
            .body(BodySection(part: [2], text: .mime), peek: false), .rfc822Size, .bodyStructure(extensible: true),
        ])
        #expect(BodySection(part: [1, 2], partial: .init(origin: 0, count: 100)).responseName == "BODY[1.2]<0>")
        guard case .fetch(_, let all, _) = try Self.command("f2 FETCH 1 ALL") else { return }
        #expect(all == [.flags, .internalDate, .rfc822Size, .envelope])
        guard case .fetch(_, let one, _) = try Self.command("f3 FETCH * BODY[]") else { return }
        #expect(one == [.body(BodySection(), peek: false)])
    }

    @Test func searchKeys() throws {
        let key = try Self.command("s1 SEARCH CHARSET UTF-8 UNSEEN OR FROM bob (SUBJECT \"x y\" LARGER 10) NOT DELETED SINCE 1-Feb-2026 UID 5:*")
        guard case .search(.and(let keys), false) = key else { Issue.record("\(key)"); return }
        #expect(keys.count == 5)
        #expect(keys[0] == .noFlag("\\Seen"))
        #expect(keys[1] == .or(.header("FROM", "bob"), .and([.header("SUBJECT", "x y"), .larger(10)])))
        #expect(keys[2] == .not(.flag("\\Deleted")))
        #expect(keys[4] == .uid(SequenceSet(ranges: [.init(first: 5, last: nil)])))
        #expect(try Self.command("s2 UID SEARCH 1:3") == .search(.sequence(SequenceSet(ranges: [.init(first: 1, last: 3)])), uid: true))
        if case .failure(let error) = Self.parse("s3 SEARCH CHARSET KOI8-R ALL") { #expect(error.message.hasPrefix("[BADCHARSET")) }
    }

    @Test func malformedCommandsAreBadWithTheirTag() {
        for (line, message) in [
            ("t1 FETCH 1 (FLAGS", "Unexpected end of command"),
            ("t2 FETCH 1 FLAGS)", "Unexpected characters after FETCH"),
            ("t3 SEARCH ((ALL)", "Unexpected end of command"),
            ("t4 FROB", "Unknown command"),
            ("t5 FETCH 0 FLAGS", "Bad sequence number"),
            ("t6 SELECT &Jjo", "Bad mailbox name encoding"),
            ("t7 SELECT \"&AGEAYgBj-\"", "Bad mailbox name encoding"),   // encodes ASCII: not canonical
            ("t8 STORE 1 +FLAGS (\\Recent)", "Unknown system flag"),
            ("t9 LOGIN alice", "Unexpected end of command"),
            ("t10 UID LIST", "Unknown UID command"),
            ("t11 APPEND INBOX {5}\r\nabc", "Literal shorter than announced"),
        ] {
            guard case .failure(let error) = Self.parse(line) else { Issue.record("accepted: \(line)"); continue }
            #expect(error.tag == line.split(separator: " ").first.map(String.init), "\(line)")
            #expect(error.message == message, "\(line)")
        }
        guard case .failure(let untagged) = Self.parse("+bad NOOP") else { return }
        #expect(untagged.tag == nil)
    }

    /// CPU-bound loops run off the cooperative pool (docs/roadmap.md, working agreements).
    @Test func tenThousandNestedParensAreRefusedWithoutRecursion() async throws {
        let (first, nested) = try await offThePool {
            (Self.parse("n1 SEARCH " + String(repeating: "(", count: 10_000) + "ALL" + String(repeating: ")", count: 10_000)),
             Self.parse("n2 SEARCH " + String(repeating: "NOT ", count: 10_000) + "ALL"))
        }
        guard case .failure(let error) = first else { Issue.record("accepted"); return }
        #expect(error.tag == "n1" && error.message == "Nesting too deep")
        guard case .failure(let second) = nested else { Issue.record("accepted"); return }
        #expect(second.message == "Nesting too deep")
        // Within the limit it parses.
        #expect((try? Self.command("n3 SEARCH " + String(repeating: "(", count: 30) + "ALL" + String(repeating: ")", count: 30))) == .search(.all, uid: false))
    }

    @Test func framerCollectsLiteralsAndAsksForSynchronisingOnes() {
        let frames = Self.frames("a1 LOGIN {5}\r\nalice {2+}\r\npw\r\na2 NOOP\r\n")
        #expect(frames == [.continuationNeeded, .command(Array("a1 LOGIN {5}\r\nalice {2+}\r\npw".utf8)), .command(Array("a2 NOOP".utf8))])
        guard case .command(let bytes) = frames[1] else { return }
        #expect((try? IMAPParser.parse(bytes).get().command) == .login(user: "alice", password: "pw"))
        // Bare LF ends a line too.
        #expect(Self.frames("a3 NOOP\n") == [.command(Array("a3 NOOP".utf8))])
    }

    @Test func framerRefusesOversizedInputWithoutBufferingIt() {
        var limits = IMAPLimits(maxLineLength: 100, maxLiteralSize: 10, maxAppendSize: 1000)
        // A synchronising literal over the limit: refused before the client sends it.
        #expect(Self.frames("a1 LOGIN {11}\r\na2 NOOP\r\n", limits: limits)
                == [.literalTooLarge(tag: "a1", synchronizing: true), .command(Array("a2 NOOP".utf8))])
        // APPEND may carry up to maxAppendSize (streamed: see below); beyond, refused the same way.
        #expect(Self.frames("a3 APPEND INBOX {500}\r\n", limits: limits)
                == [.appendBegin(prefix: Array("a3 APPEND INBOX ".utf8), size: 500, synchronizing: true)])
        #expect(Self.frames("a4 APPEND INBOX {99999999999999999999}\r\n", limits: limits) == [.literalTooLarge(tag: "a4", synchronizing: true)])
        // LITERAL+ over the limit: its octets and the rest of the command are skipped.
        let skipped = "a5 LOGIN {20+}\r\n" + String(repeating: "x", count: 20) + " {3+}\r\nabc\r\na6 NOOP\r\n"
        #expect(Self.frames(skipped, limits: limits) == [.literalTooLarge(tag: "a5", synchronizing: false), .command(Array("a6 NOOP".utf8))])
        // An over-long line, complete or still arriving: one tooLong, then the next command.
        let long = "a7 NOOP " + String(repeating: "y", count: 200) + "\r\na8 NOOP\r\n"
        #expect(Self.frames(long, limits: limits) == [.tooLong(tag: "a7"), .command(Array("a8 NOOP".utf8))])
        var framer = IMAPCommandFramer(limits: limits)
        var buffer = ByteBuffer(string: "a9 NOOP " + String(repeating: "z", count: 300))
        #expect(framer.next(&buffer) == .tooLong(tag: "a9"))
        #expect(buffer.readableBytes == 0)
        buffer.writeString(String(repeating: "z", count: 300) + "\r\nb1 NOOP\r\n")
        #expect(framer.next(&buffer) == .command(Array("b1 NOOP".utf8)))
        limits.maxLineLength = 65_536
        // Lines only (IDLE, AUTHENTICATE): no literal handling.
        var lines = IMAPCommandFramer(limits: limits)
        lines.linesOnly = true
        var done = ByteBuffer(string: "DONE\r\n")
        #expect(lines.next(&done) == .line("DONE"))
    }

    /// A large APPEND literal comes out in 64 KiB pieces, then what followed it on its line.
    @Test func framerStreamsLargeAppendLiterals() {
        let size = 150_000
        let input = "a1 APPEND Drafts (\\Seen) {\(size)+}\r\n" + String(repeating: "m", count: size) + "\r\na2 NOOP\r\n"
        let frames = Self.frames(input)
        #expect(frames.first == .appendBegin(prefix: Array("a1 APPEND Drafts (\\Seen) ".utf8), size: size, synchronizing: false))
        let pieces = frames.compactMap { if case .appendData(let data) = $0 { data.readableBytes } else { nil } }
        #expect(pieces == [65_536, 65_536, size - 131_072])
        #expect(frames.suffix(2) == [.appendEnd(trailing: []), .command(Array("a2 NOOP".utf8))])
        // Abandoned (refused) LITERAL+: its octets and line are skipped.
        var framer = IMAPCommandFramer(limits: IMAPLimits())
        var buffer = ByteBuffer(string: input)
        #expect(framer.next(&buffer) == frames.first)
        framer.abandonLiteral()
        #expect(framer.next(&buffer) == .command(Array("a2 NOOP".utf8)))
    }

    /// Every split of a command with literals gives the same frames (NIOTestUtils-style).
    @Test func framerWorksOnEveryChunking() async throws {
        let input = Array("c1 APPEND Drafts (\\Seen) {12}\r\nSubject: x\r\n\r\nc2 SELECT {5+}\r\nINBOX\r\n".utf8)
        let expected = Self.frames(String(decoding: input, as: UTF8.self))
        #expect(expected.count == 3)
        let wrong = try await offThePool { () -> [Int] in
            (1..<input.count).filter { split in
                var framer = IMAPCommandFramer(limits: IMAPLimits())
                var frames: [IMAPCommandFramer.Frame] = []
                var buffer = ByteBuffer(bytes: input[..<split])
                while let frame = framer.next(&buffer) { frames.append(frame) }
                buffer.writeBytes(input[split...])
                while let frame = framer.next(&buffer) { frames.append(frame) }
                return frames != expected
            }
        }
        #expect(wrong.isEmpty, "splits at \(wrong)")
    }

    /// Seeded random input (mutated real commands and noise) through framer, parser and session:
    /// every frame gets an answer or waits for more, nothing traps.
    @Test func randomInputNeverTraps() async throws {
        let runaway = try await offThePool { Self.feedRandomInput(count: 400) }   // short: CPU here slows the live suites
        #expect(runaway == 0)   // no input makes the framer produce frames without consuming
    }

    /// Returns how many inputs produced 100 frames or more.
    static func feedRandomInput(count: Int) -> Int {
        struct SplitMix: RandomNumberGenerator {
            var state: UInt64
            mutating func next() -> UInt64 {
                state &+= 0x9E37_79B9_7F4A_7C15
                var z = state
                z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
                z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
                return z ^ (z >> 31)
            }
        }
        var random = SplitMix(state: 8)
        let seeds = ["a1 FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)]<0.10>)", "a2 SEARCH OR (FROM \"x\" NOT SEEN) UID 1,3:*",
                     "a3 APPEND INBOX (\\Seen) \"01-Feb-2026 10:00:00 +0000\" {3+}\r\nabc", "a4 LOGIN {1}\r\nx {2+}\r\nyy",
                     "a5 STORE 1 +FLAGS.SILENT (\\Deleted)", "a6 LIST (SPECIAL-USE) \"\" * RETURN (CHILDREN)", "a7 ID (\"a\" NIL)"]
        let alphabet = Array("()[]<>{}+*%\\\" \r\n0123456789.:,-ABCDEFGHIJKLMNOPQRSTUVWXYZabc&".utf8)
        var runaway = 0
        for _ in 0..<count {
            var bytes = Array(seeds.randomElement(using: &random)!.utf8)
            for _ in 0..<Int.random(in: 1...8, using: &random) {
                let position = Int.random(in: 0...bytes.count, using: &random)
                switch Int.random(in: 0..<3, using: &random) {
                case 0 where position < bytes.count: bytes.remove(at: position)
                case 1: bytes.insert(alphabet.randomElement(using: &random)!, at: position)
                default: bytes.insert(UInt8.random(in: 0...255, using: &random), at: min(position, bytes.count))
                }
            }
            _ = IMAPParser.parse(bytes)
            var session = IMAPSession(limits: IMAPLimits(maxLineLength: 512, maxLiteralSize: 64, maxAppendSize: 128), implicitTLS: true,
                                      canStartTLS: false)
            _ = session.authenticationCompleted(.success(identity: "fuzz"))
            var framer = IMAPCommandFramer(limits: session.limits)
            var buffer = ByteBuffer(bytes: bytes + Array("\r\n".utf8))
            var frames = 0
            while frames < 100, let frame = framer.next(&buffer) {
                frames += 1
                for action in session.receive(frame) {
                    switch action {
                    case .execute(let request): _ = session.commandCompleted(IMAPCommandResult(tagged: "\(request.tag) OK", selected: nil))
                    case .beginAppend: _ = session.appendStarted(refusal: "NO fuzz")
                    case .appendData: _ = session.appendDataWritten(true)
                    case .abandonLiteral: framer.abandonLiteral()
                    default: break
                    }
                }
                framer.linesOnly = session.wantsLine
            }
            if frames >= 100 { runaway += 1 }
        }
        return runaway
    }

    @Test func modifiedUTF7RoundTrips() {
        for name in ["INBOX", "Entwürfe", "日本語/テスト", "A&B", "~peter/mail/台北/日本語", "😀 emoji"] {
            let wire = ModifiedUTF7.encode(name)
            #expect(wire.utf8.allSatisfy { (0x20...0x7E).contains($0) })
            #expect(ModifiedUTF7.decode(wire) == name, "\(name) → \(wire)")
        }
        #expect(ModifiedUTF7.encode("Entwürfe") == "Entw&APw-rfe")
        #expect(ModifiedUTF7.encode("A&B") == "A&-B")
        #expect(ModifiedUTF7.decode("~peter/mail/&U,BTFw-/&ZeVnLIqe-") == "~peter/mail/台北/日本語")
        for bad in ["&Jjo", "&AGE-", "caf\u{E9}", "&2D0-", "&U,BTFw"] {
            #expect(ModifiedUTF7.decode(bad) == nil, "\(bad)")
        }
    }

    static let multipart = Array("""
        From: "Sender, S." <sender@example.net>\r
        To: alice@example.test, undisclosed:;\r
        Subject: multipart\r
        Content-Type: multipart/mixed; boundary="XYZ"\r
        \r
        preamble\r
        --XYZ\r
        Content-Type: text/plain; charset=utf-8\r
        \r
        Hello\r
        two\r
        --XYZ\r
        Content-Type: message/rfc822\r
        \r
        Subject: inner\r
        \r
        inner body\r
        --XYZ--\r

        """.utf8)

    @Test func bodyStructureEnvelopeAndSections() {
        let tree = MIMEEntity.parse(Self.multipart)
        var out = IMAPResponseBuilder()
        tree.bodyStructure(Self.multipart, extensible: false, into: &out)
        #expect(String(decoding: out.bytes, as: UTF8.self) == """
            (("TEXT" "PLAIN" ("CHARSET" "utf-8") NIL NIL "7BIT" 10 2)("MESSAGE" "RFC822" NIL NIL NIL "7BIT" 28 \
            (NIL "inner" NIL NIL NIL NIL NIL NIL NIL NIL) ("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 10 1) 3) "MIXED")
            """)
        var envelope = IMAPResponseBuilder()
        tree.envelope(into: &envelope)
        #expect(String(decoding: envelope.bytes, as: UTF8.self) == """
            (NIL "multipart" (("Sender, S." NIL "sender" "example.net")) (("Sender, S." NIL "sender" "example.net")) \
            (("Sender, S." NIL "sender" "example.net")) ((NIL NIL "alice" "example.test")(NIL NIL "undisclosed" NIL)(NIL NIL NIL NIL)) \
            NIL NIL NIL NIL)
            """)
        func section(_ section: BodySection) -> String? {
            tree.octets(of: section, in: Self.multipart).map { String(decoding: $0, as: UTF8.self) }
        }
        #expect(section(BodySection(part: [1])) == "Hello\r\ntwo")
        #expect(section(BodySection(part: [1], text: .mime)) == "Content-Type: text/plain; charset=utf-8\r\n\r\n")
        #expect(section(BodySection(part: [2, 1])) == "inner body")   // the CRLF before a delimiter is the delimiter's
        #expect(section(BodySection(part: [2], text: .header)) == "Subject: inner\r\n\r\n")
        #expect(section(BodySection(part: [2], text: .text)) == "inner body")
        #expect(section(BodySection(text: .headerFields(["SUBJECT", "TO"]))) == "To: alice@example.test, undisclosed:;\r\nSubject: multipart\r\n\r\n")
        #expect(section(BodySection(text: .headerFieldsNot(["SUBJECT", "TO", "FROM"]))) == "Content-Type: multipart/mixed; boundary=\"XYZ\"\r\n\r\n")
        #expect(section(BodySection(part: [3])) == nil)
        #expect(section(BodySection(part: [1], text: .header)) == nil)   // not a message/rfc822 part
        // A single-part message is its own part 1.
        let single = Array("Subject: s\r\n\r\nbody\r\n".utf8)
        #expect(MIMEEntity.parse(single).octets(of: BodySection(part: [1]), in: single) == Array("body\r\n".utf8))
    }

    @Test func hostileMIMEIsBounded() {
        // 200 nested multiparts: described down to the walker's depth limit, no deeper.
        var message = ""
        for level in 0..<200 { message += "Content-Type: multipart/mixed; boundary=\"b\(level)\"\r\n\r\n--b\(level)\r\n" }
        message += "\r\nleaf\r\n"
        let bytes = Array(message.utf8)
        var out = IMAPResponseBuilder()
        MIMEEntity.parse(bytes).bodyStructure(bytes, extensible: true, into: &out)
        #expect(out.bytes.count < 20_000)
    }

    @Test func stringsQuotedOrLiteral() {
        #expect(IMAPEncoding.string("a \"b\" \\c") == Array("\"a \\\"b\\\" \\\\c\"".utf8))
        #expect(IMAPEncoding.string("line\r\nbreak") == Array("{11}\r\nline\r\nbreak".utf8))
        #expect(IMAPEncoding.mailbox("Entwürfe") == "Entw&APw-rfe")
        #expect(IMAPEncoding.mailbox("My Folder") == "\"My Folder\"")
        #expect(IMAPDates.format(Date(timeIntervalSince1970: 1_700_000_000)) == "14-Nov-2023 22:13:20 +0000")
        #expect(IMAPDates.parseDateTime("14-Nov-2023 23:13:20 +0100") == Date(timeIntervalSince1970: 1_700_000_000))
        #expect(IMAPDates.parseDay("1-feb-2026") != nil && IMAPDates.parseDay("31-Foo-2026") == nil)
        #expect(SequenceSet.compact([1, 2, 3, 7, 9, 10]) == "1:3,7,9:10")
    }
}
