import Defenses
import Foundation
import NIOCore
import SMTPCore
import Testing
@testable import MailStore

/// The store's intake without sockets: a real ``SQLiteMailboxStore`` and a directory in memory.
@Suite struct StoreReceiverTests {
    static func users() -> MemoryUserDirectory {
        MemoryUserDirectory([
            MailUser(name: "alice@example.org", passwordHash: "x", aliases: ["a@example.org"]),
            MailUser(name: "bob@example.org", passwordHash: "x"),
        ])
    }

    static func rcpt(_ address: String) -> EnvelopeRecipient {
        let parts = address.split(separator: "@")
        return EnvelopeRecipient(path: .mailbox(Mailbox(localPart: String(parts[0]), host: .domain(String(parts[1])))))
    }

    static func session(_ lmtp: Bool = true, client: String = "127.0.0.1") throws -> SessionContext {
        var session = SessionContext(sessionID: "TEST", remoteAddress: try SocketAddress(ipAddress: client, port: 40000), listenerName: "store")
        session.sessionProtocol = lmtp ? .lmtp : .smtp
        session.heloName = .domain("antispam.example.org")
        return session
    }

    static let message = "Mailnode-Id: <00ABC@mx.example.org>\r\nFrom: sender@example.net\r\nSubject: hi\r\n\r\nHello.\r\n.leading dot\r\n"

    /// Sends `message` in two chunks and commits.
    static func deliver(_ receiver: StoreReceiver, to recipients: [String], session: SessionContext,
                        message: String = message) async throws -> CommitResult {
        let envelope = Envelope(reversePath: .mailbox(Mailbox(localPart: "sender", host: .domain("example.net"))),
                                recipients: recipients.map(rcpt))
        let writer = try await receiver.open(envelope: envelope, session: session)
        let bytes = Array(message.utf8)
        try await writer.write(ByteBuffer(bytes: bytes[..<10]))
        try await writer.write(ByteBuffer(bytes: bytes[10...]))
        return try await writer.commit(summary: MessageDataSummary(octets: bytes.count))
    }

    static func inbox(_ store: SQLiteMailboxStore, _ user: String) async throws -> [String] {
        let inbox = try #require(try await store.mailbox(user: user, name: "INBOX"))
        return try await store.messages(in: inbox.id).map {
            String(decoding: try Data(contentsOf: URL(fileURLWithPath: store.bodyPath($0.bodyID))), as: UTF8.self)
        }
    }

    @Test func lmtpRepliesPerRecipientAndStoresTheBytesUnderTraceFields() async throws {
        let scratch = try await ScratchStore.make()
        defer { scratch.remove() }
        let receiver = StoreReceiver(store: scratch.store, users: Self.users(), configuration: .init(hostname: "store.example.org"))
        let result = try await Self.deliver(receiver, to: ["alice@example.org", "nobody@example.org", "a@example.org", "bob@example.org"],
                                            session: try Self.session())
        let replies = try #require(result.recipientReplies)
        #expect(replies.map(\.code.rawValue) == [250, 550, 250, 250])
        #expect(replies[1] == StoreReplies.unknownUser)
        let alice = try await Self.inbox(scratch.store, "alice@example.org")
        #expect(alice.count == 1)   // two addresses of one user: one copy
        let stored = try #require(alice.first)
        #expect(stored.hasPrefix("Return-Path: <sender@example.net>\r\nReceived: from antispam.example.org (127.0.0.1)\r\n\tby store.example.org with LMTP id "))
        #expect(stored.hasSuffix("\r\n" + Self.message))   // the message exactly as received
        #expect(try await Self.inbox(scratch.store, "bob@example.org") == alice)
        #expect(scratch.bodyFiles().count == 1)
    }

