import Foundation
import Logging
import NIOCore
import NIOSSL
import Testing

@testable import SMTPCore

/// AUTH towards a configured hop (a smarthost's submission account, `hops.NAME.auth_file`):
/// sent after a verified STARTTLS, never to hosts found by MX; a refused password defers
/// instead of bouncing (like Postfix's `smtp_sasl_auth_soft_bounce`).
@Suite struct SpoolRunnerAuthTests {
    struct OneAccount: Authenticator {
        func authenticate(_ credentials: Credentials, session: SessionContext) async -> AuthenticationResult {
            credentials.username == "relay-user" && credentials.password == "pa:ss word" ? .success(identity: "relay-user") : .invalidCredentials
        }
    }

    /// Every domain resolves to the one server, as a hop found by MX.
    struct EverythingThere: DestinationResolver {
        let port: Int
        func destination(for domain: String) async -> Destination {
            .hosts([NextHop(name: "relay", host: "127.0.0.1", port: port, tls: .verify, tlsServerName: "mx.test")])
        }
    }

    /// The smarthost: STARTTLS with the test CA's certificate, AUTH PLAIN/LOGIN after TLS.
    static func smarthost() async throws -> LiveServer {
        var session = SMTPSessionConfiguration(hostname: "mx.test")
        session.authMechanisms = ["PLAIN", "LOGIN"]
        return try await LiveServer(session: session, tls: .startTLS, authenticator: OneAccount())
    }

    static func runner(port: Int, password: String, store: SpoolStore, resolver: Bool = false) throws -> SpoolRunner {
        let hop = NextHop(name: "relay", host: "127.0.0.1", port: port, tls: .verify, tlsServerName: "mx.test")
        var configuration = SpoolRunnerTests.configuration(port: port, retry: RetryPolicy(initialDelay: 3600, jitter: 0))
        configuration.routing = resolver ? RoutingTable() : RoutingTable(defaultHop: hop)
        if resolver {
            configuration.destinations = EverythingThere(port: port)
            configuration.egress = .mailExchangers
        }
        configuration.tlsTrustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(FixturePaths.caCertificate))
        configuration.hopCredentials = ["relay": SMTPClientCredentials(username: "relay-user", password: password)]
        return SpoolRunner(store: store, configuration: configuration, logger: Logger(label: "test"))
    }

    @Test func theSmarthostGetsTheCredentialsOverVerifiedTLS() async throws {
        let server = try await Self.smarthost()
        defer { Task { await server.stop() } }
        let store = try SpoolStore(directory: SpoolRunnerTests.temporaryDirectory())
        try await store.inject(envelope: SpoolRunnerTests.envelope(from: "a@src.test", to: ["b@dst.test"]), message: ByteBuffer(string: "Subject: x\r\n\r\nbody\r\n"))
        let runner = try Self.runner(port: server.port, password: "pa:ss word", store: store)
        try await runner.start()
        try await SpoolRunnerTests.eventually { server.receiver.messages.count == 1 }
        #expect(server.receiver.messages[0].session.authenticatedUser == "relay-user")
        #expect(server.receiver.messages[0].session.tls != nil)
        try await SpoolRunnerTests.eventually { await runner.queued == 0 }
        await runner.stop()
    }

    @Test func aRefusedPasswordDefersAndAHostFoundByMXGetsNoCredentials() async throws {
        let server = try await Self.smarthost()
        defer { Task { await server.stop() } }
        let directory = SpoolRunnerTests.temporaryDirectory()
        let store = try SpoolStore(directory: directory)
        let entry = try await store.inject(envelope: SpoolRunnerTests.envelope(from: "a@src.test", to: ["b@dst.test"]),
                                           message: ByteBuffer(string: "Subject: x\r\n\r\nbody\r\n"))
        let runner = try Self.runner(port: server.port, password: "wrong", store: store)
        try await runner.start()
        let listing = SpoolListing(directory: directory)
        try await SpoolRunnerTests.eventually { ((try? listing.item(entry.id))?.recipients.first?.attempts ?? 0) >= 1 }
        let recipient = try listing.item(entry.id).recipients[0]
        #expect(recipient.status == .pending, "a refused AUTH must not bounce")
        #expect(recipient.lastResult?.contains("535") == true, "\(recipient.lastResult ?? "-")")
        #expect(server.receiver.messages.isEmpty)
        await runner.stop()

        // The same server reached as a mail exchanger: no AUTH is attempted (the credentials
        // belong to the configured hop only), the message goes through unauthenticated.
        let otherStore = try SpoolStore(directory: SpoolRunnerTests.temporaryDirectory())
        try await otherStore.inject(envelope: SpoolRunnerTests.envelope(from: "a@src.test", to: ["c@dst.test"]),
                                    message: ByteBuffer(string: "Subject: y\r\n\r\nbody\r\n"))
        let byMX = try Self.runner(port: server.port, password: "pa:ss word", store: otherStore, resolver: true)
        try await byMX.start()
        try await SpoolRunnerTests.eventually { server.receiver.messages.count == 1 }
        #expect(server.receiver.messages[0].session.authenticatedUser == nil)
        await byMX.stop()
    }
}
