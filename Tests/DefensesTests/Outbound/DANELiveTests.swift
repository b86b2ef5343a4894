import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import Testing

@testable import Defenses
@testable import SMTPCore

/// Issue 9's "DANE TLSA match/mismatch (signed zone on the loopback DNS server)": a zone signed
/// with `ldns-signzone`, served by nsd, validated by unbound with the zone's DS as trust anchor
/// (`Tests/interop/dnssec_lab.py`); mailnode's ``LDNSResolver`` asks unbound on loopback and
/// trusts its AD bit (the default). One STARTTLS sink presents `dane-mx.pem` (for `mx.dane.test`
/// only) with the test CA; every exchanger name points at it, and their TLSA records differ.
/// A real ``SpoolRunner`` delivers by MX.
@Suite("DANE over a signed zone and a validating resolver")
struct DANELiveTests {
    static let daneMXSPKI = "65d4a34b80a5d58d8e31e3e40cf5160a6ba080603b506f67b44b712a289d62ee"   // dane-mx.pem's key (openssl)
    static let serverSPKI = "5771fd4a632e5b6ffd6a3e2d642ba9f971e396043a9ac02d69e828d2fadf254c"   // server.pem's key: another one
    static let caCert = "f5da40c655d08f0fbd8fdf1c65e73f5ecacbba48fce50b353d2df500cd8ee27d"      // the test CA certificate

    static func signedZone(port: Int) -> String {
        """
        $ORIGIN dane.test.
        $TTL 300
        @ IN SOA ns.dane.test. hostmaster.dane.test. 1 3600 600 86400 60
        @ IN NS ns.dane.test.
        ns IN A 127.0.0.1
        ee        IN MX 10 mx-ee
        mx-ee     IN A 127.0.0.1
        _\(port)._tcp.mx-ee IN TLSA 3 1 1 \(daneMXSPKI)
        ta        IN MX 10 mx
        mx        IN A 127.0.0.1
        _\(port)._tcp.mx IN TLSA 2 0 1 \(caCert)
        taname    IN MX 10 mx-taname
        mx-taname IN A 127.0.0.1
        _\(port)._tcp.mx-taname IN TLSA 2 0 1 \(caCert)
        wrong     IN MX 10 mx-wrong
        mx-wrong  IN A 127.0.0.1
        _\(port)._tcp.mx-wrong IN TLSA 3 1 1 \(serverSPKI)
        bogus     IN MX 10 mx-bogus
        mx-bogus  IN A 127.0.0.1
        _\(port)._tcp.mx-bogus IN TLSA 3 1 1 \(daneMXSPKI)
        none      IN MX 10 mx-none
        only      IN MX 10 mx-none
        mx-none   IN A 127.0.0.1
        unusable  IN MX 10 mx-unusable
        mx-unusable IN A 127.0.0.1
        _\(port)._tcp.mx-unusable IN TLSA 1 1 1 \(serverSPKI)
        """
    }

    /// Not signed: unbound has no anchor for it, so its answers are "insecure" (no AD bit).
    static func unsignedZone(port: Int) -> String {
        """
        $ORIGIN insecure.test.
        $TTL 300
        @ IN SOA ns.insecure.test. hostmaster.insecure.test. 1 3600 600 86400 60
        @ IN NS ns.insecure.test.
        ns  IN A 127.0.0.1
        @   IN MX 10 mx
        mx  IN A 127.0.0.1
        _\(port)._tcp.mx IN TLSA 3 1 1 \(serverSPKI)
        """
    }

