import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import Testing
@testable import SMTPCore

/// The message stage of ``SpoolReceiver``: inspections see every byte, refuse before anything
/// is stored, prepend header fields (spool format 2), remove incoming fields.
@Suite struct MessageStageTests {
    /// Counts bytes, remembers them, and answers with a fixed verdict built from what it saw.
    final class Recorder: MessageInspector, MessageInspection {
        let seen = NIOLockedValueBox<[UInt8]>([])
        let finished = NIOLockedValueBox(0)
        let verdict: @Sendable ([UInt8]) -> InspectionVerdict
        let removeName: String?

        init(removeName: String? = nil, verdict: @escaping @Sendable ([UInt8]) -> InspectionVerdict) {
            self.verdict = verdict
            self.removeName = removeName
        }

        func begin(envelope: Envelope, session: SessionContext) async -> (any MessageInspection)? { self }
        func removesField(name: String, value: String, session: SessionContext) -> Bool {
            removeName.map { name.lowercased() == $0.lowercased() } ?? false
        }
        func update(_ chunk: ByteBuffer) async { seen.withLockedValue { $0 += chunk.readableBytesView } }
        func finish(summary: MessageDataSummary) async -> InspectionVerdict {
            finished.withLockedValue { $0 += 1 }
            return verdict(seen.withLockedValue { $0 })
        }
    }

    struct Stage {
        let store: SpoolStore
        let receiver: SpoolReceiver
        let directory: String

        init(_ inspectors: [any MessageInspector]) throws {
            directory = NSTemporaryDirectory() + "mailnode-stage-" + UUID().uuidString
            store = try SpoolStore(directory: directory)
            receiver = SpoolReceiver(store: store, hostname: "mx.test", inspectors: inspectors, logger: Logger(label: "test"))
        }

        func remove() { try? FileManager.default.removeItem(atPath: directory) }

        /// Each committed entry's message as the runner would forward it.
        func forwarded() async throws -> [String] {
            var texts: [String] = []
            for id in try store.committedIDs() {
                let entry = try store.committedEntry(id)
                // Chunks that end inside the prepended fields, at their end, and hold both ranges at once.
                var readings: [[UInt8]] = []
                for chunkSize in (entry.messageSize < 20_000 ? [1, 13] : []) + [1000, 64 * 1024] {
                    var bytes: [UInt8] = []
                    for try await chunk in store.message(of: entry, chunkSize: chunkSize) {
                        #expect(chunk.readableBytes <= chunkSize)
                        bytes += chunk.readableBytesView
                    }
                    #expect(bytes.count == entry.messageSize)
                    readings.append(bytes)
                }
                #expect(Set(readings).count == 1)
                texts.append(String(decoding: readings[0], as: UTF8.self))
            }
            return texts
        }
    }

    static let session = SessionContext(sessionID: "S1", remoteAddress: try? SocketAddress(ipAddress: "192.0.2.9", port: 40000),
                                        listenerName: "mx")
    static let envelope = Envelope(reversePath: .mailbox(Mailbox(localPart: "s", host: .domain("src.test"))),
                                   recipients: [EnvelopeRecipient(path: .mailbox(Mailbox(localPart: "r", host: .domain("dst.test"))))])

    static func deliver(_ text: String, stage: Stage, chunk: Int = 7) async throws -> CommitResult {
        let writer = try await stage.receiver.open(envelope: envelope, session: session)
        let bytes = Array(text.utf8)
        for start in stride(from: 0, to: bytes.count, by: chunk) {
            try await writer.write(ByteBuffer(bytes: bytes[start..<min(start + chunk, bytes.count)]))
        }
        return try await writer.commit(summary: MessageDataSummary(octets: bytes.count))
    }

    static let message = "Subject: test\r\nAuthentication-Results: mx.test; spf=pass\r\n\r\nhello\r\n"

    @Test func inspectionSeesTheMessageAsSentAndItsFieldGoesOnTop() async throws {
        let recorder = Recorder { seen in
            .init(prepend: "X-Seen: \(seen.count)\r\n")
        }
        let stage = try Stage([recorder])
        defer { stage.remove() }
        let result = try await Self.deliver(Self.message, stage: stage)
        #expect(result.reply.code == .ok)
        #expect(recorder.seen.withLockedValue { $0 } == Array(Self.message.utf8))
        let texts = try await stage.forwarded()
        #expect(texts.count == 1)
        let text = try #require(texts.first)
        #expect(text.hasPrefix("X-Seen: \(Self.message.utf8.count)\r\nReceived: from "))
        #expect(text.hasSuffix("Subject: test\r\nAuthentication-Results: mx.test; spf=pass\r\n\r\nhello\r\n"))
        // The head line says format 2; the listing's header view shows the prepended field too.
        let raw = try String(contentsOfFile: stage.directory + "/queue/" + (try stage.store.committedIDs()[0]), encoding: .utf8)
        #expect(raw.hasPrefix("MAILNODE-SPOOL 2 "))
        #expect(raw.hasSuffix(SpoolEntry.footer(prependLength: "X-Seen: \(Self.message.utf8.count)\r\n".utf8.count)))
        let header = try SpoolListing(directory: stage.directory).headerSection(try stage.store.committedIDs()[0])
        #expect(header.hasPrefix("X-Seen: "))
        #expect(header.hasSuffix("Authentication-Results: mx.test; spf=pass"))
    }

