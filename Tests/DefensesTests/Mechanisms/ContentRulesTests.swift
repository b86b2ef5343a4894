import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import Testing

@testable import Defenses
@testable import SMTPCore

/// Log events kept in memory, to check what a defense logs (and what it must not).
final class CapturedLog: Sendable {
    struct Handler: LogHandler {
        let log: CapturedLog
        var metadata: Logger.Metadata = [:]
        var metadataProvider: Logger.MetadataProvider?
        var logLevel: Logger.Level = .trace

        func log(event: LogEvent) {
            let fields = (event.metadata ?? [:]).merging(metadata) { one, _ in one }
            let text = "\(event.level) \(event.message) " + fields.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            log.lines.withLockedValue { $0.append(text) }
        }

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
    }

    let lines = NIOLockedValueBox<[String]>([])
    var logger: Logger { Logger(label: "test") { _ in Handler(log: self) } }
    var text: String { lines.withLockedValue { $0.joined(separator: "\n") } }
}

/// DM23 on the message (``ContentRules``) and the internal-field filter (``InternalHeaderFilter``)
/// inside a real ``SpoolReceiver``, fed in small chunks so that lines and fields cross chunk
/// boundaries.
@Suite struct ContentRulesTests {
    static func rules(_ patterns: [String]) throws -> [ContentRules.Rule] {
        try patterns.map { try #require(ContentRules.Rule($0)) }
    }

    struct Stage {
        let store: SpoolStore
        let receiver: SpoolReceiver
        let directory: String
        let log = CapturedLog()
        let metrics = DefenseMetrics()

        init(_ configuration: ContentRules.Configuration, trustedUpstreams: [IPNetwork] = []) throws {
            directory = NSTemporaryDirectory() + "mailnode-rules-" + UUID().uuidString
            store = try SpoolStore(directory: directory)
            let inspectors: [any MessageInspector] = [
                InternalHeaderFilter(trustedNetworks: trustedUpstreams, logger: log.logger),
                ContentRules(configuration, metrics: metrics, logger: log.logger),
            ]
            receiver = SpoolReceiver(store: store, hostname: "mx.test", configuration: .init(trustedUpstreams: ["mx": trustedUpstreams]),
                                     inspectors: inspectors, logger: log.logger)
        }

        func remove() { try? FileManager.default.removeItem(atPath: directory) }

        func deliver(_ text: String, chunk: Int = 7, client: String = "198.51.100.7", authenticated: Bool = false) async throws -> (CommitResult, String?) {
            var session = SessionContext(sessionID: "S1", remoteAddress: try SocketAddress(ipAddress: client, port: 40000), listenerName: "mx")
            session.heloName = .domain("mail.example.org")
            if authenticated { session.authenticatedUser = "alice" }
            let envelope = Envelope(reversePath: .mailbox(Mailbox(localPart: "a", host: .domain("example.org"))),
                                    recipients: [EnvelopeRecipient(path: .mailbox(Mailbox(localPart: "r", host: .domain("mx.test"))))])
            let writer = try await receiver.open(envelope: envelope, session: session)
            let bytes = Array(text.utf8)
            for start in stride(from: 0, to: bytes.count, by: chunk) {
                try await writer.write(ByteBuffer(bytes: bytes[start..<min(start + chunk, bytes.count)]))
            }
            let result = try await writer.commit(summary: MessageDataSummary(octets: bytes.count))
            guard let id = try store.committedIDs().last else { return (result, nil) }
            var stored: [UInt8] = []
            for try await chunk in store.message(of: try store.committedEntry(id)) { stored += chunk.readableBytesView }
            return (result, String(decoding: stored, as: UTF8.self))
        }
    }

    static func message(header: String = "", body: String = "Hello,\r\nsee you.\r\n") -> String {
        "From: a@example.org\r\nTo: r@mx.test\r\nSubject: hello\r\n\(header)\r\n\(body)"
    }

    static func expectRefused(_ result: CommitResult, stored: String?, stage: Stage) throws {
        #expect(result.reply.code == .mailboxUnavailable)
        #expect(result.reply.enhancedCode == EnhancedStatusCode(5, 7, 1))
        #expect(result.reply.lines.joined() == "Rejected by local policy", "no rule text to the client")
        #expect(stored == nil)
        #expect(try stage.store.committedIDs().isEmpty)
        #expect(stage.metrics.prometheusText().contains(#"defense="DM23",outcome="rejected"} 1"#), "\(stage.metrics.prometheusText())")
    }

    @Test func headerRuleMatchesAFoldedFieldUnfolded() async throws {
        let stage = try Stage(.init(header: try Self.rules(["^X-Other:", #"^Subject:.*cheap\s+pills"#])))
        defer { stage.remove() }
        // "Subject: Cheap\r\n\tpills" unfolds to "Subject: Cheap\tpills"; case-insensitive as Postfix.
        let text = "From: a@example.org\r\nSubject: Buy Cheap\r\n\tpills now\r\n\r\nbody\r\n"
        let (result, stored) = try await stage.deliver(text)
        try Self.expectRefused(result, stored: stored, stage: stage)
        #expect(stage.log.text.contains("list=reject_header"), "\(stage.log.text)")
        #expect(stage.log.text.contains("rule=1"))
        #expect(stage.log.text.contains("defense=DM23"))
        #expect(stage.log.text.contains("where=Subject"))
        #expect(!stage.log.text.contains("now"), "never the message itself")
    }

    @Test(arguments: [1, 3, 7, 64])
    func bodyRuleMatchesALineSplitAcrossChunks(chunk: Int) async throws {
        let stage = try Stage(.init(body: try Self.rules(["^never$", "click here to claim"])))
        defer { stage.remove() }
        let (result, stored) = try await stage.deliver(Self.message(body: "Dear friend,\r\nplease CLICK HERE to claim your prize\r\nbye\r\n"),
                                                       chunk: chunk)
        try Self.expectRefused(result, stored: stored, stage: stage)
        #expect(stage.log.text.contains("list=reject_body") && stage.log.text.contains("rule=1"), "\(stage.log.text)")
        #expect(stage.log.text.contains("where=line 2"))
        #expect(!stage.log.text.contains("prize"))
    }

    @Test func anchorsApplyToEachLineAndTheLastLineNeedsNoCRLF() async throws {
        let stage = try Stage(.init(body: try Self.rules(["^unsubscribe$"])))
        defer { stage.remove() }
        let (accepted, stored) = try await stage.deliver(Self.message(body: "please unsubscribe me\r\n"))
        #expect(accepted.reply.code == .ok)
        #expect(try #require(stored).contains("please unsubscribe me"))
        let (refused, _) = try await stage.deliver(Self.message(body: "hi\r\nUnsubscribe"))
        #expect(refused.reply.code == .mailboxUnavailable)
    }

    @Test func noMatchIsStoredUnchanged() async throws {
        let stage = try Stage(.init(header: try Self.rules(["^Subject:.*viagra"]), body: try Self.rules(["casino"])))
        defer { stage.remove() }
        let text = Self.message()
        let (result, stored) = try await stage.deliver(text)
        #expect(result.reply.code == .ok)
        let message = try #require(stored)
        #expect(message.hasPrefix("Received: "))
        #expect(message.hasSuffix(text))
        #expect(!stage.log.text.contains("content rule matched"))
    }

    @Test func trustedUpstreamsAndAuthenticatedUsersAreNotChecked() async throws {
        let stage = try Stage(.init(body: try Self.rules(["casino"]), trustedNetworks: [try #require(IPNetwork("10.0.0.0/8"))]))
        defer { stage.remove() }
        let text = Self.message(body: "best casino in town\r\n")
        #expect(try await stage.deliver(text, client: "10.1.2.3").0.reply.code == .ok)
        #expect(try await stage.deliver(text, authenticated: true).0.reply.code == .ok)
        #expect(try await stage.deliver(text).0.reply.code == .mailboxUnavailable)
    }

    @Test func bodyAfterTheScanLimitIsNotScanned() async throws {
        let stage = try Stage(.init(body: try Self.rules(["casino"]), bodyScanLimit: 100))
        defer { stage.remove() }
        let filler = String(repeating: "filler line of text\r\n", count: 10)   // 210 octets
        let (late, _) = try await stage.deliver(Self.message(body: filler + "casino\r\n"))
        #expect(late.reply.code == .ok, "after the first 100 body octets")
        let (early, _) = try await stage.deliver(Self.message(body: "casino\r\n" + filler))
        #expect(early.reply.code == .mailboxUnavailable)
    }

    @Test func aLargeChunkIsScannedInSlices() async throws {
        let stage = try Stage(.init(body: try Self.rules(["claim your prize"])))
        defer { stage.remove() }
        // 40,000 octets of filler, then a line that straddles the 16 KiB slice boundaries somewhere.
        let filler = String(repeating: "filler line of text, 32 octets\r\n", count: 1250)
        let text = Self.message(body: filler + "now claim your prize\r\n" + filler)
        #expect(try await stage.deliver(text, chunk: 200_000).0.reply.code == .mailboxUnavailable)
        #expect(try await stage.deliver(Self.message(body: filler + filler), chunk: 200_000).0.reply.code == .ok)
    }

    @Test func onlyTheStartOfAVeryLongLineIsMatched() async throws {
        let stage = try Stage(.init(body: try Self.rules(["casino"]), maxLineOctets: 50))
        defer { stage.remove() }
        let long = String(repeating: "x", count: 60) + " casino\r\n"
        #expect(try await stage.deliver(Self.message(body: long), chunk: 16).0.reply.code == .ok)
        #expect(try await stage.deliver(Self.message(body: "casino " + long), chunk: 16).0.reply.code == .mailboxUnavailable)
        #expect(try await stage.deliver(Self.message(body: long + "casino\r\n"), chunk: 16).0.reply.code == .mailboxUnavailable,
                "the next line is matched again")
    }

    @Test func aMessageWithoutBodyIsMatchedOnItsHeader() async throws {
        let stage = try Stage(.init(header: try Self.rules(["^To:.*victim"])))
        defer { stage.remove() }
        #expect(try await stage.deliver("From: a@example.org\r\nTo: victim@mx.test\r\n").0.reply.code == .mailboxUnavailable)
    }

    // MARK: - Internal header fields

    @Test func internalFieldsFromOutsideAreRemoved() async throws {
        let stage = try Stage(.init(body: try Self.rules(["casino"])))
        defer { stage.remove() }
        let forged = "Mailnode-Id: <forged@mx.test>\r\nX-Mailnode-Spam: ham\r\nx-mailnode-virus:\r\n clean\r\nX-Mailnodes: other\r\n"
        let (result, stored) = try await stage.deliver(Self.message(header: forged))
        #expect(result.reply.code == .ok)
        let message = try #require(stored)
        #expect(!message.contains("forged@mx.test"))
        #expect(!message.contains("X-Mailnode-Spam") && !message.contains("x-mailnode-virus") && !message.contains("clean"))
        #expect(message.contains("X-Mailnodes: other"), "only the X-Mailnode- prefix")
        #expect(message.contains("Mailnode-Id: <"), "our own id is added")
        #expect(stage.log.text.contains("info internal header field removed") && stage.log.text.contains("field=X-Mailnode-Spam"),
                "\(stage.log.text)")
    }

    @Test func internalFieldsFromTrustedUpstreamsAreKept() async throws {
        let upstream = try #require(IPNetwork("10.0.0.0/8"))
        let stage = try Stage(.init(body: try Self.rules(["casino"])), trustedUpstreams: [upstream])
        defer { stage.remove() }
        let id = MailnodeIDHeader.makeID(queueID: "00HOFLHSZ0A4QE2V8W1B", hostname: "a.test")
        let (result, stored) = try await stage.deliver(Self.message(header: "Mailnode-Id: \(id)\r\nX-Mailnode-Spam: ham\r\n"), client: "10.0.0.5")
        #expect(result.reply.code == .ok)
        let message = try #require(stored)
        #expect(message.contains("X-Mailnode-Spam: ham"))
        #expect(message.contains("Mailnode-Id: \(id)"))
    }

    @Test func theFilterAloneLeavesTheSpoolFormatAlone() async throws {
        let directory = NSTemporaryDirectory() + "mailnode-rules-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try SpoolStore(directory: directory)
        let receiver = SpoolReceiver(store: store, hostname: "mx.test", inspectors: [InternalHeaderFilter()])
        let session = SessionContext(sessionID: "S1", remoteAddress: try SocketAddress(ipAddress: "198.51.100.7", port: 1), listenerName: "mx")
        let envelope = Envelope(reversePath: .null, recipients: [EnvelopeRecipient(path: .mailbox(Mailbox(localPart: "r", host: .domain("mx.test"))))])
        let writer = try await receiver.open(envelope: envelope, session: session)
        try await writer.write(ByteBuffer(string: Self.message(header: "X-Mailnode-Spam: ham\r\n")))
        #expect(try await writer.commit(summary: MessageDataSummary(octets: 10)).reply.code == .ok)
        let id = try #require(try store.committedIDs().first)
        let raw = try String(contentsOfFile: directory + "/queue/" + id, encoding: .utf8)
        #expect(raw.hasPrefix("MAILNODE-SPOOL 1 "), "no inspection began: format 1")
        #expect(!raw.contains("X-Mailnode-Spam"))
    }
}
