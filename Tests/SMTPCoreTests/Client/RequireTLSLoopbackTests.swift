import NIOCore
import Testing

@testable import SMTPCore

/// REQUIRETLS between two stages on one host: plaintext on loopback carries it when the client
/// is told so (``SMTPClientConfiguration/requireTLSOverLoopback``, set by the spool runner for
/// configured hops on loopback) and the server offers it to loopback clients.
@Suite struct RequireTLSLoopbackTests {
    @Test func aLoopbackHopCarriesRequireTLSInPlaintextOnlyWhenAllowed() async throws {
        let server = try await LiveServer()
        var envelope = ClientFixtures.envelope(from: "a@example.org", to: ["b@example.net"])
        envelope.requireTLS = true
        var configuration = ClientFixtures.configuration(tls: .none)
        configuration.requireTLSOverLoopback = true
        let carried = await SMTPClient.deliver(envelope: envelope, message: ClientFixtures.bytes("x\r\n"),
                                               host: "127.0.0.1", port: server.port, configuration: configuration)
        #expect(carried.isDelivered, "\(carried)")
        #expect(server.receiver.messages.map(\.envelope.parameters.requireTLS) == [true])
        #expect(server.receiver.messages.first?.session.tls == nil)

        configuration.requireTLSOverLoopback = false
        let refused = await SMTPClient.deliver(envelope: envelope, message: ClientFixtures.bytes("x\r\n"),
                                               host: "127.0.0.1", port: server.port, configuration: configuration)
        guard case .permanentFailure(.localPolicy(let reply, stage: .mail), _) = refused else {
            Issue.record("expected 5.7.30, got \(refused)")
            await server.stop()
            return
        }
        #expect(reply.enhancedCode == .requireTLSNotSupported)
        #expect(server.receiver.messages.count == 1)
        await server.stop()
    }
}
