import Foundation
import NIOConcurrencyHelpers
import NIOCore
import SMTPCore
import Testing
@testable import MailStore

/// Collects what a command writes.
final class CollectingWriter: IMAPResponseWriter {
    private let collected = NIOLockedValueBox<[UInt8]>([])

    func write(_ bytes: [UInt8]) async throws { collected.withLockedValue { $0 += bytes } }

    func take() -> String {
        collected.withLockedValue { bytes in
            defer { bytes = [] }
            return String(decoding: bytes, as: UTF8.self)
        }
    }
}

/// An IMAP session over a temp-dir SQLite store, driven as the handler drives it (no sockets).
struct IMAPDriver {
    var session: IMAPSession
    let commands: IMAPMailboxCommands
    let writer = CollectingWriter()
    /// The identity a LOGIN gets (any password but "wrong").
    var identity = "alice"
    var watching: Int64?
    var framer: IMAPCommandFramer
    var appendWriter: (any BodyWriter)?

    init(store: SQLiteMailboxStore, tls: Bool = true, quota: QuotaLimits = QuotaLimits()) {
        session = IMAPSession(implicitTLS: tls, canStartTLS: true)
        commands = IMAPMailboxCommands(store: store, quota: quota, threadPool: IMAPTestThreads.pool)
        framer = IMAPCommandFramer(limits: session.limits)
        _ = session.greeting()
    }

    /// Feeds raw client octets through the framer, as the handler does.
    mutating func feed(_ input: String) async -> String {
        var buffer = ByteBuffer(string: input)
        var out = ""
        while !session.isClosed {
            framer.linesOnly = session.wantsLine
            guard let frame = framer.next(&buffer) else { break }
            out += await perform(session.receive(frame))
        }
        return out
    }

    /// Sends one command line and returns everything the server answered.
    mutating func send(_ line: String) async -> String {
        await perform(session.receive(line: line))
    }

    mutating func perform(_ actions: [IMAPSession.Action]) async -> String {
        var out = ""
        var queue = actions
        while !queue.isEmpty {
            let action = queue.removeFirst()
            switch action {
            case .send(let text): out += text
            case .authenticate(let credentials):
                queue += session.authenticationCompleted(credentials.password == "wrong" ? .invalidCredentials : .success(identity: identity))
            case .execute(let request):
                let result = await commands.run(request, writer: writer)
                out += writer.take()
                queue += session.commandCompleted(result)
            case .watch(let id): watching = id
            case .stopWatching: watching = nil
            case .startTLS: session.tlsEstablished()
            case .close: break
            case .beginAppend(let append):
                let refusal = await commands.prepareAppend(append)
                if refusal == nil { appendWriter = try? commands.store.stage() }
                queue += session.appendStarted(refusal: refusal)
            case .appendData(let data):
                let written: Bool
                do {
                    try await appendWriter?.write(data)
                    written = appendWriter != nil
                } catch {
                    written = false
                }
                queue += session.appendDataWritten(written)
            case .finishAppend(let append, let selected):
                guard let staged = try? await appendWriter?.finish() else { Issue.record("no body"); break }
                appendWriter = nil
                let result = await commands.appendStaged(staged, append, selected: selected, writer: writer)
                out += writer.take()
                queue += session.commandCompleted(result)
            case .cancelAppend:
                await appendWriter?.abort()
                appendWriter = nil
            case .abandonLiteral:
                framer.abandonLiteral()
            }
        }
        return out
    }

    mutating func login() async {
        let reply = await send("l1 LOGIN alice secret")
        #expect(reply.hasPrefix("l1 OK [CAPABILITY "), "\(reply)")
    }
}

/// Serialized: each test fsyncs many commits; run together they crowd the live suites' disk and threads.
@Suite(.serialized) struct IMAPSessionTests {
    static func deliver(_ text: String, to user: String = "alice", scratch: ScratchStore) async throws {
        let body = try await scratch.stage(text)
        _ = try await scratch.store.deliver(body, to: [DeliveryTarget(user: user, quota: QuotaLimits())], deduplicationKey: nil, allOrNothing: false)
    }

