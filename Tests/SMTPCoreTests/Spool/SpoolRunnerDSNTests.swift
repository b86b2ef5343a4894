import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import Testing
@testable import SMTPCore

/// A clock the test moves forward: hours pass without waiting for them.
final class TestClock: Sendable {
    private let offset = NIOLockedValueBox<TimeInterval>(0)

    func advance(by seconds: TimeInterval) {
        offset.withLockedValue { $0 += seconds }
    }

    var now: @Sendable () -> Date {
        { [offset] in Date().addingTimeInterval(offset.withLockedValue { $0 }) }
    }
}

/// Delivery status notifications beyond bounces (RFC 3461, RFC 3464): delayed-delivery
/// warnings, success reports (`relayed`, `delivered`), and the DSN parameters towards next hops.
@Suite struct SpoolRunnerDSNTests {
    static func recipient(_ address: String, notify: DSNNotify? = nil, orcpt: OriginalRecipient? = nil) -> EnvelopeRecipient {
        EnvelopeRecipient(path: .mailbox(SpoolRunnerTests.mailbox(address)),
                          parameters: RcptParameters(notify: notify, originalRecipient: orcpt))
    }

    static func envelope(from: String?, _ recipients: [EnvelopeRecipient], parameters: MailParameters = MailParameters()) -> Envelope {
        Envelope(reversePath: from.map { .mailbox(SpoolRunnerTests.mailbox($0)) } ?? .null, parameters: parameters,
                 recipients: recipients)
    }

    static let success = DSNNotify.on(success: true, failure: false, delay: false)
    static let delayOnly = DSNNotify.on(success: false, failure: false, delay: true)
    static let failureOnly = DSNNotify.on(success: false, failure: true, delay: false)

    static func state(_ store: SpoolStore, _ id: String) -> DeliveryState? {
        guard let data = FileManager.default.contents(atPath: store.stateDirectory + "/" + id) else { return nil }
        return try? JSONDecoder().decode(DeliveryState.self, from: data)
    }

    /// Waits until the entry's saved state shows at least `attempts` attempts.
    static func waitForAttempts(_ store: SpoolStore, _ id: String, atLeast attempts: Int) async throws {
        try await SpoolRunnerTests.eventually(timeout: .seconds(60)) { (state(store, id)?.attempts ?? 0) >= attempts }
    }

    static func reports(_ server: LiveServer) -> [String] {
        server.receiver.messages.filter { $0.envelope.reversePath == .null }.map { String(buffer: $0.data) }
    }

    /// The next hop defers `dst.test` (450 4.2.0) and takes everything else, so the warnings
    /// to `src.test` senders arrive at the same server.
    static func deferringRunner(store: SpoolStore, port: Int, clock: TestClock,
                                delayWarning: TimeInterval = RetryPolicy.defaultDelayWarning) -> SpoolRunner {
        var configuration = SpoolRunnerTests.configuration(
            port: port, retry: RetryPolicy(initialDelay: 0.2, maxDelay: 0.5, jitter: 0, delayWarning: delayWarning))
        configuration.clock = clock.now
        return SpoolRunner(store: store, configuration: configuration, logger: Logger(label: "test"))
    }

    // MARK: - Delayed-delivery warnings

