import NIOCore
import NIOPosix
import Testing
@testable import SMTPCore

/// A server that greets with `554` and closes at once (RFC 5321 §3.1: "may close immediately"),
/// as an access list or a DNSBL at connect does: the client must report the 554 — a permanent
/// refusal, bounced — not "connection closed" (temporary, retried for days). The server's close
/// may tear the client's pipeline down before the client's task runs again; its reply must
/// survive that.
@Suite struct SMTPClientRefusingGreetingTests {
    /// Writes the refusal and closes, on the event loop, the moment a connection is up.
    final class RefuseAtOnce: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        func channelActive(context: ChannelHandlerContext) {
            let refusal = ByteBuffer(string: "554 5.7.1 Access denied\r\n")
            context.writeAndFlush(NIOAny(refusal)).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        }
    }

    static let attempts = 500

    @Test func aGreetingRefusalIsPermanentEveryTime() async throws {
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(RefuseAtOnce()) }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let port = try #require(server.localAddress?.port)
        let configuration: SMTPClientConfiguration = {
            var configuration = SMTPClientConfiguration()
            configuration.tls = .none
            configuration.timeouts = .uniform(.seconds(60))
            return configuration
        }()
        let envelope = OutboundEnvelope(sender: .mailbox(Mailbox(localPart: "s", host: .domain("src.test"))),
                                        recipients: [OutboundRecipient(.mailbox(Mailbox(localPart: "u", host: .domain("dst.test"))))])
        // The race is the client's task against the server's close; it is lost now and then, so
        // the refusal is asked for many times (a few milliseconds each).
        var misread: [String] = []
        for _ in 0..<Self.attempts {
            let result = await SMTPClient.deliver(envelope: envelope, message: ByteBuffer(string: "Subject: x\r\n\r\nx\r\n"),
                                                  host: "127.0.0.1", port: port, configuration: configuration)
            if case .permanentFailure(.rejected(let reply, stage: .greeting), _) = result, reply.code == ReplyCode(554) { continue }
            misread.append("\(result)")
        }
        #expect(misread.isEmpty, "\(misread.count) of \(Self.attempts) refusals misread, e.g. \(misread.first ?? "")")
        try await server.close()
    }
}