    @Test func noCredentialsBeforeTLSAndStartTLSResets() async throws {
        let scratch = try await ScratchStore.make(threadPool: IMAPTestThreads.pool)
        defer { scratch.remove() }
        var driver = IMAPDriver(store: scratch.store, tls: false)
        let capability = await driver.send("a1 CAPABILITY")
        #expect(capability.contains("STARTTLS") && capability.contains("LOGINDISABLED") && !capability.contains("AUTH=PLAIN"))
        #expect(await driver.send("a2 LOGIN alice secret") == "a2 NO [PRIVACYREQUIRED] Use STARTTLS first\r\n")
        #expect(await driver.send("a3 AUTHENTICATE PLAIN AGFsaWNlAHB3") == "a3 NO [PRIVACYREQUIRED] Use STARTTLS first\r\n")
        #expect(await driver.send("a4 SELECT INBOX") == "a4 BAD Log in first\r\n")
        #expect(driver.session.receive(line: "a5 STARTTLS") == [.send("a5 OK Begin TLS negotiation now\r\n"), .startTLS])
        #expect(driver.session.isSuspended)
        driver.session.tlsEstablished()
        let after = await driver.send("a6 CAPABILITY")
        #expect(!after.contains("STARTTLS") && !after.contains("LOGINDISABLED") && after.contains("AUTH=PLAIN SASL-IR"))
        #expect(await driver.send("a7 STARTTLS") == "a7 BAD TLS already active\r\n")
        // AUTHENTICATE PLAIN with a continuation, then wrong credentials, then right.
        #expect(await driver.send("a8 AUTHENTICATE PLAIN") == "+ \r\n")
        #expect(await driver.send(Base64.encode(Array("\0alice\0wrong".utf8))) == "a8 NO [AUTHENTICATIONFAILED] Authentication failed\r\n")
        let plain = await driver.send("a9 AUTHENTICATE PLAIN " + Base64.encode(Array("\0alice\0secret".utf8)))
        #expect(plain.hasPrefix("a9 OK [CAPABILITY IMAP4rev1"))
        #expect(await driver.send("b1 LOGIN alice secret") == "b1 BAD Already authenticated\r\n")
    }

    @Test func badCommandsKeepTheSessionUntilTheErrorLimit() async throws {
        let scratch = try await ScratchStore.make(threadPool: IMAPTestThreads.pool)
        defer { scratch.remove() }
        var driver = IMAPDriver(store: scratch.store)
        driver.session = IMAPSession(limits: IMAPLimits(maxErrors: 3), implicitTLS: true, canStartTLS: false)
        #expect(await driver.send("x1 FETCH 1 (FLAGS") == "x1 BAD Unexpected end of command\r\n")
        #expect(await driver.send("x2 NOOP") == "x2 OK NOOP completed\r\n")
        #expect(await driver.send("x3 SELECT &Jjo") == "x3 BAD Bad mailbox name encoding\r\n")
        #expect(await driver.send("x4 FROB") == "x4 BAD Unknown command\r\n* BYE Too many errors, closing\r\n")
        #expect(driver.session.isClosed)
    }

    @Test func failedLoginsAndTimeoutClose() async throws {
        let scratch = try await ScratchStore.make(threadPool: IMAPTestThreads.pool)
        defer { scratch.remove() }
        var driver = IMAPDriver(store: scratch.store)
        for tag in ["f1", "f2"] {
            #expect(await driver.send("\(tag) LOGIN alice wrong") == "\(tag) NO [AUTHENTICATIONFAILED] Authentication failed\r\n")
        }
        #expect(await driver.send("f3 LOGIN alice wrong") == "f3 NO [AUTHENTICATIONFAILED] Authentication failed\r\n* BYE Too many failures\r\n")
        #expect(driver.session.isClosed && driver.session.receive(command: "f4 NOOP").isEmpty)
        var idle = IMAPSession(implicitTLS: true, canStartTLS: false)
        #expect(idle.timedOut() == [.send("* BYE Idle timeout, closing\r\n"), .close])
        #expect(idle.isClosed)
    }