    static func sink() async throws -> (SMTPServer, MemoryMessageReceiver, Int) {
        let fixtures = DNSFixtures.root.appendingPathComponent("Fixtures/tls")
        let chain = try NIOSSLCertificate.fromPEMFile(fixtures.appendingPathComponent("dane-mx.pem").path)
            + NIOSSLCertificate.fromPEMFile(fixtures.appendingPathComponent("ca.pem").path)
        let tls = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(file: fixtures.appendingPathComponent("dane-mx.key").path, format: .pem)))
        let receiver = MemoryMessageReceiver()
        let listener = SMTPListenerConfiguration(name: "sink", host: "127.0.0.1", port: 0, session: SMTPSessionConfiguration(hostname: "sink"),
                                                 tls: .startTLS, tlsContext: try NIOSSLContext(configuration: tls))
        let server = SMTPServer(listeners: [listener], services: SMTPServerServices(receiver: receiver),
                                group: MultiThreadedEventLoopGroup.singleton)
        let addresses = try await server.start()
        return (server, receiver, addresses[0].port!)
    }

    /// Runs `body` with the lab's unbound port.
    static func withLab<T>(port: Int, directory: URL, _ body: (UInt16) async throws -> T) async throws -> T {
        for tool in ["/usr/sbin/nsd", "/usr/sbin/unbound", "/usr/bin/ldns-signzone", "/usr/bin/ldns-keygen"]
        where !FileManager.default.isExecutableFile(atPath: tool) {
            throw DNSTestServerUnavailable(description: "the DANE tests need \(tool): apt-get install nsd unbound ldnsutils (.ci/install-deps)")
        }
        let signed = directory.appendingPathComponent("dane.test.zone")
        let unsigned = directory.appendingPathComponent("insecure.test.zone")
        try (signedZone(port: port) + "\n").write(to: signed, atomically: true, encoding: .utf8)
        try (unsignedZone(port: port) + "\n").write(to: unsigned, atomically: true, encoding: .utf8)
        let python = try await offThePool { try DNSTestPython.interpreter.get() }
        return try await withReadyHelper(python, [
            DNSFixtures.root.appendingPathComponent("Tests/interop/dnssec_lab.py").path,
            "--work", directory.appendingPathComponent("lab").path,
            "--zone", "dane.test=\(signed.path)", "--unsigned", "insecure.test=\(unsigned.path)",
            "--tamper", "_\(port)._tcp.mx-bogus.dane.test",
        ], body)
    }

    @Test func tlsaRecordsDecideWhichCertificatesAreAccepted() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mailnode-dane-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let (server, sink, port) = try await Self.sink()

        try await Self.withLab(port: port, directory: directory) { unboundPort in
            let dns = LDNSResolver(configuration: DNSResolverConfiguration(
                nameservers: [DNSServerAddress(.v4(IPv4Address("127.0.0.1")!), port: unboundPort)], timeout: .seconds(5), attempts: 2))
            // The resolver sees what unbound validated.
            #expect(try await dns.lookupMX("ee.dane.test").authenticated)
            #expect(try await dns.lookupMX("insecure.test").authenticated == false)
            await #expect(throws: DNSError.serverFailure) { try await dns.lookupTLSA(port: UInt16(port), host: "mx-bogus.dane.test") }

            let spoolDirectory = directory.appendingPathComponent("spool").path
            let store = try SpoolStore(directory: spoolDirectory)
            var client = SMTPClientConfiguration()
            client.timeouts = .uniform(.seconds(60))
            var configuration = SpoolRunnerConfiguration(routing: RoutingTable(), client: client, hostname: "outbound.test")
            configuration.retry = RetryPolicy(initialDelay: 3600, jitter: 0)   // one attempt each within the test
            var resolver = MXDestinationResolver(dns: DNSCachingResolver(wrapping: dns), port: port, tls: .opportunistic)
            resolver.tlsPolicy = TLSPolicyTable(["only.dane.test": .daneOnly])
            configuration.destinations = resolver
            configuration.egress = .mailExchangers
            let reports = try TLSReportFileStore(directory: spoolDirectory + "/tls-rpt")
            configuration.tlsObserver = TestTLSReporter.make(reports)
            let runner = SpoolRunner(store: store, configuration: configuration, logger: Logger(label: "test"))

            var ids: [String: String] = [:]
            for domain in ["ee.dane.test", "ta.dane.test", "taname.dane.test", "wrong.dane.test", "bogus.dane.test",
                           "none.dane.test", "only.dane.test", "unusable.dane.test", "insecure.test"] {
                let envelope = Envelope(reversePath: .mailbox(Mailbox(localPart: "s", host: .domain("outbound.test"))),
                                        recipients: [EnvelopeRecipient(path: .mailbox(Mailbox(localPart: "r", host: .domain(domain))))])
                ids[domain] = try await store.inject(envelope: envelope, message: ByteBuffer(string: "Subject: \(domain)\r\n\r\nbody\r\n")).id
            }
            // REQUIRETLS (RFC 8689 §4.2.1): DANE authenticates mx-ee.dane.test, whose certificate
            // the CAs would not (it is for mx.dane.test).
            let strict = Envelope(reversePath: .mailbox(Mailbox(localPart: "s", host: .domain("outbound.test"))),
                                  parameters: MailParameters(requireTLS: true),
                                  recipients: [EnvelopeRecipient(path: .mailbox(Mailbox(localPart: "rt", host: .domain("ee.dane.test"))))])
            _ = try await store.inject(envelope: strict, message: ByteBuffer(string: "Subject: requiretls ee.dane.test\r\n\r\nbody\r\n"))
            try await runner.start()

            let delivered: Set<String> = ["Subject: ee.dane.test", "Subject: ta.dane.test", "Subject: none.dane.test",
                                          "Subject: unusable.dane.test", "Subject: insecure.test", "Subject: requiretls ee.dane.test"]
            try await MXDeliveryLiveTests.eventually { sink.messages.count >= delivered.count }
            #expect(Set(sink.messages.map { String(buffer: $0.data).components(separatedBy: "\r\n")[0] }) == delivered)
            #expect(sink.messages.allSatisfy { $0.session.tls != nil })

            let listing = SpoolListing(directory: spoolDirectory)
            let queued = ids
            let deferred = ["taname.dane.test", "wrong.dane.test", "bogus.dane.test", "only.dane.test"]
            try await MXDeliveryLiveTests.eventually {
                deferred.allSatisfy { ((try? listing.item(queued[$0]!))?.recipients.first?.attempts ?? 0) >= 1 }
            }
            func last(_ domain: String) throws -> (DeliveryState.Status, String) {
                let recipient = try listing.item(queued[domain]!).recipients[0]
                return (recipient.status, recipient.lastResult ?? "-")
            }
            let taname = try last("taname.dane.test")
            #expect(taname.0 == .pending && taname.1.contains("does not chain to the trust anchor"), "\(taname.1)")
            let wrong = try last("wrong.dane.test")
            #expect(wrong.0 == .pending && wrong.1.contains("no TLSA record of _\(port)._tcp.mx-wrong.dane.test matches"), "\(wrong.1)")
            let bogus = try last("bogus.dane.test")
            #expect(bogus.0 == .pending && bogus.1.contains("TLSA look-up"), "\(bogus.1)")
            let only = try last("only.dane.test")
            #expect(only.0 == .pending && only.1.contains("dane-only"), "\(only.1)")
            try await MXDeliveryLiveTests.eventually { await runner.queued == deferred.count }
            #expect(sink.messages.count == delivered.count)   // nothing else arrived, no bounce

            let byDomain = Dictionary(grouping: try await reports.records(from: 0, to: Int64.max / 2), by: \.domain)
            #expect(byDomain["ee.dane.test"]?.first.map { [$0.policyType, $0.result] } == ["tlsa", "success"])
            #expect(byDomain["wrong.dane.test"]?.first.map { [$0.policyType, $0.result] } == ["tlsa", "tlsa-invalid"])
            #expect(byDomain["taname.dane.test"]?.first.map { [$0.policyType, $0.result] } == ["tlsa", "certificate-host-mismatch"])
            #expect(byDomain["insecure.test"]?.first?.policyType == "no-policy-found")

            await runner.stop()
        }
        await server.shutdown(gracePeriod: .seconds(2))
    }

    @Test func checkDANEShowsTheRecordsAndChecksTheCertificates() async throws {
        try CheckCommand.requireBinary()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mailnode-dane-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let (server, _, port) = try await Self.sink()
        try await Self.withLab(port: port, directory: directory) { unboundPort in
            let common = ["--dns", "127.0.0.1:\(unboundPort)", "--port", "\(port)", "--connect"]
            let ee = try await CheckCommand.run(["check", "dane", "ee.dane.test"] + common)
            #expect(ee.status == 0, "\(ee.output)")
            #expect(ee.output == """
                MX: DNSSEC-validated
                  mx-ee.dane.test 127.0.0.1: DANE, TLSA _\(port)._tcp.mx-ee.dane.test
                    3 1 1 \(Self.daneMXSPKI)
                    certificate: matches (TLS established)

                """)
            let wrong = try await CheckCommand.run(["check", "dane", "wrong.dane.test"] + common)
            #expect(wrong.output.contains("certificate: ") && wrong.output.contains("DANE: no TLSA record of _\(port)._tcp.mx-wrong.dane.test matches"),
                    "\(wrong.output)")
            let none = try await CheckCommand.run(["check", "dane", "none.dane.test"] + common)
            #expect(none.output.contains("mx-none.dane.test 127.0.0.1: no validated TLSA records"), "\(none.output)")
            let insecure = try await CheckCommand.run(["check", "dane", "insecure.test"] + common)
            #expect(insecure.output.hasPrefix("MX: not validated (DANE does not apply)"), "\(insecure.output)")
            let bogus = try await CheckCommand.run(["check", "dane", "bogus.dane.test"] + common)
            #expect(bogus.output.contains("delivery: ") && bogus.output.contains("TLSA look-up"), "\(bogus.output)")
        }
        await server.shutdown(gracePeriod: .seconds(2))
    }
}