    @Test func aRetriedHandOffFromATrustedUpstreamIsStoredOnce() async throws {
        let scratch = try await ScratchStore.make()
        defer { scratch.remove() }
        let configuration = StoreIntakeConfiguration(hostname: "store.example.org", trustedUpstreams: [IPNetwork("127.0.0.0/8")!])
        let receiver = StoreReceiver(store: scratch.store, users: Self.users(), configuration: configuration)
        let first = try await Self.deliver(receiver, to: ["alice@example.org"], session: try Self.session())
        let retry = try await Self.deliver(receiver, to: ["alice@example.org", "bob@example.org"], session: try Self.session())
        #expect(first.recipientReplies?.map(\.code.rawValue) == [250])
        #expect(retry.recipientReplies?.map(\.code.rawValue) == [250, 250])
        #expect(try await Self.inbox(scratch.store, "alice@example.org").count == 1)
        #expect(try await Self.inbox(scratch.store, "bob@example.org").count == 1)
        // An outside client's Mailnode-Id is not trusted: the same bytes are stored again.
        _ = try await Self.deliver(receiver, to: ["alice@example.org"], session: try Self.session(client: "192.0.2.9"))
        #expect(try await Self.inbox(scratch.store, "alice@example.org").count == 2)
    }

    @Test func overQuotaIs452ForThatRecipientOnly() async throws {
        let scratch = try await ScratchStore.make()
        defer { scratch.remove() }
        let configuration = StoreIntakeConfiguration(hostname: "store.example.org", quota: QuotaLimits(messages: 1))
        let receiver = StoreReceiver(store: scratch.store, users: Self.users(), configuration: configuration)
        _ = try await Self.deliver(receiver, to: ["alice@example.org"], session: try Self.session())
        let second = try await Self.deliver(receiver, to: ["alice@example.org", "bob@example.org"], session: try Self.session())
        #expect(second.recipientReplies == [StoreReplies.mailboxFull, second.recipientReplies![1]])
        #expect(second.recipientReplies?[1].code.rawValue == 250)
        #expect(StoreReplies.mailboxFull.description.hasPrefix("452 4.2.2"))
        // SMTP: one reply, so all or nothing.
        let smtp = try await Self.deliver(receiver, to: ["alice@example.org", "bob@example.org"], session: try Self.session(false))
        #expect(smtp.reply == StoreReplies.mailboxFull && smtp.recipientReplies == nil)
        #expect(try await Self.inbox(scratch.store, "bob@example.org").count == 1)
    }

    @Test func rcptHookRefusesUnknownUsersAndFullMailboxes() async throws {
        let scratch = try await ScratchStore.make()
        defer { scratch.remove() }
        let users = Self.users()
        let quota = QuotaLimits(bytes: 1000)
        let hook = StoreRecipientCheck(users: users, store: scratch.store, quota: quota)
        var envelope = Envelope(reversePath: .null)
        let session = try Self.session()
        #expect(await hook.rcptTo(Self.rcpt("a@example.org"), envelope: envelope, session: session) == .continue)
        #expect(await hook.rcptTo(Self.rcpt("eve@example.org"), envelope: envelope, session: session) == .reply(StoreReplies.unknownUser))
        envelope.parameters.size = 2000   // SIZE= says it will not fit
        #expect(await hook.rcptTo(Self.rcpt("alice@example.org"), envelope: envelope, session: session) == .reply(StoreReplies.mailboxFull))
    }

    @Test func tooManyHopsIsALoop() async throws {
        let scratch = try await ScratchStore.make()
        defer { scratch.remove() }
        let receiver = StoreReceiver(store: scratch.store, users: Self.users(), configuration: .init(hostname: "s", maxHops: 3))
        let looped = String(repeating: "Received: from x by y; now\r\n", count: 3) + "Subject: loop\r\n\r\nx\r\n"
        let result = try await Self.deliver(receiver, to: ["alice@example.org"], session: try Self.session(), message: looped)
        #expect(result.recipientReplies == [StoreReplies.loop])
        #expect(scratch.bodyFiles().isEmpty)
    }

    @Test func traceScannerFindsTheFirstMailnodeIDInEveryChunking() {
        let header = "Received: from a\r\n\tby b; x\r\nmailnode-id : \r\n <id-1@mx>\r\nMailnode-Id: <id-2@mx>\r\nSubject: s\r\n\r\nMailnode-Id: <body@x>\r\n"
        let bytes = Array(header.utf8)
        for split in 0...bytes.count {
            var scanner = TraceFieldScanner()
            scanner.append(ByteBuffer(bytes: bytes[..<split]))
            scanner.append(ByteBuffer(bytes: bytes[split...]))
            scanner.finish()
            #expect(scanner.mailnodeID == "<id-1@mx>" && scanner.receivedCount == 1, "split at \(split)")
        }
    }
}
