import Foundation
import NIOCore
import Testing

@testable import Defenses
@testable import SMTPCore

/// DM26 (``HashcashPostage``) inside a real ``SpoolReceiver``, behind the internal-field filter,
/// with a ``MemoryStateStore`` for the spent stamps and a fixed clock (2026-12-07 12:00 UTC).
@Suite struct HashcashPostageTests {
    static let now = Date(timeIntervalSince1970: 1_796_601_600 + 12 * 3600)
    static let today = "261207"

    struct Stage {
        let store: SpoolStore
        let receiver: SpoolReceiver
        let directory: String
        let log = CapturedLog()
        let metrics = DefenseMetrics()

        init(_ configuration: HashcashPostage.Configuration = .init(requiredBits: 12), state: any StateStore = MemoryStateStore(),
             trustedUpstreams: [IPNetwork] = []) throws {
            directory = NSTemporaryDirectory() + "mailnode-hashcash-" + UUID().uuidString
            store = try SpoolStore(directory: directory)
            var configuration = configuration
            configuration.trustedNetworks = trustedUpstreams
            let inspectors: [any MessageInspector] = [
                InternalHeaderFilter(trustedNetworks: trustedUpstreams, logger: log.logger),
                HashcashPostage(configuration, store: state, metrics: metrics, now: { HashcashPostageTests.now }, logger: log.logger),
            ]
            receiver = SpoolReceiver(store: store, hostname: "mx.test", configuration: .init(trustedUpstreams: ["mx": trustedUpstreams]),
                                     inspectors: inspectors, logger: log.logger)
        }

        func remove() { try? FileManager.default.removeItem(atPath: directory) }

        func deliver(_ text: String, to recipients: [String] = ["r@mx.test"], client: String = "198.51.100.7",
                     authenticated: Bool = false) async throws -> (CommitResult, String?) {
            var session = SessionContext(sessionID: "S1", remoteAddress: try SocketAddress(ipAddress: client, port: 40000), listenerName: "mx")
            session.heloName = .domain("mail.example.org")
            if authenticated { session.authenticatedUser = "alice" }
            let envelope = Envelope(reversePath: .mailbox(Mailbox(localPart: "a", host: .domain("example.org"))),
                                    recipients: recipients.map { address in
                                        let parts = address.split(separator: "@")
                                        return EnvelopeRecipient(path: .mailbox(Mailbox(localPart: String(parts[0]), host: .domain(String(parts[1])))))
                                    })
            let writer = try await receiver.open(envelope: envelope, session: session)
            let bytes = Array(text.utf8)
            for start in stride(from: 0, to: bytes.count, by: 11) {
                try await writer.write(ByteBuffer(bytes: bytes[start..<min(start + 11, bytes.count)]))
            }
            let result = try await writer.commit(summary: MessageDataSummary(octets: bytes.count))
            guard result.reply.code == .ok, let id = try store.committedIDs().last else { return (result, nil) }
            var stored: [UInt8] = []
            for try await chunk in store.message(of: try store.committedEntry(id)) { stored += chunk.readableBytesView }
            return (result, String(decoding: stored, as: UTF8.self))
        }
    }

    static func message(stamps: [String], subject: String = "hello", extra: String = "") -> String {
        "From: a@example.org\r\nTo: r@mx.test\r\nSubject: \(subject)\r\n"
            + stamps.map { "X-Hashcash: \($0)\r\n" }.joined() + extra + "\r\nHello.\r\n"
    }

    static func mint(_ resource: String = "r@mx.test", bits: Int = 12, date: String = today, claim: Int? = nil) -> String {
        HashcashStampTests.mint(resource, bits: bits, date: date, claim: claim)
    }

    /// The value of our result field in `stored`, which must appear exactly once.
    static func result(_ stored: String?) throws -> String {
        let text = try #require(stored)
        let lines = text.components(separatedBy: "\r\n").filter { $0.hasPrefix("X-Mailnode-Hashcash: ") }
        try #require(lines.count == 1, "\(text)")
        return String(lines[0].dropFirst("X-Mailnode-Hashcash: ".count))
    }