    @Test func refusalIsTheReplyAndNothingIsStored() async throws {
        let refuse = Recorder { _ in .refuse(Reply(.transactionFailed, EnhancedStatusCode(5, 7, 1), "no"), defense: "TEST") }
        let tagger = Recorder { _ in .init(prepend: "X-Other: 1\r\n") }
        let stage = try Stage([tagger, refuse])
        defer { stage.remove() }
        let result = try await Self.deliver(Self.message, stage: stage)
        #expect(result.reply.code == .transactionFailed)
        #expect(result.reply.enhancedCode == EnhancedStatusCode(5, 7, 1))
        #expect(try stage.store.committedIDs().isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: stage.directory + "/tmp").isEmpty)
        // Every inspection was asked (each logs and counts its own verdict).
        #expect(tagger.finished.withLockedValue { $0 } == 1)
        #expect(refuse.finished.withLockedValue { $0 } == 1)
    }

    @Test func removedFieldsAreGoneFromTheStoredCopyButSeenByTheInspection() async throws {
        let recorder = Recorder(removeName: "authentication-results") { _ in .init(prepend: "Authentication-Results: mx.test; dkim=none\r\n") }
        let stage = try Stage([recorder])
        defer { stage.remove() }
        _ = try await Self.deliver(Self.message, stage: stage)
        #expect(String(decoding: recorder.seen.withLockedValue { $0 }, as: UTF8.self).contains("spf=pass"))
        let text = try #require(try await stage.forwarded().first)
        #expect(!text.contains("spf=pass"))
        #expect(text.hasPrefix("Authentication-Results: mx.test; dkim=none\r\nReceived: "))
        #expect(text.contains("Subject: test\r\n\r\nhello\r\n"))
    }

    @Test func largeMessageAlreadyOnDiskGetsItsFieldsAndSurvivesALoad() async throws {
        // Over the writer's flush threshold: the start is on disk before the verdict exists.
        let body = String(repeating: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\r\n", count: 8000)
        let text = "Subject: big\r\n\r\n" + body
        let recorder = Recorder { seen in .init(prepend: "X-Size: \(seen.count)\r\n") }
        let stage = try Stage([recorder])
        defer { stage.remove() }
        let result = try await Self.deliver(text, stage: stage, chunk: 64 * 1024)
        #expect(result.reply.code == .ok)
        let forwarded = try #require(try await stage.forwarded().first)
        #expect(forwarded.hasPrefix("X-Size: \(text.utf8.count)\r\nReceived: "))
        #expect(forwarded.hasSuffix(text))
        // Recovery finds the same entry with the same ranges.
        let recovered = try await stage.store.recover(logger: Logger(label: "test"))
        #expect(recovered.entries.count == 1)
        #expect(recovered.entries.first?.entry.prependSize == "X-Size: \(text.utf8.count)\r\n".utf8.count)
    }

    @Test func acceptedWithoutFieldsIsStillFormatTwoAndReadsLikeFormatOne() async throws {
        let stage = try Stage([Recorder { _ in .accept }])
        defer { stage.remove() }
        _ = try await Self.deliver(Self.message, stage: stage)
        let text = try #require(try await stage.forwarded().first)
        #expect(text.hasPrefix("Received: "))
        #expect(text.hasSuffix(Self.message))
    }

    @Test func damagedFooterIsABadRecordNotAMessage() throws {
        let directory = NSTemporaryDirectory() + "mailnode-footer-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let record = SpoolRecord(id: "X", envelope: Self.envelope, client: nil, helo: nil, tls: nil, authenticatedUser: nil,
                                 session: "S", arrival: Date())
        var file = try SpoolEntry.header(for: record, withPrepend: true)
        file.writeString("Subject: x\r\n\r\nbody\r\nMAILNODE-PREPEND 000000000000999\n")
        let path = directory + "/X"
        #expect(FileManager.default.createFile(atPath: path, contents: Data(file.readableBytesView)))
        #expect(throws: SpoolEntry.ParseError.badRecord("bad prepend footer")) { try SpoolEntry.load(path: path) }
    }
}
