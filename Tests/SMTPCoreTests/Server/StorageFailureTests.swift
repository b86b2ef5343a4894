import Glibc
import NIOCore
import Testing
@testable import SMTPCore

/// A full disk makes clients retry later (452 4.3.1); other storage errors give 451 4.3.0.
@Suite struct StorageFailureTests {
    @Test func mapping() {
        let full = StorageFailureReply.reply(for: DurableFile.Failure(operation: "write", path: "/x", code: ENOSPC))
        #expect(full.code == .insufficientStorage)
        #expect(full.enhancedCode == .systemFull)
        let quota = StorageFailureReply.reply(for: DurableFile.Failure(operation: "write", path: "/x", code: EDQUOT))
        #expect(quota.code == .insufficientStorage)
        let other = StorageFailureReply.reply(for: DurableFile.Failure(operation: "fsync", path: "/x", code: EIO))
        #expect(other.code == .localError)
        #expect(other.enhancedCode == .temporarySystemError)
        // The path never reaches the client.
        #expect(!full.text.contains("/x"))
    }

    /// A receiver whose disk fills up: open fails for the first message, a write for the second.
    final class FullDisk: MessageReceiver {
        func open(envelope: Envelope, session: SessionContext) async throws -> any MessageWriter {
            if envelope.reversePath.mailbox?.localPart == "open" {
                throw DurableFile.Failure(operation: "open", path: "/spool/tmp/X", code: ENOSPC)
            }
            return Writer()
        }

        final class Writer: MessageWriter {
            func write(_ chunk: ByteBuffer) async throws {
                throw DurableFile.Failure(operation: "write", path: "/spool/tmp/X", code: ENOSPC)
            }
            func commit(summary: MessageDataSummary) async throws -> CommitResult { CommitResult(reply: .ok) }
            func abort() async {}
        }
    }

    @Test func fullDiskOverTheWire() async throws {
        let server = SMTPServer(
            listeners: [SMTPListenerConfiguration(name: "t", port: 0, session: SMTPSessionConfiguration(hostname: "mx.test"))],
            services: SMTPServerServices(receiver: FullDisk()), group: LiveServer.group)
        let port = try await server.start()[0].port!
        let client = try await RawClient.connect(port: port)
        _ = try await client.reply()
        try await client.send("EHLO c\r\nMAIL FROM:<open@c.test>\r\nRCPT TO:<b@mx.test>\r\nDATA\r\n")
        let opened = try await client.replies(4)
        #expect(opened.map(\.code.rawValue) == [250, 250, 250, 452])
        #expect(opened.last?.enhancedCode == .systemFull)
        try await client.send("RSET\r\nMAIL FROM:<write@c.test>\r\nRCPT TO:<b@mx.test>\r\nDATA\r\nhello\r\n.\r\nNOOP\r\n")
        let written = try await client.replies(6)
        #expect(written.map(\.code.rawValue) == [250, 250, 250, 354, 452, 250])
        await client.close()
        await server.shutdown(gracePeriod: .seconds(1))
    }
}
