import Foundation
import Logging
import NIOCore
import Testing

@testable import Defenses
@testable import SMTPCore

/// The mx role's message stage for DKIM, ARC and DMARC (DM31, MN10, MN04) inside a real
/// ``SpoolReceiver``: signatures verified from the streamed bytes, DMARC dispositions acted on
/// before the commit, our Authentication-Results on top, forged ones removed.
@Suite struct MessageAuthenticationTests {
    static let key = try! DKIMSigningKey.generate(.ed25519)

    /// example.org: DKIM key, SPF allowing 192.0.2.10 only, DMARC p=reject.
    /// quarantine.example: p=quarantine, no SPF. broken.example: DMARC look-up fails.
    static func resolver() -> MockResolver {
        var dns = MockResolver()
        dns.addTXT(key.keyRecord, at: "sel._domainkey.example.org")
        dns.addTXT("v=spf1 ip4:192.0.2.10 -all", at: "example.org")
        dns.addTXT("v=DMARC1; p=reject", at: "_dmarc.example.org")
        dns.addTXT("v=DMARC1; p=quarantine", at: "_dmarc.quarantine.example")
        dns.fail("_dmarc.broken.example", with: .serverFailure)
        return dns
    }

    struct Stage {
        let store: SpoolStore
        let receiver: SpoolReceiver
        let directory: String

        init(_ configuration: MessageAuthentication.Configuration = .init(authservID: "mx.test"),
             reports: (any DMARCReportStore)? = nil) throws {
            directory = NSTemporaryDirectory() + "mailnode-auth-" + UUID().uuidString
            store = try SpoolStore(directory: directory)
            let inspector = MessageAuthentication(configuration: configuration, resolver: MessageAuthenticationTests.resolver(),
                                                  reports: reports, logger: Logger(label: "test"))
            receiver = SpoolReceiver(store: store, hostname: "mx.test", inspectors: [inspector], logger: Logger(label: "test"))
        }

        func remove() { try? FileManager.default.removeItem(atPath: directory) }

        func deliver(_ text: String, client: String = "192.0.2.10", mailFrom: String = "bounce@example.org",
                     authenticated: Bool = false) async throws -> (CommitResult, String?) {
            var session = SessionContext(sessionID: "S1", remoteAddress: try SocketAddress(ipAddress: client, port: 40000), listenerName: "mx")
            session.heloName = .domain("mail.example.org")
            if authenticated { session.authenticatedUser = "alice" }
            let parts = mailFrom.split(separator: "@")
            let envelope = Envelope(reversePath: .mailbox(Mailbox(localPart: String(parts[0]), host: .domain(String(parts[1])))),
                                    recipients: [EnvelopeRecipient(path: .mailbox(Mailbox(localPart: "r", host: .domain("mx.test"))))])
            let writer = try await receiver.open(envelope: envelope, session: session)
            let bytes = Array(text.utf8)
            for start in stride(from: 0, to: bytes.count, by: 13) {
                try await writer.write(ByteBuffer(bytes: bytes[start..<min(start + 13, bytes.count)]))
            }
            let result = try await writer.commit(summary: MessageDataSummary(octets: bytes.count))
            guard let id = try store.committedIDs().last else { return (result, nil) }
            var stored: [UInt8] = []
            for try await chunk in store.message(of: try store.committedEntry(id)) { stored += chunk.readableBytesView }
            return (result, String(decoding: stored, as: UTF8.self))
        }
    }

    static func message(from: String, subject: String = "hello", extra: String = "") -> String {
        "From: Alice <alice@\(from)>\r\nTo: r@mx.test\r\nSubject: \(subject)\r\n\(extra)\r\nbody line\r\n"
    }

    static func signed(_ text: String) throws -> String {
        let signer = DKIMSigner(domain: "example.org", selector: "sel", key: key)
        let field = try signer.sign(message: Array(text.utf8))
        return String(decoding: field.raw, as: UTF8.self) + "\r\n" + text
    }

    /// The Authentication-Results field we put on top (below our Received-SPF), unfolded.
    static func ourField(_ stored: String) -> String {
        let first = stored.components(separatedBy: "\r\nReceived: ")[0]
        let field = first.range(of: "Authentication-Results: ").map { String(first[$0.lowerBound...]) } ?? first
        return field.replacingOccurrences(of: "\r\n\t", with: " ")
    }

    /// Our Received-SPF field, unfolded, or nil when the stored message starts otherwise.
    static func receivedSPF(_ stored: String) -> String? {
        guard stored.hasPrefix("Received-SPF: "), let end = stored.range(of: "\r\nAuthentication-Results: ") else { return nil }
        return String(stored[..<end.lowerBound]).replacingOccurrences(of: "\r\n\t", with: " ")
    }

    @Test func receivedSPFFieldGoesAboveOurAuthenticationResultsUnlessSwitchedOff() async throws {
        let stage = try Stage()
        defer { stage.remove() }
        let (_, delivered) = try await stage.deliver(try Self.signed(Self.message(from: "example.org")))
        let stored = try #require(delivered)
        let field = try #require(Self.receivedSPF(stored))
        #expect(field == "Received-SPF: pass (mx.test: domain of bounce@example.org designates 192.0.2.10 as permitted sender) "
            + "client-ip=192.0.2.10; envelope-from=\"bounce@example.org\"; helo=mail.example.org; receiver=mx.test; "
            + "identity=mailfrom; mechanism=\"ip4:192.0.2.10\";")
        // Folded: every line of the field is short and continues with a tab (RFC 5322 §2.2.3).
        let lines = stored.components(separatedBy: "\r\nAuthentication-Results: ")[0].components(separatedBy: "\r\n")
        #expect(lines.count == 7)  // result and comment, then six key-value pairs
        #expect(lines.dropFirst().allSatisfy { $0.hasPrefix("\t") })