    @Test func oneDelayWarningPerRecipientEvenAcrossARestart() async throws {
        let next = try await LiveServer(hooks: SpoolRunnerTests.DeferDestination())
        let store = try SpoolStore(directory: SpoolRunnerTests.temporaryDirectory())
        let clock = TestClock()
        let entry = try await store.inject(
            envelope: Self.envelope(from: "sender@src.test", [
                Self.recipient("plain@dst.test"),                       // no NOTIFY: FAILURE,DELAY (our reading)
                Self.recipient("delay@dst.test", notify: Self.delayOnly,
                               orcpt: OriginalRecipient(addressType: "rfc822", address: "alias@dst.test")),
                Self.recipient("failure@dst.test", notify: Self.failureOnly),
                Self.recipient("never@dst.test", notify: .never),
            ], parameters: MailParameters(envelopeID: "ENV-1")),
            message: ByteBuffer(string: "Subject: stuck\r\nMessage-ID: <stuck@src.test>\r\n\r\nthe body\r\n"))
        var runner = Self.deferringRunner(store: store, port: next.port, clock: clock)
        try await runner.start()
        // Deferred, younger than four hours: no warning.
        try await Self.waitForAttempts(store, entry.id, atLeast: 2)
        #expect(Self.reports(next).isEmpty)

        clock.advance(by: 4 * 3600 + 1)
        await runner.flush()
        try await SpoolRunnerTests.eventually(timeout: .seconds(60)) { Self.reports(next).count == 1 }
        let warning = try #require(Self.reports(next).first)
        let message = try #require(next.receiver.messages.first { $0.envelope.reversePath == .null })
        #expect(message.envelope.recipients.map(\.path.description) == ["<sender@src.test>"])
        #expect(warning.contains("Subject: Delayed Mail (still being retried)"))
        #expect(warning.contains("Content-Type: multipart/report; report-type=delivery-status"))
        #expect(warning.contains("Original-Envelope-Id: ENV-1"))
        // Both recipients that want it share one warning; the others are not mentioned.
        #expect(warning.contains("Final-Recipient: rfc822; plain@dst.test\r\nAction: delayed\r\nStatus: 4.2.0\r\n"
            + "Remote-MTA: dns; 127.0.0.1\r\nDiagnostic-Code: smtp; 450 4.2.0 Try later\r\nWill-Retry-Until: "))
        #expect(warning.contains("Original-Recipient: rfc822; alias@dst.test\r\nFinal-Recipient: rfc822; delay@dst.test\r\nAction: delayed"))
        #expect(!warning.contains("failure@dst.test"))
        #expect(!warning.contains("never@dst.test"))
        // The header section only, never the whole message.
        #expect(warning.contains("Content-Type: text/rfc822-headers\r\n\r\nSubject: stuck\r\n"))
        #expect(!warning.contains("the body"))
        #expect(!warning.contains("message/rfc822"))

        // Marked in the saved state; later attempts do not warn again.
        try await SpoolRunnerTests.eventually(timeout: .seconds(60)) {
            Self.state(store, entry.id)?.recipients.map { $0.delayNotified != nil } == [true, true, false, false]
        }
        let attempts = try #require(Self.state(store, entry.id)).attempts
        try await Self.waitForAttempts(store, entry.id, atLeast: attempts + 2)
        #expect(Self.reports(next).count == 1)

        // A restart reads the mark back: still one warning.
        await runner.stop()
        runner = Self.deferringRunner(store: store, port: next.port, clock: clock)
        try await runner.start()
        try await Self.waitForAttempts(store, entry.id, atLeast: attempts + 4)
        #expect(Self.reports(next).count == 1)
        #expect(await runner.queued == 1)   // the original is still being retried
        await runner.stop()
        await next.stop()
    }

    @Test func noDelayWarningToTheNullSenderNorAboutAReport() async throws {
        let next = try await LiveServer(hooks: SpoolRunnerTests.DeferDestination())
        let store = try SpoolStore(directory: SpoolRunnerTests.temporaryDirectory())
        let clock = TestClock()
        let fromNull = try await store.inject(envelope: Self.envelope(from: nil, [Self.recipient("a@dst.test")]),
                                              message: ByteBuffer(string: "Subject: a bounce\r\n\r\nx\r\n"))
        // A report sent with a real sender (some systems do): no warning about it either.
        let report = try await store.inject(
            envelope: Self.envelope(from: "daemon@src.test", [Self.recipient("b@dst.test")]),
            message: ByteBuffer(string: "Subject: report\r\nContent-Type: multipart/report;\r\n\treport-type=delivery-status; boundary=x\r\n\r\n--x--\r\n"))
        // The control: an ordinary message, warned about, proves the threshold was passed.
        let ordinary = try await store.inject(envelope: Self.envelope(from: "sender@src.test", [Self.recipient("c@dst.test")]),
                                              message: ByteBuffer(string: "Subject: ordinary\r\n\r\nx\r\n"))
        let runner = Self.deferringRunner(store: store, port: next.port, clock: clock)
        try await runner.start()
        for id in [fromNull.id, report.id, ordinary.id] { try await Self.waitForAttempts(store, id, atLeast: 1) }
        clock.advance(by: 5 * 3600)
        await runner.flush()
        var attempts: [String: Int] = [:]
        for id in [fromNull.id, report.id, ordinary.id] { attempts[id] = Self.state(store, id)?.attempts ?? 0 }
        for (id, count) in attempts { try await Self.waitForAttempts(store, id, atLeast: count + 2) }
        try await SpoolRunnerTests.eventually(timeout: .seconds(60)) { Self.reports(next).count == 1 }
        let reports = Self.reports(next)
        #expect(reports.count == 1)
        #expect(reports.first?.contains("Final-Recipient: rfc822; c@dst.test") == true)
        // The report was dealt with (no header reading again each pass); the null sender's never is.
        #expect(Self.state(store, report.id)?.recipients.first?.delayNotified != nil)
        #expect(Self.state(store, fromNull.id)?.recipients.first?.delayNotified == nil)
        await runner.stop()
        await next.stop()
    }

    @Test func zeroSwitchesDelayWarningsOff() async throws {
        let next = try await LiveServer(hooks: SpoolRunnerTests.DeferDestination())
        let store = try SpoolStore(directory: SpoolRunnerTests.temporaryDirectory())
        let clock = TestClock()
        let entry = try await store.inject(envelope: Self.envelope(from: "sender@src.test", [Self.recipient("a@dst.test")]),
                                           message: ByteBuffer(string: "Subject: x\r\n\r\nx\r\n"))
        let runner = Self.deferringRunner(store: store, port: next.port, clock: clock, delayWarning: 0)
        try await runner.start()
        try await Self.waitForAttempts(store, entry.id, atLeast: 1)
        clock.advance(by: 4 * 86_400)   // four days: below the lifetime, far beyond any threshold
        await runner.flush()
        let attempts = Self.state(store, entry.id)?.attempts ?? 0
        try await Self.waitForAttempts(store, entry.id, atLeast: attempts + 3)
        #expect(Self.reports(next).isEmpty)
        #expect(Self.state(store, entry.id)?.recipients.first?.delayNotified == nil)
        await runner.stop()
        await next.stop()
    }

    @Test func delayWarningThreshold() {
        let policy = RetryPolicy()
        #expect(policy.delayWarning == 4 * 3600)
        #expect(!policy.warnsOfDelay(age: 4 * 3600 - 1))
        #expect(policy.warnsOfDelay(age: 4 * 3600))
        #expect(!RetryPolicy(delayWarning: 0).warnsOfDelay(age: 30 * 86_400))
    }

    // MARK: - Success reports

    /// A mailnode server as a next hop: `dsn` says whether its EHLO offers DSN, `lmtp` makes
    /// it an LMTP server (final delivery).
    static func hop(dsn: Bool, lmtp: Bool = false) async throws -> LiveServer {
        try await LiveServer(session: SMTPSessionConfiguration(hostname: lmtp ? "store.test" : "next.test",
                                                               sessionProtocol: lmtp ? .lmtp : .smtp, dsnEnabled: dsn))
    }

    static func routed(_ routes: [String: LiveServer], lmtp: Set<String> = []) -> SpoolRunnerConfiguration {
        var configuration = SpoolRunnerTests.configuration(port: 0)
        var table: [String: NextHop] = [:]
        for (domain, server) in routes {
            table[domain] = NextHop(name: domain, host: "127.0.0.1", port: server.port,
                                    sessionProtocol: lmtp.contains(domain) ? .lmtp : .smtp, tls: .none)
        }
        configuration.routing = RoutingTable(routes: table)
        return configuration
    }

    @Test func successReportsRelayedWithoutDSNDeliveredOverLMTPNoneWhenTheHopOffersDSN() async throws {
        let plain = try await Self.hop(dsn: false)
        let offering = try await Self.hop(dsn: true)
        let storeHop = try await Self.hop(dsn: true, lmtp: true)
        let senderSide = try await Self.hop(dsn: true)
        let store = try SpoolStore(directory: SpoolRunnerTests.temporaryDirectory())
        let runner = SpoolRunner(store: store, configuration: Self.routed([
            "plain.test": plain, "offering.test": offering, "store.test": storeHop, "src.test": senderSide,
        ], lmtp: ["store.test"]), logger: Logger(label: "test"))
        try await runner.start()
        try await store.inject(envelope: Self.envelope(from: "sender@src.test", [
            Self.recipient("a@plain.test", notify: Self.success),
            Self.recipient("b@plain.test"),                                  // no NOTIFY: no success report
            Self.recipient("c@offering.test", notify: Self.success),         // the hop reports from now on
            Self.recipient("d@store.test", notify: .on(success: true, failure: true, delay: false)),
            Self.recipient("e@store.test", notify: Self.failureOnly),
        ], parameters: MailParameters(envelopeID: "ENV-2")),
            message: ByteBuffer(string: "Subject: hello\r\nMessage-ID: <ok@src.test>\r\n\r\nthe body\r\n"))
        // NOTIFY=SUCCESS asked from the null sender: never answered.
        try await store.inject(envelope: Self.envelope(from: nil, [Self.recipient("f@plain.test", notify: Self.success)]),
                               message: ByteBuffer(string: "Subject: from null\r\n\r\nx\r\n"))
        try await SpoolRunnerTests.eventually(timeout: .seconds(60)) { await runner.queued == 0 && senderSide.receiver.messages.count >= 1 }
        // The hop that offers DSN got the NOTIFY (it is its turn to report); the plain one none.
        let forwarded = try #require(offering.receiver.messages.first)
        #expect(forwarded.envelope.recipients.first?.parameters.notify == Self.success)
        #expect(forwarded.envelope.parameters.envelopeID == "ENV-2")
        #expect(plain.receiver.messages.allSatisfy { $0.envelope.recipients.allSatisfy { $0.parameters.notify == nil } })
        #expect(plain.receiver.messages.allSatisfy { $0.envelope.parameters.envelopeID == nil })
        try await Task.sleep(for: .milliseconds(300))
        let reports = Self.reports(senderSide)
        #expect(reports.count == 1)   // one per message and pass
        let report = try #require(reports.first)
        #expect(report.contains("Subject: Successful Mail Delivery Report"))
        #expect(report.contains("Original-Envelope-Id: ENV-2"))
        #expect(report.contains("Final-Recipient: rfc822; a@plain.test\r\nAction: relayed\r\nStatus: 2.0.0\r\nRemote-MTA: dns; 127.0.0.1\r\nDiagnostic-Code: smtp; 250"))
        #expect(report.contains("Final-Recipient: rfc822; d@store.test\r\nAction: delivered\r\nStatus: 2."))
        #expect(report.contains("<a@plain.test> (relayed): 250"))
        #expect(report.contains("<d@store.test> (delivered): 250"))
        for absent in ["b@plain.test", "c@offering.test", "e@store.test", "f@plain.test"] { #expect(!report.contains(absent)) }
        #expect(report.contains("Content-Type: text/rfc822-headers\r\n\r\nSubject: hello\r\n"))
        #expect(!report.contains("the body"))
        await runner.stop()
        for server in [plain, offering, storeHop, senderSide] { await server.stop() }
    }

    @Test func successActions() {
        let smtp = NextHop(name: "n", host: "h", port: 25)
        let lmtp = NextHop(name: "s", host: "h", port: 24, sessionProtocol: .lmtp)
        #expect(SpoolRunner.successAction(hop: smtp, offersDSN: false) == .relayed)
        #expect(SpoolRunner.successAction(hop: smtp, offersDSN: true) == nil)
        #expect(SpoolRunner.successAction(hop: lmtp, offersDSN: true) == .delivered)
        #expect(SpoolRunner.successAction(hop: lmtp, offersDSN: false) == .delivered)
    }

    // MARK: - DSN parameters towards real servers (aiosmtpd)

    /// RET/ENVID on MAIL and NOTIFY/ORCPT on RCPT go, xtext-encoded, only to a server whose EHLO
    /// offers DSN; a server without DSN gets none (aiosmtpd would answer 555 to them) and,
    /// for a NOTIFY=SUCCESS recipient, the sender gets a `relayed` report from us.
    @Test func dsnParametersGoOnlyToAnAiosmtpdOfferingDSN() async throws {
        let offering = try await ClientTestPeer.aiosmtpd(["--dsn", "--pipelining"])
        let plain = try await ClientTestPeer.aiosmtpd(["--pipelining"])
        let senderSide = try await Self.hop(dsn: true)
        let store = try SpoolStore(directory: SpoolRunnerTests.temporaryDirectory())
        var configuration = SpoolRunnerTests.configuration(port: 0)
        configuration.routing = RoutingTable(routes: [
            "offering.test": NextHop(name: "offering", host: "127.0.0.1", port: offering.port, tls: .none),
            "plain.test": NextHop(name: "plain", host: "127.0.0.1", port: plain.port, tls: .none),
            "src.test": NextHop(name: "src", host: "127.0.0.1", port: senderSide.port, tls: .none),
        ])
        let runner = SpoolRunner(store: store, configuration: configuration, logger: Logger(label: "test"))
        try await runner.start()
        let both = DSNNotify.on(success: true, failure: true, delay: false)
        try await store.inject(envelope: Self.envelope(from: "sender@src.test", [
            Self.recipient("a@offering.test", notify: both, orcpt: OriginalRecipient(addressType: "rfc822", address: "Alias+x=y@offering.test")),
            Self.recipient("b@offering.test", notify: .never),
            Self.recipient("c@plain.test", notify: Self.success, orcpt: OriginalRecipient(addressType: "rfc822", address: "c@plain.test")),
        ], parameters: MailParameters(dsnReturn: .headers, envelopeID: "Q+314 159")),
            message: ByteBuffer(string: "Subject: dsn\r\nMessage-ID: <dsn@src.test>\r\n\r\nbody\r\n"))
        let directories = [offering.directory, plain.directory]
        try await SpoolRunnerTests.eventually(timeout: .seconds(60)) {
            directories.allSatisfy { directory in
                ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []).filter { $0.hasSuffix(".json") }.count == 1
            }
        }
        try await SpoolRunnerTests.eventually(timeout: .seconds(60)) { await runner.queued == 0 && !Self.reports(senderSide).isEmpty }

        let offered = try #require(try offering.receivedMessages().first).facts
        #expect(offered["dsn_mail"] as? [String] == ["RET=HDRS", "ENVID=Q+2B314+20159"])
        #expect(offered["dsn_rcpt"] as? [[String]] == [
            ["a@offering.test", "NOTIFY=SUCCESS,FAILURE", "ORCPT=rfc822;Alias+2Bx+3Dy@offering.test"],
            ["b@offering.test", "NOTIFY=NEVER"],
        ])
        let notOffered = try #require(try plain.receivedMessages().first).facts
        #expect(notOffered["rcpt_tos"] as? [String] == ["c@plain.test"])
        #expect(notOffered["dsn_mail"] as? [String] == [])
        #expect(notOffered["dsn_rcpt"] as? [[String]] == [])
        let mailOptions = notOffered["mail_options"] as? [String] ?? ["?"]
        #expect(!mailOptions.contains { $0.hasPrefix("RET=") || $0.hasPrefix("ENVID=") })
        #expect(notOffered["rcpt_options"] as? [String] == [])

        try await Task.sleep(for: .milliseconds(300))
        let reports = Self.reports(senderSide)
        #expect(reports.count == 1)
        let report = try #require(reports.first)
        #expect(report.contains("Original-Recipient: rfc822; c@plain.test\r\nFinal-Recipient: rfc822; c@plain.test\r\nAction: relayed\r\nStatus: 2.0.0"))
        #expect(!report.contains("offering.test"))
        await runner.stop()
        await senderSide.stop()
        await Self.stopOffThePool([offering, plain])
    }

    /// `ClientTestPeer.stop()` waits for the killed process: on a thread of its own.
    static func stopOffThePool(_ peers: [ClientTestPeer]) async {
        nonisolated(unsafe) let peers = peers
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            Thread.detachNewThread {
                for peer in peers { peer.stop() }
                continuation.resume()
            }
        }
    }
}
