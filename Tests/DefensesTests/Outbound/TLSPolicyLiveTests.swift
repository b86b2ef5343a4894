import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import Testing

@testable import Defenses
@testable import SMTPCore

/// Issue 9's "STARTTLS offered with a bad certificate under `verify` policy → deferred, under
/// `may` → delivered", over the loopback Internet: the dnslib server publishes the MX records,
/// a STARTTLS sink with the test CA's certificate (names `localhost`, `mx.test`) listens on
/// 127.0.0.3 (not 127.0.0.1: the certificate also names that address, and NIOSSL accepts an IP
/// SAN matching the peer whatever the name) and a plaintext one on 127.0.0.2, and a real ``SpoolRunner`` delivers by MX with a
/// per-domain ``TLSPolicyTable``, verifying against the test CA.
@Suite("Per-domain TLS policy over the loopback Internet")
struct TLSPolicyLiveTests {
    static let zone = """
        $ORIGIN test.
        $TTL 300
        @ 3600 IN SOA ns.test. hostmaster.test. 1 3600 600 86400 60
        mx            A  127.0.0.3
        wrong-name    A  127.0.0.3
        plain         A  127.0.0.2
        verified.tls  MX 10 mx.test.
        mismatch.tls  MX 10 wrong-name.test.
        lenient.tls   MX 10 wrong-name.test.
        encrypt.tls   MX 10 plain.test.
        default.tls   MX 10 plain.test.
        """

    static func sink(host: String, port: Int, tls: Bool) async throws -> (SMTPServer, MemoryMessageReceiver, Int) {
        let receiver = MemoryMessageReceiver()
        var context: NIOSSLContext?
        if tls {
            let fixtures = DNSFixtures.root.appendingPathComponent("Fixtures/tls")
            let configuration = TLSConfiguration.makeServerConfiguration(
                certificateChain: try NIOSSLCertificate.fromPEMFile(fixtures.appendingPathComponent("server.pem").path).map { .certificate($0) },
                privateKey: .privateKey(try NIOSSLPrivateKey(file: fixtures.appendingPathComponent("server.key").path, format: .pem)))
            context = try NIOSSLContext(configuration: configuration)
        }
        let listener = SMTPListenerConfiguration(name: "sink", host: host, port: port, session: SMTPSessionConfiguration(hostname: "sink"),
                                                 tls: tls ? .startTLS : .none, tlsContext: context)
        let server = SMTPServer(listeners: [listener], services: SMTPServerServices(receiver: receiver),
                                group: MultiThreadedEventLoopGroup.singleton)
        let addresses = try await server.start()
        return (server, receiver, addresses[0].port!)
    }

    @Test func verifyDefersABadCertificateMayDeliversEncryptNeedsSTARTTLS() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mailnode-tlspolicy-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try (Self.zone + "\n").write(to: directory.appendingPathComponent("test.zone"), atomically: true, encoding: .utf8)