    @Test func everyRecipientPaidIsAPass() async throws {
        let stage = try Stage()
        defer { stage.remove() }
        let text = Self.message(stamps: [Self.mint("r@mx.test"), Self.mint("S@MX.test", bits: 14)])
        let (reply, stored) = try await stage.deliver(text, to: ["r@mx.test", "s@mx.test"])
        #expect(reply.reply.code == .ok)
        #expect(try Self.result(stored) == "pass; paid=2/2; bits=12")
        #expect(try #require(stored).hasSuffix(text), "the stamps stay in the message")
        #expect(stage.metrics.prometheusText().contains(#"defense="DM26",outcome="tagged"} 1"#), "\(stage.metrics.prometheusText())")
        #expect(stage.log.text.contains("defense=DM26") && stage.log.text.contains("result=pass"), "\(stage.log.text)")
    }

    @Test func oneOfTwoIsPartialAndNoneIsNone() async throws {
        let stage = try Stage()
        defer { stage.remove() }
        let (_, partial) = try await stage.deliver(Self.message(stamps: [Self.mint("s@mx.test")]), to: ["r@mx.test", "s@mx.test"])
        #expect(try Self.result(partial) == "partial; paid=1/2; bits=12")
        let (_, none) = try await stage.deliver(Self.message(stamps: []))
        #expect(try Self.result(none) == "none; paid=0/1; bits=12")
    }

    @Test(arguments: [
        ("other-resource", mint("someone@else.test")),
        ("insufficient", mint(bits: 8)),                                 // claims 8, 12 asked
        ("expired", mint(date: "261129")),                              // 8 days old, 7 allowed
        ("future", mint(date: "261210")),                               // 3 days ahead, 2 allowed
        ("malformed", "0:261207:r@mx.test:abc"),
    ])
    func unpaidStampsNameTheirReason(reason: String, stamp: String) async throws {
        let stage = try Stage()
        defer { stage.remove() }
        let (reply, stored) = try await stage.deliver(Self.message(stamps: [stamp]))
        #expect(reply.reply.code == .ok, "tag never refuses")
        #expect(try Self.result(stored) == "fail; paid=0/1; bits=12; reason=\(reason)")
    }

    @Test func aClaimTheWorkDoesNotCoverIsInsufficient() async throws {
        let stage = try Stage()
        defer { stage.remove() }
        var stamp = ""
        repeat { stamp = Self.mint(bits: 4, claim: 16) } while HashcashStamp(stamp)!.value >= 16
        let (_, stored) = try await stage.deliver(Self.message(stamps: [stamp]))
        #expect(try Self.result(stored) == "fail; paid=0/1; bits=12; reason=insufficient")
    }

    @Test func theOldestAcceptedDayAndAFoldedFieldPass() async throws {
        let stage = try Stage()
        defer { stage.remove() }
        // 2026-11-30 00:00 is 7.5 days before the clock: too old; 2026-12-01 passes.
        let (_, old) = try await stage.deliver(Self.message(stamps: [Self.mint(date: "261130")]))
        #expect(try Self.result(old).hasPrefix("fail;"))
        let (_, folded) = try await stage.deliver(Self.message(stamps: [], extra: "X-Hashcash:\r\n\t\(Self.mint(date: "261201"))\r\n"))
        #expect(try Self.result(folded) == "pass; paid=1/1; bits=12")
    }

    @Test func aStampSpendsOnceButTheSameMessageMayBeRetried() async throws {
        let stage = try Stage()
        defer { stage.remove() }
        let stamp = Self.mint()
        let first = Self.message(stamps: [stamp], subject: "first")
        let (_, one) = try await stage.deliver(first)
        #expect(try Self.result(one) == "pass; paid=1/1; bits=12")
        // The same message again (a retry after a 4xx): same header, still paid.
        let (_, retried) = try await stage.deliver(first)
        #expect(try Self.result(retried) == "pass; paid=1/1; bits=12")
        // The stamp on another message: spent.
        let (_, other) = try await stage.deliver(Self.message(stamps: [stamp], subject: "second"))
        #expect(try Self.result(other) == "fail; paid=0/1; bits=12; reason=spent")
        #expect(stage.log.text.contains("hashcash stamp spent before"), "\(stage.log.text)")
    }

