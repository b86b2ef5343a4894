import Foundation
import Logging
import NIOCore
import NIOSSL
import Testing

@testable import Defenses
@testable import SMTPCore

/// Issue 9's "MTA-STS `enforce` with a policy served over HTTPS on loopback": the dnslib server
/// publishes `_mta-sts` records, MX records and the policy hosts' addresses; a Python HTTPS
/// server (Tests/interop/mta_sts_server.py, certificate from the test CA) serves the policies;
/// ``HTTPSPolicyFetcher`` fetches them and a real ``SpoolRunner`` delivers to a STARTTLS sink.
@Suite("MTA-STS over the loopback Internet")
struct MTASTSLiveTests {
    static let zone = """
        $ORIGIN test.
        $TTL 300
        @ 3600 IN SOA ns.test. hostmaster.test. 1 3600 600 86400 60
        mx                        A   127.0.0.3
        sts                       MX  10 mx.test.
        _mta-sts.sts              TXT "v=STSv1; id=20261204"
        mta-sts.sts               A   127.0.0.5
        nomatch.sts               MX  10 mx.test.
        _mta-sts.nomatch.sts      TXT "v=STSv1; id=1"
        mta-sts.nomatch.sts       A   127.0.0.5
        _mta-sts.redirect.sts     TXT "v=STSv1; id=1"
        mta-sts.redirect.sts      A   127.0.0.5
        _mta-sts.html.sts         TXT "v=STSv1; id=1"
        mta-sts.html.sts          A   127.0.0.5
        mta-sts.big.sts           A   127.0.0.5
        mta-sts.wrongcert.sts     A   127.0.0.5
        mta-sts.nohost.sts        TXT "no address here"
        """

    static func routes() -> [String: Any] {
        [
            "mta-sts.sts.test": ["status": 200, "type": "text/plain; charset=utf-8",
                                 "body": "version: STSv1\r\nmode: enforce\r\nmx: mx.test\r\nmax_age: 86400\r\n"],
            "mta-sts.nomatch.sts.test": ["status": 200, "type": "text/plain",
                                         "body": "version: STSv1\nmode: enforce\nmx: *.elsewhere.test\nmax_age: 86400\n"],
            "mta-sts.redirect.sts.test": ["status": 301, "location": "https://mta-sts.sts.test/.well-known/mta-sts.txt"],
            "mta-sts.html.sts.test": ["status": 200, "type": "text/html", "body": "<html>version: STSv1</html>"],
            "mta-sts.big.sts.test": ["status": 200, "type": "text/plain",
                                     "body": "version: STSv1\nmode: testing\nmax_age: 1\n" + String(repeating: "mx: a.test\n", count: 7000)],
            "mta-sts.wrongcert.sts.test": ["status": 200, "type": "text/plain", "body": "version: STSv1\nmode: enforce\nmx: mx.test\nmax_age: 1\n"],
        ]
    }

    static var tlsFixtures: URL { DNSFixtures.root.appendingPathComponent("Fixtures/tls") }