    @Test func selectFetchStoreSearch() async throws {
        let scratch = try await ScratchStore.make(threadPool: IMAPTestThreads.pool)
        defer { scratch.remove() }
        try await Self.deliver("From: Bob <bob@example.net>\r\nSubject: first\r\n\r\nhello world\r\n", scratch: scratch)
        try await Self.deliver("From: carol@example.net\r\nSubject: second\r\n\r\nsomething else\r\n", scratch: scratch)
        var driver = IMAPDriver(store: scratch.store)
        await driver.login()
        #expect(await driver.send("s0 FETCH 1 FLAGS") == "s0 BAD No mailbox selected\r\n")
        let select = await driver.send("s1 SELECT INBOX")
        #expect(select.contains("* 2 EXISTS\r\n") && select.contains("* OK [UNSEEN 1]") && select.contains("* OK [UIDNEXT 3]"))
        #expect(select.hasSuffix("s1 OK [READ-WRITE] SELECT completed\r\n"))
        #expect(await driver.send("s2 FETCH 1:* (UID FLAGS RFC822.SIZE)").contains("* 2 FETCH (UID 2 FLAGS () RFC822.SIZE 60)\r\n"))
        #expect(await driver.send("s3 FETCH 3 FLAGS") == "s3 BAD Invalid message sequence number\r\n")
        let header = await driver.send("s4 FETCH 1 (BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        #expect(header == "* 1 FETCH (BODY[HEADER.FIELDS (SUBJECT)] {18}\r\nSubject: first\r\n\r\n)\r\ns4 OK FETCH completed\r\n")
        // BODY[TEXT]<6.5> (not PEEK) sets \Seen and says so.
        #expect(await driver.send("s5 FETCH 1 BODY[TEXT]<6.5>") == "* 1 FETCH (BODY[TEXT]<6> {5}\r\nworld FLAGS (\\Seen))\r\ns5 OK FETCH completed\r\n")
        #expect(await driver.send("s6 STORE 2 +FLAGS (\\Flagged)") == "* 2 FETCH (FLAGS (\\Flagged))\r\ns6 OK STORE completed\r\n")
        #expect(await driver.send("s7 UID STORE 2 -FLAGS.SILENT (\\Flagged)") == "s7 OK STORE completed\r\n")
        #expect(await driver.send("s8 SEARCH UNSEEN") == "* SEARCH 2\r\ns8 OK SEARCH completed\r\n")
        #expect(await driver.send("s9 SEARCH FROM bob") == "* SEARCH 1\r\ns9 OK SEARCH completed\r\n")
        #expect(await driver.send("t1 UID SEARCH OR BODY \"ELSE\" SUBJECT first") == "* SEARCH 1 2\r\nt1 OK SEARCH completed\r\n")
        #expect(await driver.send("t2 SEARCH NOT SEEN LARGER 10 SINCE 1-Jan-2020") == "* SEARCH 2\r\nt2 OK SEARCH completed\r\n")
        #expect(await driver.send("t3 SEARCH TEXT nowhere") == "* SEARCH\r\nt3 OK SEARCH completed\r\n")
        // EXAMINE: read-only.
        let examine = await driver.send("t4 EXAMINE INBOX")
        #expect(examine.hasSuffix("t4 OK [READ-ONLY] EXAMINE completed\r\n"))
        #expect(await driver.send("t5 STORE 1 +FLAGS (\\Deleted)") == "t5 NO [READ-ONLY] Mailbox is read-only\r\n")
        #expect(await driver.send("t6 FETCH 2 BODY[]").contains("FETCH (BODY[] {"))
        #expect(await driver.send("t7 FETCH 2 FLAGS") == "* 2 FETCH (FLAGS ())\r\nt7 OK FETCH completed\r\n")   // no \Seen when read-only
    }

    @Test func appendCopyMoveExpungeWithUIDPlus() async throws {
        let scratch = try await ScratchStore.make(threadPool: IMAPTestThreads.pool)
        defer { scratch.remove() }
        try await Self.deliver("Subject: one\r\n\r\n1\r\n", scratch: scratch)
        try await Self.deliver("Subject: two\r\n\r\n2\r\n", scratch: scratch)
        var driver = IMAPDriver(store: scratch.store, quota: QuotaLimits(messages: 6))
        await driver.login()
        let drafts = try #require(try await scratch.store.mailbox(user: "alice", name: "Drafts"))
        let inbox = try #require(try await scratch.store.mailbox(user: "alice", name: "INBOX"))
        #expect(await driver.send("a1 APPEND Drafts (\\Draft) \"14-Nov-2023 23:13:20 +0100\" {12}\r\nSubject: d\r\n")
                == "a1 OK [APPENDUID \(drafts.uidValidity) 1] APPEND completed\r\n")
        #expect(await driver.send("a2 APPEND Nowhere {3}\r\nabc") == "a2 NO [TRYCREATE] No such mailbox\r\n")
        #expect(await driver.send("a3 CREATE Work/") == "a3 OK CREATE completed\r\n")
        #expect(await driver.send("a4 CREATE work") == "a4 OK CREATE completed\r\n")   // names are case-sensitive but INBOX
        #expect(await driver.send("a5 CREATE inbox") == "a5 NO [ALREADYEXISTS] Mailbox exists\r\n")
        let work = try #require(try await scratch.store.mailbox(user: "alice", name: "Work"))
        _ = await driver.send("a6 SELECT INBOX")
        #expect(await driver.send("a7 COPY 1:2 Work") == "a7 OK [COPYUID \(work.uidValidity) 1:2 1:2] COPY completed\r\n")
        #expect(await driver.send("a8 COPY 1 Nowhere") == "a8 NO [TRYCREATE] No such mailbox\r\n")
        #expect(await driver.send("a9 COPY 1:2 Work") == "a9 NO [OVERQUOTA] Quota exceeded\r\n")   // 5 held, 2 more > 6
        let trash = try #require(try await scratch.store.mailbox(user: "alice", name: "Trash"))
        #expect(await driver.send("b1 UID MOVE 1 Trash") == "* OK [COPYUID \(trash.uidValidity) 1 1] Moved\r\n* 1 EXPUNGE\r\nb1 OK MOVE completed\r\n")
        #expect(await driver.send("b2 FETCH 1 UID") == "* 1 FETCH (UID 2)\r\nb2 OK FETCH completed\r\n")
        // APPEND into the selected mailbox shows up as EXISTS.
        #expect(await driver.send("b3 APPEND INBOX {8}\r\nSubj: x\r") == "* 2 EXISTS\r\nb3 OK [APPENDUID \(inbox.uidValidity) 3] APPEND completed\r\n")
        _ = await driver.send("b4 STORE 1:2 +FLAGS.SILENT (\\Deleted)")
        #expect(await driver.send("b5 UID EXPUNGE 3") == "* 2 EXPUNGE\r\nb5 OK EXPUNGE completed\r\n")
        #expect(await driver.send("b6 EXPUNGE") == "* 1 EXPUNGE\r\nb6 OK EXPUNGE completed\r\n")
        #expect(await driver.send("b7 STATUS Work (MESSAGES UIDNEXT UNSEEN)") == "* STATUS Work (MESSAGES 2 UIDNEXT 3 UNSEEN 2)\r\nb7 OK STATUS completed\r\n")
        #expect(await driver.send("b8 RENAME Work Archive/Work") == "b8 OK RENAME completed\r\n")
        #expect(await driver.send("b9 DELETE INBOX") == "b9 NO [CANNOT] INBOX cannot be deleted\r\n")
        #expect(await driver.send("c1 DELETE work") == "c1 OK DELETE completed\r\n")
        #expect(await driver.send("c2 CLOSE") == "c2 OK CLOSE completed\r\n")
        #expect(await driver.send("c3 FETCH 1 FLAGS") == "c3 BAD No mailbox selected\r\n")
    }

