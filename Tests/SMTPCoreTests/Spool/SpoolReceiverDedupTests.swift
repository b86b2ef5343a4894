import Foundation
import Logging
import NIOCore
import Testing
@testable import SMTPCore

/// The receiving side of a hand-off between stages: `Mailnode-Id` kept from trusted upstreams,
/// replaced for everyone else, and (id, recipient) pairs stored only once.
@Suite struct SpoolReceiverDedupTests {
    static let upstream = "10.0.0.11"
    static let outsider = "192.0.2.1"

    struct Stage {
        let store: SpoolStore
        let delivered: FileDeliveredSet
        let receiver: SpoolReceiver
        let directory: String

        init() throws {
            directory = NSTemporaryDirectory() + "mailnode-receiver-" + UUID().uuidString
            store = try SpoolStore(directory: directory)
            delivered = try FileDeliveredSet(directory: directory + "/delivered", logger: Logger(label: "test"))
            receiver = SpoolReceiver(store: store, hostname: "b.test",
                                     configuration: SpoolReceiverConfiguration(trustedUpstreams: ["mx": [IPNetwork("10.0.0.0/24")!]]),
                                     delivered: delivered, logger: Logger(label: "test"))
        }

        /// Committed entries with their message text, oldest first.
        func stored() throws -> [(entry: SpoolEntry, text: String)] {
            try store.committedIDs().map { id in
                let entry = try SpoolEntry.load(path: directory + "/queue/" + id)
                let data = try Data(contentsOf: URL(fileURLWithPath: entry.path))
                return (entry, String(decoding: data.dropFirst(entry.messageOffset), as: UTF8.self))
            }
        }
    }

    static func session(from address: String, protocol sessionProtocol: SessionProtocol = .smtp) throws -> SessionContext {
        var session = SessionContext(sessionID: "S1", remoteAddress: try SocketAddress(ipAddress: address, port: 40000),
                                     listenerName: "mx")
        session.sessionProtocol = sessionProtocol
        session.heloName = .domain("client.test")
        session.isExtended = true
        return session
    }

    static func envelope(_ recipients: [String]) -> Envelope {
        Envelope(reversePath: .mailbox(Mailbox(localPart: "s", host: .domain("src.test"))),
                 recipients: recipients.map { EnvelopeRecipient(path: .mailbox(Mailbox(localPart: $0, host: .domain("dst.test")))) })
    }

    static func message(id: String?, body: String = "hello") -> String {
        (id.map { "Mailnode-Id: \($0)\r\n" } ?? "") + "Subject: test\r\nMessage-ID: <m@src.test>\r\n\r\n\(body)\r\n"
    }

    /// Streams `text` in small chunks (the header section arrives in pieces) and commits.
    static func deliver(_ text: String, to recipients: [String], stage: Stage, session: SessionContext) async throws -> CommitResult {
        let writer = try await stage.receiver.open(envelope: envelope(recipients), session: session)
        let bytes = Array(text.utf8)
        for start in stride(from: 0, to: bytes.count, by: 7) {
            try await writer.write(ByteBuffer(bytes: bytes[start..<min(start + 7, bytes.count)]))
        }
        return try await writer.commit(summary: MessageDataSummary())
    }

    static func mailnodeIDs(in text: String) -> [String] {
        text.components(separatedBy: "\r\n").filter { $0.lowercased().hasPrefix("mailnode-id") }
    }

    // MARK: - Deduplication

    @Test func sameIDTwiceIsStoredOnceAndAnswered250Twice() async throws {
        let stage = try Stage()
        let session = try Self.session(from: Self.upstream)
        let first = try await Self.deliver(Self.message(id: "<M1@a.test>"), to: ["a"], stage: stage, session: session)
        let second = try await Self.deliver(Self.message(id: "<M1@a.test>"), to: ["a"], stage: stage, session: session)
        #expect(first.reply.code == .ok)
        #expect(second.reply.code == .ok)
        let stored = try stage.stored()
        #expect(stored.count == 1)
        // The repeat names the entry that holds the message.
        #expect(second.reply.text == "Queued as \(stored[0].entry.id)")
        #expect(second.queueID == nil)
        // The upstream's id is kept, not replaced, and not doubled.
        #expect(Self.mailnodeIDs(in: stored[0].text) == ["Mailnode-Id: <M1@a.test>"])
        #expect(stored[0].text.hasPrefix("Received: from client.test (10.0.0.11)\r\n\tby b.test with ESMTP id \(stored[0].entry.id)"))
    }