        let quiet = try Stage(.init(authservID: "mx.test", receivedSPF: false))
        defer { quiet.remove() }
        let (_, plainDelivery) = try await quiet.deliver(try Self.signed(Self.message(from: "example.org")))
        let plain = try #require(plainDelivery)
        #expect(plain.hasPrefix("Authentication-Results: mx.test;"))
        #expect(!plain.contains("Received-SPF:"))
    }

    @Test func signedAlignedMessagePassesWithEveryResultInOurField() async throws {
        let stage = try Stage()
        defer { stage.remove() }
        let (result, stored) = try await stage.deliver(try Self.signed(Self.message(from: "example.org")))
        #expect(result.reply.code == .ok)
        let field = Self.ourField(try #require(stored))
        #expect(field.hasPrefix("Authentication-Results: mx.test;"))
        #expect(field.contains("spf=pass smtp.mailfrom=example.org"))
        #expect(field.contains("dkim=pass header.d=example.org"))
        #expect(field.contains("dmarc=pass"))
        #expect(field.contains("header.from=example.org"))
    }

    @Test func unsignedMessageFromAnUnlistedClientIsRefusedByPRejectAndNotStored() async throws {
        let stage = try Stage()
        defer { stage.remove() }
        let (result, stored) = try await stage.deliver(Self.message(from: "example.org"), client: "198.51.100.7")
        #expect(result.reply.code == .mailboxUnavailable)
        #expect(result.reply.enhancedCode == EnhancedStatusCode(5, 7, 1))
        #expect(stored == nil)
        #expect(try stage.store.committedIDs().isEmpty)
    }

    @Test func brokenSignatureFailsDKIMAndDMARCButTagModeKeepsTheMessage() async throws {
        let stage = try Stage(.init(authservID: "mx.test", onReject: .tag))
        defer { stage.remove() }
        let tampered = try Self.signed(Self.message(from: "example.org")).replacingOccurrences(of: "body line", with: "body LINE")
        let (result, stored) = try await stage.deliver(tampered, client: "198.51.100.7")
        #expect(result.reply.code == .ok)
        let field = Self.ourField(try #require(stored))
        #expect(field.contains("spf=fail"))
        #expect(field.contains("dkim=fail"))
        #expect(field.contains("dmarc=fail"))
        #expect(field.contains("policy.dmarc=reject"))
    }

    @Test func quarantinePolicyIsTaggedByDefault() async throws {
        let stage = try Stage()
        defer { stage.remove() }
        let (result, stored) = try await stage.deliver(Self.message(from: "quarantine.example"), mailFrom: "b@quarantine.example")
        #expect(result.reply.code == .ok)
        #expect(Self.ourField(try #require(stored)).contains("dmarc=fail (p=quarantine dis=quarantine) header.from=quarantine.example policy.dmarc=quarantine"))
    }

    @Test func dnsTroubleIsTemperrorAndNeverAPermanentRefusal() async throws {
        let stage = try Stage(.init(authservID: "mx.test", onTemperror: .tempfail))
        defer { stage.remove() }
        let (result, stored) = try await stage.deliver(Self.message(from: "broken.example"), mailFrom: "b@broken.example")
        #expect(result.reply.code == .localError)
        #expect(result.reply.enhancedCode == EnhancedStatusCode(4, 7, 5))
        #expect(stored == nil)
        let tagging = try Stage()
        defer { tagging.remove() }
        let (tagged, kept) = try await tagging.deliver(Self.message(from: "broken.example"), mailFrom: "b@broken.example")
        #expect(tagged.reply.code == .ok)
        #expect(Self.ourField(try #require(kept)).contains("dmarc=temperror"))
    }

    @Test func forgedFieldsClaimingUsAreRemovedOthersStay() async throws {
        let stage = try Stage()
        defer { stage.remove() }
        let extra = "Authentication-Results: mx.test; dkim=pass header.d=paypal.com\r\n"
            + "Authentication-Results: MX.TEST.; spf=pass\r\n"
            + "Authentication-Results: other.example; spf=none\r\n"
        let (_, stored) = try await stage.deliver(try Self.signed(Self.message(from: "example.org", extra: extra)))
        let text = try #require(stored)
        #expect(!text.contains("paypal.com"))
        #expect(!text.contains("MX.TEST."))
        #expect(text.contains("Authentication-Results: other.example; spf=none"))
        // The signature covered neither field: it still verifies over what arrived.
        #expect(Self.ourField(text).contains("dkim=pass"))
    }

    @Test func authenticatedUsersAreNotChecked() async throws {
        let stage = try Stage()
        defer { stage.remove() }
        let (result, stored) = try await stage.deliver(Self.message(from: "example.org"), client: "198.51.100.7", authenticated: true)
        #expect(result.reply.code == .ok)
        #expect(try #require(stored).hasPrefix("Received: "))
    }

    @Test func malformedHeaderIsPermerrorNotACrash() async throws {
        let stage = try Stage(.init(authservID: "mx.test", messageLimits: MessageLimits(maxHeaderBytes: 200)))
        defer { stage.remove() }
        let huge = "X-Long: " + String(repeating: "a", count: 500) + "\r\n"
        let (result, stored) = try await stage.deliver(Self.message(from: "example.org", extra: huge))
        #expect(result.reply.code == .ok)
        let field = Self.ourField(try #require(stored))
        #expect(field.contains("dkim=permerror"))
        #expect(field.contains("dmarc=permerror"))
    }
}