    /// Runs `body` with the DNS server and the policy server (its port).
    static func withServers(_ body: (DNSTestServer, Int) async throws -> Void) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mailnode-sts-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try (Self.zone + "\n").write(to: directory.appendingPathComponent("test.zone"), atomically: true, encoding: .utf8)
        let routes = directory.appendingPathComponent("routes.json")
        try JSONSerialization.data(withJSONObject: Self.routes()).write(to: routes)
        let python = try await offThePool { try DNSTestPython.interpreter.get() }
        let script = DNSFixtures.root.appendingPathComponent("Tests/interop/mta_sts_server.py").path
        try await withDNSTestServer(zones: directory) { dns in
            try await withReadyHelper(python, [
                script, "--cert", Self.tlsFixtures.appendingPathComponent("mta-sts.pem").path,
                "--key", Self.tlsFixtures.appendingPathComponent("mta-sts.key").path, "--routes", routes.path, "--address", "127.0.0.5",
            ]) { port in
                try await body(dns, Int(port))
            }
        }
    }

    static func fetcher(_ dns: DNSTestServer, port: Int) -> HTTPSPolicyFetcher {
        HTTPSPolicyFetcher(dns: dns.resolver(timeout: .seconds(5), attempts: 2), port: port,
                           trustRoots: .file(tlsFixtures.appendingPathComponent("ca.pem").path), timeout: .seconds(60))
    }

    @Test func theFetcherTakesOnlyA200TextPlainPolicyFromTheRightCertificate() async throws {
        try await Self.withServers { dns, port in
            let fetcher = Self.fetcher(dns, port: port)
            let body = try await fetcher.fetch(domain: "sts.test")
            #expect(try MTASTSPolicy.parse(body) == MTASTSPolicy(mode: .enforce, mx: ["mx.test"], maxAge: 86_400))
            for (domain, expected) in [
                ("redirect.sts.test", "HTTP 301 (redirects are not followed)"),
                ("html.sts.test", "content type 'text/html', not text/plain"),
                ("big.sts.test", "policy larger than 65536 octets"),
                ("wrongcert.sts.test", "Couldn't find mta-sts.wrongcert.sts.test in certificate"),
                ("nohost.sts.test", "mta-sts.nohost.sts.test has no address"),
            ] {
                do {
                    _ = try await fetcher.fetch(domain: domain)
                    Issue.record("\(domain): fetched")
                } catch {
                    #expect("\(error)".contains(expected), "\(domain): \(error)")
                }
            }
        }
    }

    @Test func anEnforcedDomainGetsVerifiedTLSToItsListedMXAndAMismatchWaits() async throws {
        try await Self.withServers { dns, port in
            let (sinkServer, sink, sinkPort) = try await TLSPolicyLiveTests.sink(host: "127.0.0.3", port: 0, tls: true)
            let spoolDirectory = NSTemporaryDirectory() + "mailnode-stsspool-" + UUID().uuidString
            let store = try SpoolStore(directory: spoolDirectory)
            defer { try? FileManager.default.removeItem(atPath: spoolDirectory) }

            let resolverDNS = dns.resolver(timeout: .seconds(5), attempts: 2)
            var client = SMTPClientConfiguration()
            client.timeouts = .uniform(.seconds(60))
            var configuration = SpoolRunnerConfiguration(routing: RoutingTable(), client: client, hostname: "outbound.test")
            configuration.retry = RetryPolicy(initialDelay: 3600, jitter: 0)
            var resolver = MXDestinationResolver(dns: resolverDNS, port: sinkPort, tls: .none)   // .none: only MTA-STS asks for TLS
            let cacheFile = spoolDirectory + "/mta-sts-cache.json"
            resolver.mtaSTS = MTASTSPolicyCache(dns: resolverDNS, fetcher: Self.fetcher(dns, port: port), cacheFile: cacheFile)
            configuration.destinations = resolver
            configuration.egress = .mailExchangers
            configuration.tlsTrustRoots = .file(Self.tlsFixtures.appendingPathComponent("ca.pem").path)
            let runner = SpoolRunner(store: store, configuration: configuration, logger: Logger(label: "test"))
            var ids: [String] = []
            for domain in ["sts.test", "nomatch.sts.test"] {
                let envelope = Envelope(reversePath: .mailbox(Mailbox(localPart: "s", host: .domain("outbound.test"))),
                                        recipients: [EnvelopeRecipient(path: .mailbox(Mailbox(localPart: "r", host: .domain(domain))))])
                ids.append(try await store.inject(envelope: envelope, message: ByteBuffer(string: "Subject: \(domain)\r\n\r\nbody\r\n")).id)
            }
            try await runner.start()

            try await MXDeliveryLiveTests.eventually { sink.messages.count == 1 }
            #expect(sink.messages[0].envelope.recipients.map(\.path.description) == ["<r@sts.test>"])
            #expect(sink.messages[0].session.tls != nil)   // the policy made the client use (verified) TLS
            let listing = SpoolListing(directory: spoolDirectory)
            let waiting = ids[1]
            try await MXDeliveryLiveTests.eventually { ((try? listing.item(waiting))?.recipients.first?.attempts ?? 0) >= 1 }
            let deferred = try listing.item(waiting).recipients[0]
            #expect(deferred.status == .pending)
            #expect(deferred.lastResult?.contains("MTA-STS policy of nomatch.sts.test (enforce) allows none") == true, "\(deferred.lastResult ?? "-")")
            #expect(sink.messages.count == 1)
            // The policies are cached on disk for the next start (§5.1).
            let cached = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: cacheFile))) as? [String: Any]
            #expect(Set(cached?.keys.map { $0 } ?? []) == ["sts.test", "nomatch.sts.test"])

            await runner.stop()
            await sinkServer.shutdown(gracePeriod: .seconds(2))
        }
    }

    @Test func checkMTASTSShowsTheRecordThePolicyAndTheAllowedMX() async throws {
        try CheckCommand.requireBinary()
        try await Self.withServers { dns, port in
            let common = ["--dns", "127.0.0.1:\(dns.port)", "--https-port", "\(port)",
                          "--ca-file", Self.tlsFixtures.appendingPathComponent("ca.pem").path]
            let good = try await CheckCommand.run(["check", "mta-sts", "sts.test"] + common)
            #expect(good.status == 0, "\(good.output)")
            #expect(good.output == """
                record: v=STSv1 id=20261204
                policy: mode enforce, max_age 86400 s, mx mx.test
                  MX 10 mx.test: allowed

                """)
            let nomatch = try await CheckCommand.run(["check", "mta-sts", "nomatch.sts.test"] + common)
            #expect(nomatch.output.contains("  MX 10 mx.test: NOT allowed"), "\(nomatch.output)")
            let redirect = try await CheckCommand.run(["check", "mta-sts", "redirect.sts.test"] + common)
            #expect(redirect.output.contains("policy: not usable (mta-sts.redirect.sts.test: HTTP 301 (redirects are not followed))"),
                    "\(redirect.output)")
            let none = try await CheckCommand.run(["check", "mta-sts", "big.sts.test"] + common)
            #expect(none.output.contains("record: none"), "\(none.output)")
        }
    }
}