    @Test func requireRefusesUnpaidMailAndAcceptsPaidMail() async throws {
        let stage = try Stage(.init(requiredBits: 12, action: .require))
        defer { stage.remove() }
        let (refused, nothing) = try await stage.deliver(Self.message(stamps: [Self.mint("r@mx.test")]), to: ["r@mx.test", "s@mx.test"])
        #expect(refused.reply.code == .mailboxUnavailable && refused.reply.enhancedCode == EnhancedStatusCode(5, 7, 1))
        #expect(refused.reply.lines.joined() == "Hashcash postage required for every recipient")
        #expect(nothing == nil)
        #expect(try stage.store.committedIDs().isEmpty)
        #expect(stage.metrics.prometheusText().contains(#"defense="DM26",outcome="rejected"} 1"#))
        let (accepted, stored) = try await stage.deliver(Self.message(stamps: [Self.mint("r@mx.test"), Self.mint("s@mx.test")]),
                                                         to: ["r@mx.test", "s@mx.test"])
        #expect(accepted.reply.code == .ok)
        #expect(try Self.result(stored) == "pass; paid=2/2; bits=12")
    }

    @Test func aForgedResultFieldIsRemovedAndOursWritten() async throws {
        let stage = try Stage()
        defer { stage.remove() }
        let (_, stored) = try await stage.deliver(Self.message(stamps: [], extra: "X-Mailnode-Hashcash: pass; paid=1/1; bits=99\r\n"))
        #expect(try Self.result(stored) == "none; paid=0/1; bits=12")
    }

    @Test func trustedUpstreamsAndUsersAreNotChecked() async throws {
        let stage = try Stage(.init(requiredBits: 12, action: .require), trustedUpstreams: [try #require(IPNetwork("10.0.0.0/8"))])
        defer { stage.remove() }
        let (upstream, fromUpstream) = try await stage.deliver(Self.message(stamps: []), client: "10.1.2.3")
        #expect(upstream.reply.code == .ok)
        let upstreamText = try #require(fromUpstream)
        #expect(!upstreamText.contains("X-Mailnode-Hashcash"))
        let (user, fromUser) = try await stage.deliver(Self.message(stamps: []), authenticated: true)
        #expect(user.reply.code == .ok)
        let userText = try #require(fromUser)
        #expect(!userText.contains("X-Mailnode-Hashcash:"))
    }

    /// A state store that fails every call.
    struct BrokenStore: StateStore {
        struct Failure: Error {}
        func increment(_ key: String, by amount: Int, window: StateWindow, at now: Date) async throws -> Int { throw Failure() }
        func count(_ key: String, window: StateWindow, at now: Date) async throws -> Int { throw Failure() }
        func record(_ key: String, at now: Date) async throws -> StateRecord? { throw Failure() }
        func insertRecord(_ key: String, value: String, expires: Date, at now: Date) async throws -> StateRecord { throw Failure() }
        func putRecord(_ key: String, value: String, expires: Date, at now: Date) async throws { throw Failure() }
        func removeRecord(_ key: String) async throws { throw Failure() }
        func purgeExpired(at now: Date) async throws -> Int { throw Failure() }
    }

    @Test func aBrokenStateStoreStillCountsPaidStamps() async throws {
        let stage = try Stage(.init(requiredBits: 12, action: .require), state: BrokenStore())
        defer { stage.remove() }
        let (reply, stored) = try await stage.deliver(Self.message(stamps: [Self.mint()]))
        #expect(reply.reply.code == .ok)
        #expect(try Self.result(stored) == "pass; paid=1/1; bits=12")
        #expect(stage.log.text.contains("hashcash double-spend check failed; stamp counted"), "\(stage.log.text)")
    }
}