        try await withDNSTestServer(zones: directory) { dns in
            let (tlsServer, tlsSink, port) = try await Self.sink(host: "127.0.0.3", port: 0, tls: true)
            let (plainServer, plainSink, _) = try await Self.sink(host: "127.0.0.2", port: port, tls: false)
            let spoolDirectory = NSTemporaryDirectory() + "mailnode-tlsspool-" + UUID().uuidString
            let store = try SpoolStore(directory: spoolDirectory)
            defer { try? FileManager.default.removeItem(atPath: spoolDirectory) }

            var client = SMTPClientConfiguration()
            client.timeouts = .uniform(.seconds(60))
            var configuration = SpoolRunnerConfiguration(routing: RoutingTable(), client: client, hostname: "outbound.test")
            configuration.retry = RetryPolicy(initialDelay: 3600, jitter: 0)   // one attempt each within the test
            var resolver = MXDestinationResolver(dns: dns.resolver(timeout: .seconds(5), attempts: 2), port: port, tls: .opportunistic)
            resolver.tlsPolicy = TLSPolicyTable([
                "verified.tls.test": .verify, "mismatch.tls.test": .verify, "lenient.tls.test": .may,
                ".tls.test": .encrypt,   // encrypt.tls.test by the parent entry
                "default.tls.test": .may,
            ])
            configuration.destinations = resolver
            configuration.egress = .mailExchangers
            configuration.tlsTrustRoots = .file(DNSFixtures.root.appendingPathComponent("Fixtures/tls/ca.pem").path)
            // TLS-RPT data: what the runner observed per new session, through the node's recorder.
            let reports = try TLSReportFileStore(directory: spoolDirectory + "/tls-rpt")
            let observed = NIOLockedValueBox<[TLSSessionObservation]>([])
            let recorder = TestTLSReporter.make(reports)
            configuration.tlsObserver = { observation in
                observed.withLockedValue { $0.append(observation) }
                await recorder(observation)
            }
            let runner = SpoolRunner(store: store, configuration: configuration, logger: Logger(label: "test"))

            var ids: [String: String] = [:]
            for domain in ["verified", "mismatch", "lenient", "encrypt", "default"] {
                let envelope = Envelope(reversePath: .mailbox(Mailbox(localPart: "s", host: .domain("outbound.test"))),
                                        recipients: [EnvelopeRecipient(path: .mailbox(Mailbox(localPart: "r", host: .domain("\(domain).tls.test"))))])
                ids[domain] = try await store.inject(envelope: envelope, message: ByteBuffer(string: "Subject: \(domain)\r\n\r\nbody\r\n")).id
            }
            // REQUIRETLS (RFC 8689 §4.2.1): neither domain's MX record is DNSSEC-validated nor named
            // by an MTA-STS policy, so both wait, whatever the certificate (DANELiveTests has one
            // that goes: a validated MX with DANE).
            var requireTLSIDs: [String] = []
            for domain in ["lenient", "verified"] {
                let envelope = Envelope(reversePath: .mailbox(Mailbox(localPart: "s", host: .domain("outbound.test"))),
                                        parameters: MailParameters(requireTLS: true),
                                        recipients: [EnvelopeRecipient(path: .mailbox(Mailbox(localPart: "rt", host: .domain("\(domain).tls.test"))))])
                requireTLSIDs.append(try await store.inject(envelope: envelope, message: ByteBuffer(string: "Subject: requiretls \(domain)\r\n\r\nbody\r\n")).id)
            }
            // TLS-Required: No (RFC 8689 §5): to mismatch (verify, a wrong-name certificate) it goes anyway.
            let optional = Envelope(reversePath: .mailbox(Mailbox(localPart: "s", host: .domain("outbound.test"))),
                                    recipients: [EnvelopeRecipient(path: .mailbox(Mailbox(localPart: "r2", host: .domain("mismatch.tls.test"))))])
            _ = try await store.inject(envelope: optional, message: ByteBuffer(string: "Subject: tls-required-no\r\nTLS-Required:\r\n  NO\r\n\r\nbody\r\n"))
            try await runner.start()

            // Delivered: verified (TLS, name and chain checked), lenient (TLS, name not checked),
            // default (no STARTTLS offered, plaintext allowed).
            try await MXDeliveryLiveTests.eventually { tlsSink.messages.count == 3 && plainSink.messages.count == 1 }
            let subjects = Set(tlsSink.messages.map { String(buffer: $0.data).components(separatedBy: "\r\n")[0] })
            #expect(subjects == ["Subject: verified", "Subject: lenient", "Subject: tls-required-no"])
            #expect(tlsSink.messages.allSatisfy { $0.session.tls != nil })
            #expect(plainSink.messages.map { $0.session.tls == nil } == [true])
            #expect(String(buffer: plainSink.messages[0].data).hasPrefix("Subject: default"))

            // Deferred, not bounced: mismatch (certificate not for wrong-name.test), encrypt (no STARTTLS).
            let listing = SpoolListing(directory: spoolDirectory)
            let deferred = [ids["mismatch"]!, ids["encrypt"]!] + requireTLSIDs
            try await MXDeliveryLiveTests.eventually {
                deferred.allSatisfy { ((try? listing.item($0))?.recipients.first?.attempts ?? 0) >= 1 }
            }
            let mismatch = try listing.item(ids["mismatch"]!).recipients[0]
            #expect(mismatch.status == .pending)
            #expect(mismatch.lastResult?.lowercased().contains("tls") == true, "\(mismatch.lastResult ?? "-")")
            let encrypt = try listing.item(ids["encrypt"]!).recipients[0]
            #expect(encrypt.status == .pending)
            #expect(encrypt.lastResult?.contains("STARTTLS") == true, "\(encrypt.lastResult ?? "-")")
            // The delivered entries leave the queue just after the sink has them.
            for (id, exchanger) in zip(requireTLSIDs, ["wrong-name.test", "mx.test"]) {
                let strict = try listing.item(id).recipients[0]
                #expect(strict.status == .pending && strict.lastResult?.contains("REQUIRETLS: no authenticated mail exchanger") == true
                        && strict.lastResult?.contains(exchanger) == true, "\(strict.lastResult ?? "-")")
            }
            try await MXDeliveryLiveTests.eventually { await runner.queued == 4 }
            #expect(tlsSink.messages.count == 3 && plainSink.messages.count == 1)   // no bounce went anywhere

            // One record per domain's first session, with the RFC 8460 result types.
            let byDomain = Dictionary(grouping: try await reports.records(from: 0, to: Int64.max / 2), by: \.domain)
            #expect(byDomain["verified.tls.test"]?.first?.result == "success")
            #expect(byDomain["verified.tls.test"]?.first?.mx == "mx.test" && byDomain["verified.tls.test"]?.first?.ip == "127.0.0.3")
            // mismatch: the verify attempt failed; the TLS-Required: No message's session succeeded (either first).
            #expect(Set(byDomain["mismatch.tls.test"]?.map(\.result) ?? []) == ["certificate-host-mismatch", "success"])
            #expect(byDomain["encrypt.tls.test"]?.first?.result == "starttls-not-supported")
            #expect(byDomain["default.tls.test"] == nil)   // plaintext without a policy is not counted
            #expect(Set(byDomain.values.flatMap { $0 }.map(\.policyType)) == ["no-policy-found"])
            #expect(observed.withLockedValue { $0 }.contains { $0.domain == "default.tls.test" && $0.outcome == .plaintext })

            await runner.stop()
            await tlsServer.shutdown(gracePeriod: .seconds(2))
            await plainServer.shutdown(gracePeriod: .seconds(2))
        }
    }
}

/// A recorder like the node's (`MailNode.tlsReporter`, tested in RolesTests) without an MTA-STS cache.
enum TestTLSReporter {
    static func make(_ store: TLSReportFileStore) -> @Sendable (TLSSessionObservation) async -> Void {
        { observation in
            if let record = TLSReportRecord(observation, sts: false) { try? await store.append(record) }
        }
    }
}