    /// BODY[] streams from the file in chunks: a 400 KB message and a partial across chunk borders.
    @Test func largeMessagesStreamByteIdentical() async throws {
        let scratch = try await ScratchStore.make(threadPool: IMAPTestThreads.pool)
        defer { scratch.remove() }
        var large = "Subject: large\r\n\r\n"
        for index in 0..<8000 { large += "line \(index) " + String(repeating: "x", count: 40) + "\r\n" }
        try await Self.deliver(large, scratch: scratch)
        var driver = IMAPDriver(store: scratch.store)
        await driver.login()
        _ = await driver.send("a SELECT INBOX")
        let whole = await driver.send("b FETCH 1 BODY.PEEK[]")
        #expect(whole == "* 1 FETCH (BODY[] {\(large.utf8.count)}\r\n" + large + ")\r\nb OK FETCH completed\r\n")
        let bytes = Array(large.utf8)
        let partial = await driver.send("c FETCH 1 (UID BODY.PEEK[]<65000.70000> RFC822.SIZE)")
        let expected = "* 1 FETCH (UID 1 BODY[]<65000> {70000}\r\n" + String(decoding: bytes[65000..<135_000], as: UTF8.self)
            + " RFC822.SIZE \(bytes.count))\r\nc OK FETCH completed\r\n"
        #expect(partial == expected)
        #expect(await driver.send("d FETCH 1 BODY.PEEK[]<999999.10>") == "* 1 FETCH (BODY[]<999999> {0}\r\n)\r\nd OK FETCH completed\r\n")
        // RFC822 (not PEEK) sets \Seen and says so after the literal.
        #expect(await driver.send("e FETCH 1 RFC822").hasSuffix(large + " FLAGS (\\Seen))\r\ne OK FETCH completed\r\n"))
    }

