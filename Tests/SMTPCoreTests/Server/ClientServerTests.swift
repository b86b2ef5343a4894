import NIOCore
import NIOSSL
import Testing
@testable import SMTPCore

/// mailnode's client against mailnode's server: the hop between two stages.
@Suite struct ClientServerTests {
    struct OneUser: Authenticator {
        func authenticate(_ credentials: Credentials, session: SessionContext) async -> AuthenticationResult {
            credentials.username == "stage" && credentials.password == "secret" ? .success(identity: "stage") : .invalidCredentials
        }
    }

    static func verifyingClient(chunking: Bool) throws -> SMTPClientConfiguration {
        var configuration = SMTPClientConfiguration()
        configuration.heloName = .domain("antivirus.test")
        configuration.tls = .verify(serverName: "mx.test",
                                    trustRoots: .certificates(try NIOSSLCertificate.fromPEMFile(FixturePaths.caCertificate)))
        configuration.credentials = SMTPClientCredentials(username: "stage", password: "secret")
        configuration.preferChunking = chunking
        configuration.chunkSize = 1000
        return configuration
    }

    static func message(lines: Int) -> String {
        var text = "Subject: hop\r\n\r\n"
        for index in 0..<lines { text += (index % 7 == 0 ? "." : "") + "line \(index)\r\n" }
        return text
    }

    @Test(arguments: [true, false])
    func verifiedTLSAuthAndBody(chunking: Bool) async throws {
        var session = SMTPSessionConfiguration(hostname: "mx.test")
        session.authMechanisms = ["PLAIN", "LOGIN"]
        session.requireTLS = true
        session.requireAuthentication = true
        let server = try await LiveServer(session: session, tls: .startTLS, authenticator: OneUser())
        let text = Self.message(lines: 500)
        let envelope = OutboundEnvelope(sender: .mailbox(Mailbox(localPart: "a", host: .domain("src.test"))),
                                        recipients: [.mailbox(Mailbox(localPart: "b", host: .domain("mx.test"))),
                                                     .mailbox(Mailbox(localPart: "c", host: .domain("mx.test")))])
        let result = await SMTPClient.deliver(envelope: envelope, message: ByteBuffer(string: text),
                                              host: "127.0.0.1", port: server.port,
                                              configuration: try Self.verifyingClient(chunking: chunking))
        #expect(result.isDelivered, "\(result)")
        #expect(result.recipients.allSatisfy { $0.isAccepted })
        let received = try #require(server.receiver.messages.first)
        #expect(String(buffer: received.data) == text)
        #expect(received.session.authenticatedUser == "stage")
        #expect(received.session.tls != nil)
        #expect(received.envelope.recipients.count == 2)
        await server.stop()
    }

    @Test func lmtpPerRecipientResults() async throws {
        let server = try await LiveServer(session: SMTPSessionConfiguration(hostname: "store.test", sessionProtocol: .lmtp))
        var configuration = SMTPClientConfiguration()
        configuration.mode = .lmtp
        configuration.tls = .none
        let envelope = OutboundEnvelope(sender: .null, recipients: [.mailbox(Mailbox(localPart: "b", host: .domain("store.test")))])
        let result = await SMTPClient.deliver(envelope: envelope, message: ByteBuffer(string: "x\r\n"),
                                              host: "127.0.0.1", port: server.port, configuration: configuration)
        #expect(result.isDelivered, "\(result)")
        #expect(server.receiver.messages.count == 1)
        await server.stop()
    }

    @Test func bareLineEndingsAreNormalisedOnTheWayOut() async throws {
        // The receiving stage rejects bare LF; our client must never send any.
        let server = try await LiveServer()
        var configuration = SMTPClientConfiguration()
        configuration.tls = .none
        configuration.preferChunking = false
        let envelope = OutboundEnvelope(sender: .null, recipients: [.mailbox(Mailbox(localPart: "b", host: .domain("mx.test")))])
        let result = await SMTPClient.deliver(envelope: envelope, message: ByteBuffer(string: "a\n.\nb\rc\r\n"),
                                              host: "127.0.0.1", port: server.port, configuration: configuration)
        #expect(result.isDelivered, "\(result)")
        #expect(server.receiver.messages.first.map { String(buffer: $0.data) } == "a\r\n.\r\nb\r\nc\r\n")
        await server.stop()
    }
}