    /// A copy that went round a routing loop has more `Received` fields than the first: it is
    /// not a retry, so it is stored (not dropped), and the loop ends at the hop limit.
    @Test func aCopyBackFromALoopIsNotTakenForARetry() async throws {
        let stage = try Stage()
        let session = try Self.session(from: Self.upstream)
        let first = Self.message(id: "<M1@a.test>")
        let looped = "Received: from b.test\r\n\tby c.test; Thu, 1 Jan 1970 00:00:00 +0000\r\n" + first
        #expect(try await Self.deliver(first, to: ["a"], stage: stage, session: session).reply.code == .ok)
        #expect(try await Self.deliver(looped, to: ["a"], stage: stage, session: session).reply.code == .ok)
        #expect(try stage.stored().count == 2)
        // ... while a byte-identical retry of either is still a duplicate.
        #expect(try await Self.deliver(looped, to: ["a"], stage: stage, session: session).reply.code == .ok)
        #expect(try stage.stored().count == 2)
    }

    @Test func tooManyHopsIs554AndNothingIsStored() async throws {
        let stage = try Stage()
        let hops = (0..<50).map { "Received: from h\($0).test by h\($0 + 1).test; Thu, 1 Jan 1970 00:00:00 +0000\r\n" }.joined()
        for (address, text) in [(Self.outsider, hops + Self.message(id: nil)), (Self.upstream, hops + Self.message(id: "<M9@a.test>"))] {
            let result = try await Self.deliver(text, to: ["a"], stage: stage, session: try Self.session(from: address))
            #expect(result.reply.code == .transactionFailed, "\(result.reply)")
            #expect(result.reply.enhancedCode == EnhancedStatusCode(5, 4, 6))
        }
        #expect(try stage.stored().isEmpty)
        // 49 hops still pass.
        let fewer = (0..<49).map { "Received: from h\($0).test by x; Thu, 1 Jan 1970 00:00:00 +0000\r\n" }.joined()
        #expect(try await Self.deliver(fewer + Self.message(id: nil), to: ["a"], stage: stage,
                                       session: try Self.session(from: Self.outsider)).reply.code == .ok)
    }

    @Test func anotherRecipientOfTheSameMessageIsStored() async throws {
        let stage = try Stage()
        let session = try Self.session(from: Self.upstream)
        _ = try await Self.deliver(Self.message(id: "<M1@a.test>"), to: ["a"], stage: stage, session: session)
        let other = try await Self.deliver(Self.message(id: "<M1@a.test>"), to: ["b"], stage: stage, session: session)
        let another = try await Self.deliver(Self.message(id: "<M2@a.test>"), to: ["a"], stage: stage, session: session)
        #expect(other.reply.code == .ok)
        #expect(another.reply.code == .ok)
        #expect(try stage.stored().count == 3)
    }

    @Test func smtpStoresOnlyTheRecipientsNotYetStored() async throws {
        let stage = try Stage()
        let session = try Self.session(from: Self.upstream)
        _ = try await Self.deliver(Self.message(id: "<M1@a.test>"), to: ["a"], stage: stage, session: session)
        let mixed = try await Self.deliver(Self.message(id: "<M1@a.test>"), to: ["a", "b"], stage: stage, session: session)
        #expect(mixed.reply.code == .ok)
        let stored = try stage.stored()
        #expect(stored.count == 2)
        #expect(stored[1].entry.record.envelope.recipients.map(\.path.description) == ["<b@dst.test>"])
        #expect(mixed.reply.text == "Queued as \(stored[1].entry.id)")
    }

    @Test func lmtpAnswersEachRecipient() async throws {
        let stage = try Stage()
        let session = try Self.session(from: Self.upstream, protocol: .lmtp)
        let first = try await Self.deliver(Self.message(id: "<M1@a.test>"), to: ["a"], stage: stage, session: session)
        let again = try await Self.deliver(Self.message(id: "<M1@a.test>"), to: ["a", "b"], stage: stage, session: session)
        let stored = try stage.stored()
        #expect(stored.count == 2)
        let replies = try #require(again.recipientReplies)
        #expect(replies.map(\.code) == [.ok, .ok])
        #expect(replies[0].text == "Queued as \(stored[0].entry.id)")   // stored by the first hand-off
        #expect(replies[1].text == "Queued as \(stored[1].entry.id)")   // stored now
        #expect(first.recipientReplies?.count == 1)
        // The Received header names the protocol the listener speaks.
        #expect(stored[0].text.contains("by b.test with LMTP id"))
    }

    @Test func aRetryWhileTheFirstCopyIsStillArrivingWaits() async throws {
        let stage = try Stage()
        let session = try Self.session(from: Self.upstream)
        let slow = try await stage.receiver.open(envelope: Self.envelope(["a"]), session: session)
        try await slow.write(ByteBuffer(string: Self.message(id: "<M1@a.test>")))
        // Same pair on another session before the first committed: try again later.
        let early = try await Self.deliver(Self.message(id: "<M1@a.test>"), to: ["a"], stage: stage, session: session)
        #expect(early.reply.code == .localError)
        #expect(early.reply.enhancedCode == .temporarySystemError)
        #expect(try await slow.commit(summary: MessageDataSummary()).reply.code == .ok)
        let later = try await Self.deliver(Self.message(id: "<M1@a.test>"), to: ["a"], stage: stage, session: session)
        #expect(later.reply.code == .ok)
        #expect(try stage.stored().count == 1)
    }

    @Test func anAbortedCopyDoesNotBlockTheRetry() async throws {
        let stage = try Stage()
        let session = try Self.session(from: Self.upstream)
        let lost = try await stage.receiver.open(envelope: Self.envelope(["a"]), session: session)
        try await lost.write(ByteBuffer(string: Self.message(id: "<M1@a.test>")))
        await lost.abort()
        let retry = try await Self.deliver(Self.message(id: "<M1@a.test>"), to: ["a"], stage: stage, session: session)
        #expect(retry.reply.code == .ok)
        #expect(try stage.stored().count == 1)
        #expect(stage.delivered.count == 1)
    }

    @Test func pairsAreRememberedAcrossARestart() async throws {
        let stage = try Stage()
        let session = try Self.session(from: Self.upstream)
        _ = try await Self.deliver(Self.message(id: "<M1@a.test>"), to: ["a"], stage: stage, session: session)
        // A new process on the same spool.
        let delivered = try FileDeliveredSet(directory: stage.directory + "/delivered", logger: Logger(label: "test"))
        let restarted = SpoolReceiver(store: stage.store, hostname: "b.test", configuration: stage.receiver.configuration,
                                      delivered: delivered, logger: Logger(label: "test"))
        let writer = try await restarted.open(envelope: Self.envelope(["a"]), session: session)
        try await writer.write(ByteBuffer(string: Self.message(id: "<M1@a.test>")))
        #expect(try await writer.commit(summary: MessageDataSummary()).reply.code == .ok)
        #expect(try stage.stored().count == 1)
    }

    // MARK: - Forgery defence

    @Test func anOutsidersMailnodeIDIsReplaced() async throws {
        let stage = try Stage()
        // The victim's message already passed this stage…
        _ = try await Self.deliver(Self.message(id: "<VICTIM@a.test>"), to: ["a"], stage: stage, session: try Self.session(from: Self.upstream))
        // …and an outsider sends a new one with that id, in every spelling, folded too.
        let forged = "Mailnode-Id: <VICTIM@a.test>\r\nmailnode-id : <VICTIM@a.test>\r\nMAILNODE-ID:\r\n <VICTIM@a.test>\r\n"
            + "Subject: forged\r\n\r\nMailnode-Id: <in the body, untouched>\r\n"
        let result = try await Self.deliver(forged, to: ["a"], stage: stage, session: try Self.session(from: Self.outsider))
        #expect(result.reply.code == .ok)
        let stored = try stage.stored()
        #expect(stored.count == 2)
        let text = stored[1].text
        #expect(!text.contains("VICTIM"))
        #expect(Self.mailnodeIDs(in: text) == ["Mailnode-Id: <\(stored[1].entry.id)@b.test>", "Mailnode-Id: <in the body, untouched>"])
        #expect(text.contains("Subject: forged\r\n\r\nMailnode-Id: <in the body, untouched>\r\n"))
    }

    @Test func aTrustedNetworkOnAnotherListenerIsNotTrusted() async throws {
        let stage = try Stage()
        var session = try Self.session(from: Self.upstream)
        session.listenerName = "submission"
        _ = try await Self.deliver(Self.message(id: "<M1@a.test>"), to: ["a"], stage: stage, session: session)
        let stored = try stage.stored()
        #expect(Self.mailnodeIDs(in: stored[0].text) == ["Mailnode-Id: <\(stored[0].entry.id)@b.test>"])
    }

    @Test func anUpstreamMessageWithoutAnIDGetsOne() async throws {
        let stage = try Stage()
        let session = try Self.session(from: Self.upstream)
        _ = try await Self.deliver(Self.message(id: nil), to: ["a"], stage: stage, session: session)
        _ = try await Self.deliver(Self.message(id: "not valid"), to: ["a"], stage: stage, session: session)
        let stored = try stage.stored()
        #expect(Self.mailnodeIDs(in: stored[0].text) == ["Mailnode-Id: <\(stored[0].entry.id)@b.test>"])
        #expect(Self.mailnodeIDs(in: stored[1].text) == ["Mailnode-Id: <\(stored[1].entry.id)@b.test>"])
        // New ids are ours: nothing to deduplicate against, nothing recorded.
        #expect(stage.delivered.count == 0)
    }

    // MARK: - Header section

    @Test func headerSectionEnds() {
        func end(_ chunks: [String], limit: Int = 1000) -> Int? {
            var collector = HeaderSectionCollector(limit: limit)
            for chunk in chunks where collector.append(ByteBuffer(string: chunk)) { return collector.headerLength }
            collector.finish()
            return collector.headerLength
        }
        #expect(end(["A: 1\r\nB: 2\r\n\r\nbody\r\n"]) == 14)
        #expect(end(["A: 1\r", "\n", "\r", "\nbody"]) == 8)            // split anywhere
        #expect(end(["A: 1\nB: 2\n\nbody\n"]) == 11)                   // bare LF (accepted listeners)
        #expect(end(["\r\nbody\r\n"]) == 2)                            // no header fields at all
        #expect(end(["A: 1\r\nB: 2\r\n"]) == 12)                       // no body: everything
        #expect(end([String(repeating: "X: y\r\n", count: 30)], limit: 100) == 180)   // past the limit: complete lines so far
        #expect(end(["X: " + String(repeating: "y", count: 200)], limit: 100) == 0)
    }

    @Test func mailnodeIDFieldsAreFoundAndRemoved() {
        let section = Array("Received: x\r\nMailnode-Id: <A@x>\r\nSubject: s\r\n\tfolded\r\nmailnode-id\t: <B@x>\r\n\r\n".utf8)
        let fields = HeaderSectionFields(section[...])
        #expect(fields.firstMailnodeID == "<A@x>")
        #expect(fields.mailnodeIDCount == 2)
        #expect(String(decoding: fields.removingMailnodeIDs(), as: UTF8.self) == "Received: x\r\nSubject: s\r\n\tfolded\r\n\r\n")
        #expect(HeaderSectionFields(Array("Mailnode-Idx: <A@x>\r\nX-Mailnode-Id: <B@x>\r\n".utf8)[...]).mailnodeIDCount == 0)
        #expect(MailnodeIDHeader.isValid("<A@x>"))
        #expect(!MailnodeIDHeader.isValid("<A @x>"))
        #expect(!MailnodeIDHeader.isValid(""))
        #expect(!MailnodeIDHeader.isValid(String(repeating: "a", count: 256)))
    }

    // MARK: - Received: with-protocol

    @Test func receivedProtocolKeywords() throws {
        var session = SessionContext(sessionID: "S")
        #expect(session.receivedProtocol() == "SMTP")          // HELO
        session.isExtended = true
        #expect(session.receivedProtocol() == "ESMTP")
        session.tls = TLSDetails(version: "TLSv1.3", implicit: false)
        #expect(session.receivedProtocol() == "ESMTPS")
        session.authenticatedUser = "alice"
        #expect(session.receivedProtocol() == "ESMTPSA")
        #expect(session.receivedProtocol(smtpUTF8: true) == "UTF8SMTPSA")
        session.tls = nil
        #expect(session.receivedProtocol() == "ESMTPA")
        session.sessionProtocol = .lmtp
        #expect(session.receivedProtocol() == "LMTPA")
        session.authenticatedUser = nil
        #expect(session.receivedProtocol() == "LMTP")
        session.tls = TLSDetails(version: "TLSv1.3", implicit: true)
        #expect(session.receivedProtocol() == "LMTPS")
        #expect(session.receivedProtocol(smtpUTF8: true) == "UTF8LMTPS")
        // The session sets the protocol from its listener's configuration.
        let lmtp = SMTPSession(configuration: SMTPSessionConfiguration(hostname: "b.test", sessionProtocol: .lmtp),
                               context: SessionContext(sessionID: "S"), now: .now())
        #expect(lmtp.context.sessionProtocol == .lmtp)
    }
}