    /// An APPEND literal over the 64 KiB literal limit streams to the body file; refusals come
    /// before `+` (synchronising) or skip the octets (LITERAL+).
    @Test func largeAppendStreams() async throws {
        let scratch = try await ScratchStore.make(threadPool: IMAPTestThreads.pool)
        defer { scratch.remove() }
        var driver = IMAPDriver(store: scratch.store, quota: QuotaLimits(bytes: 1_000_000))
        await driver.login()
        _ = await driver.send("s SELECT INBOX")
        let inbox = try #require(try await scratch.store.mailbox(user: "alice", name: "INBOX"))
        var message = "Subject: big\r\n\r\n"
        while message.utf8.count < 200_000 { message += "0123456789 abcdefghijklmnopqrstuvwxyz\r\n" }
        let size = message.utf8.count
        #expect(await driver.feed("a1 APPEND INBOX (\\Seen) {\(size)}\r\n") == "+ Ready for literal data\r\n")
        #expect(await driver.feed(message + "\r\n") == "* 1 EXISTS\r\na1 OK [APPENDUID \(inbox.uidValidity) 1] APPEND completed\r\n")
        let stored = try #require(try await scratch.store.messages(in: inbox.id).first)
        #expect(stored.size == size && stored.flags == ["\\Seen"])
        #expect(try await driver.commands.readBody(stored) == Array(message.utf8))
        // LITERAL+ in one piece with the next command behind it.
        #expect(await driver.feed("a2 APPEND INBOX {\(size)+}\r\n" + message + "\r\na3 NOOP\r\n")
                == "* 2 EXISTS\r\na2 OK [APPENDUID \(inbox.uidValidity) 2] APPEND completed\r\na3 OK NOOP completed\r\n")
        // Refused before the octets: no such mailbox (no `+`), over quota, and LITERAL+ skipped.
        #expect(await driver.feed("a4 APPEND Nowhere {\(size)}\r\n") == "a4 NO [TRYCREATE] No such mailbox\r\n")
        #expect(await driver.feed("a5 APPEND Drafts {900000}\r\n") == "a5 NO [OVERQUOTA] Quota exceeded\r\n")
        #expect(await driver.feed("a6 APPEND Nowhere {\(size)+}\r\n" + message + "\r\na7 NOOP\r\n")
                == "a6 NO [TRYCREATE] No such mailbox\r\na7 OK NOOP completed\r\n")
        #expect(await driver.feed("a8 APPEND Drafts (\\Bogus) {\(size)+}\r\n" + message + "\r\na9 NOOP\r\n")
                == "a8 BAD Unknown system flag\r\na9 OK NOOP completed\r\n")
        #expect(scratch.bodyFiles().count == 2)   // nothing left behind by the refusals
    }

    /// A body file gone missing costs that message's FETCH response and a NO, not the session.
    @Test func missingBodyFileIsNoNotAClosedConnection() async throws {
        let scratch = try await ScratchStore.make(threadPool: IMAPTestThreads.pool)
        defer { scratch.remove() }
        try await Self.deliver("Subject: one\r\n\r\n1\r\n", scratch: scratch)
        try await Self.deliver("Subject: two\r\n\r\n2\r\n", scratch: scratch)
        let inbox = try #require(try await scratch.store.mailbox(user: "alice", name: "INBOX"))
        let first = try #require(try await scratch.store.messages(in: inbox.id).first)
        try FileManager.default.removeItem(atPath: scratch.store.bodyPath(first.bodyID))
        var driver = IMAPDriver(store: scratch.store)
        await driver.login()
        _ = await driver.send("a SELECT INBOX")
        #expect(await driver.send("b FETCH 1:2 BODY.PEEK[]") == "* 2 FETCH (BODY[] {19}\r\nSubject: two\r\n\r\n2\r\n)\r\nb NO Some messages could not be read\r\n")
        #expect(await driver.send("c FETCH 1:2 ENVELOPE").hasSuffix("c NO Some messages could not be read\r\n"))
        #expect(await driver.send("d NOOP") == "d OK NOOP completed\r\n")
    }

    @Test func listLsubNamespaceQuota() async throws {
        let scratch = try await ScratchStore.make(threadPool: IMAPTestThreads.pool)
        defer { scratch.remove() }
        try await Self.deliver("Subject: one\r\n\r\n1\r\n", scratch: scratch)
        var driver = IMAPDriver(store: scratch.store, quota: QuotaLimits(bytes: 10 * 1024 * 1024, messages: 100))
        await driver.login()
        _ = await driver.send("c1 CREATE \"Entw&APw-rfe/Alt\"")
        _ = await driver.send("c2 CREATE Entw&APw-rfe")
        let list = await driver.send("l1 LIST \"\" *")
        #expect(list.contains("* LIST (\\HasNoChildren) \"/\" INBOX\r\n"))
        #expect(list.contains("* LIST (\\HasNoChildren \\Sent) \"/\" Sent\r\n"))
        #expect(list.contains("* LIST (\\HasChildren) \"/\" Entw&APw-rfe\r\n"))
        #expect(list.contains("* LIST (\\HasNoChildren) \"/\" Entw&APw-rfe/Alt\r\n"))
        #expect(await driver.send("l2 LIST \"\" %") .components(separatedBy: "* LIST").count == 7)   // 6 top-level names
        #expect(await driver.send("l3 LIST \"\" \"\"") == "* LIST (\\Noselect) \"/\" \"\"\r\nl3 OK LIST completed\r\n")
        let special = await driver.send("l4 LIST (SPECIAL-USE) \"\" *")
        #expect(special.components(separatedBy: "* LIST").count == 5 && !special.contains("INBOX"))
        _ = await driver.send("l5 UNSUBSCRIBE Junk")
        let lsub = await driver.send("l6 LSUB \"\" *")
        #expect(lsub.contains("* LSUB () \"/\" Sent\r\n") && !lsub.contains("Junk"))
        #expect(await driver.send("l7 NAMESPACE") == "* NAMESPACE ((\"\" \"/\")) NIL NIL\r\nl7 OK NAMESPACE completed\r\n")
        #expect(await driver.send("l8 ID (\"name\" \"test\")") == "* ID NIL\r\nl8 OK ID completed\r\n")
        #expect(await driver.send("l9 ENABLE CONDSTORE") == "* ENABLED\r\nl9 OK ENABLE completed\r\n")
        #expect(await driver.send("q1 GETQUOTAROOT INBOX")
                == "* QUOTAROOT INBOX \"\"\r\n* QUOTA \"\" (STORAGE 1 10240 MESSAGE 1 100)\r\nq1 OK GETQUOTAROOT completed\r\n")
        #expect(await driver.send("q2 GETQUOTA \"\"") == "* QUOTA \"\" (STORAGE 1 10240 MESSAGE 1 100)\r\nq2 OK GETQUOTA completed\r\n")
        #expect(await driver.send("q3 GETQUOTA other") == "q3 NO [NONEXISTENT] No such quota root\r\n")
        #expect(await driver.send("z1 LOGOUT") == "* BYE Logging out\r\nz1 OK LOGOUT completed\r\n")
        #expect(driver.session.isClosed)
    }

    @Test func idleReportsDeliveriesAndDoneEndsIt() async throws {
        let scratch = try await ScratchStore.make(threadPool: IMAPTestThreads.pool)
        defer { scratch.remove() }
        var driver = IMAPDriver(store: scratch.store)
        await driver.login()
        _ = await driver.send("i1 SELECT INBOX")
        let inbox = try #require(try await scratch.store.mailbox(user: "alice", name: "INBOX"))
        #expect(await driver.send("i2 IDLE") == "+ idling\r\n")
        #expect(driver.watching == inbox.id)
        try await Self.deliver("Subject: new\r\n\r\nnew\r\n", scratch: scratch)
        #expect(await driver.perform(driver.session.mailboxChanged()) == "* 1 EXISTS\r\n")
        // A change while a report runs is reported after it.
        let running = driver.session.mailboxChanged()
        #expect(driver.session.mailboxChanged().isEmpty)
        try await Self.deliver("Subject: newer\r\n\r\nnewer\r\n", scratch: scratch)
        #expect(await driver.perform(running) == "* 2 EXISTS\r\n")
        #expect(await driver.send("DONE") == "i2 OK IDLE terminated\r\n")
        #expect(driver.watching == nil)
        #expect(await driver.send("i4 NOOP") == "i4 OK NOOP completed\r\n")
        // Anything but DONE ends IDLE with BAD under IDLE's tag (RFC 2177 §3).
        #expect(await driver.send("i5 IDLE") == "+ idling\r\n")
        #expect(await driver.send("i6 NOOP") == "i5 BAD Expected DONE\r\n")
        #expect(driver.watching == nil)
        #expect(await driver.send("i7 NOOP") == "i7 OK NOOP completed\r\n")
    }

    @Test func changesFromOtherSessionsAreReportedAtTheNextCommand() async throws {
        let scratch = try await ScratchStore.make(threadPool: IMAPTestThreads.pool)
        defer { scratch.remove() }
        try await Self.deliver("Subject: one\r\n\r\n1\r\n", scratch: scratch)
        try await Self.deliver("Subject: two\r\n\r\n2\r\n", scratch: scratch)
        var first = IMAPDriver(store: scratch.store)
        var second = IMAPDriver(store: scratch.store)
        await first.login()
        await second.login()
        _ = await first.send("a SELECT INBOX")
        _ = await second.send("b SELECT INBOX")
        _ = await second.send("b1 STORE 1 +FLAGS (\\Deleted \\Seen)")
        _ = await second.send("b2 EXPUNGE")
        // FETCH by number must not shift numbers: the flag change (of a message gone) and the
        // expunge wait; NOOP reports them.
        #expect(await first.send("a1 FETCH 2 UID") == "* 2 FETCH (UID 2)\r\na1 OK FETCH completed\r\n")
        #expect(await first.send("a2 NOOP") == "* 1 EXPUNGE\r\na2 OK NOOP completed\r\n")
        try await Self.deliver("Subject: three\r\n\r\n3\r\n", scratch: scratch)
        #expect(await first.send("a3 UID FETCH 3 UID") == "* 2 EXISTS\r\na3 OK FETCH completed\r\n")   // not known yet when fetched
        #expect(await first.send("a4 FETCH 1:* UID") == "* 1 FETCH (UID 2)\r\n* 2 FETCH (UID 3)\r\na4 OK FETCH completed\r\n")
    }
}
