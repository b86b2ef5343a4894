import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
@testable import SMTPCore

/// Paths of the repository's fixtures, independent of the working directory.
enum FixturePaths {
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures")
    static var serverCertificate: String { root.appendingPathComponent("tls/server.pem").path }
    static var serverKey: String { root.appendingPathComponent("tls/server.key").path }
    static var caCertificate: String { root.appendingPathComponent("tls/ca.pem").path }

    static func serverTLSContext() throws -> NIOSSLContext {
        let configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMFile(serverCertificate).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(file: serverKey, format: .pem)))
        return try NIOSSLContext(configuration: configuration)
    }
}

/// An in-process server on a free loopback port with an in-memory receiver.
final class LiveServer: Sendable {
    let server: SMTPServer
    let receiver: MemoryMessageReceiver
    let port: Int
    static let group = MultiThreadedEventLoopGroup.singleton

    init(session: SMTPSessionConfiguration = .init(hostname: "mx.test"), port: Int = 0, tls: ListenerTLSMode = .none,
         proxyTrusted: [IPNetwork] = [], hooks: any SessionHooks = NoHooks(),
         authenticator: (any Authenticator)? = nil, group: any EventLoopGroup = LiveServer.group,
         connectionCaps: ConnectionCaps = .init(), sessionTasksOnConnectionLoop: Bool = false) async throws {
        let receiver = MemoryMessageReceiver()
        let tlsContext = tls == .none ? nil : try FixturePaths.serverTLSContext()
        let listener = SMTPListenerConfiguration(name: "test", host: "127.0.0.1", port: port, session: session,
                                                 tls: tls, tlsContext: tlsContext, proxyProtocolTrusted: proxyTrusted)
        let server = SMTPServer(listeners: [listener],
                                services: SMTPServerServices(receiver: receiver, hooks: hooks, authenticator: authenticator,
                                                             sessionTasksOnConnectionLoop: sessionTasksOnConnectionLoop),
                                group: group, connectionCaps: connectionCaps)
        let addresses = try await server.start()
        self.server = server
        self.receiver = receiver
        self.port = addresses[0].port!
    }

    func stop() async {
        await server.shutdown(gracePeriod: .seconds(2))
    }
}

struct TestTimeout: Error, CustomStringConvertible {
    var description: String { "timed out" }
}

/// A byte-level client for transcript tests: sends exactly what the test says.
final class RawClient: Sendable {
    let channel: any Channel
    private let received: NIOLockedValueBox<Received>

    struct Received {
        var buffer = ByteBuffer()
        var parser = ReplyParser()
        var closed = false
    }

    /// Collects whatever the server sends.
    final class Collector: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let received: NIOLockedValueBox<Received>
        init(_ received: NIOLockedValueBox<Received>) { self.received = received }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var chunk = unwrapInboundIn(data)
            received.withLockedValue { _ = $0.buffer.writeBuffer(&chunk) }
        }
        func channelInactive(context: ChannelHandlerContext) {
            received.withLockedValue { $0.closed = true }
        }
        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }
    }

    private init(channel: any Channel, received: NIOLockedValueBox<Received>) {
        self.channel = channel
        self.received = received
    }

    static func connect(port: Int, tls: Bool = false) async throws -> RawClient {
        let received = NIOLockedValueBox(Received())
        let channel = try await ClientBootstrap(group: LiveServer.group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if tls { try channel.pipeline.syncOperations.addHandler(try RawClient.tlsHandler()) }
                    try channel.pipeline.syncOperations.addHandler(Collector(received))
                }
            }
            .connect(host: "127.0.0.1", port: port).get()
        return RawClient(channel: channel, received: received)
    }

    static func tlsHandler() throws -> NIOSSLClientHandler {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.certificateVerification = .none
        return try NIOSSLClientHandler(context: try NIOSSLContext(configuration: configuration), serverHostname: nil)
    }

    /// Upgrades the connection to TLS (after the server's 220 to STARTTLS).
    func startTLS() async throws {
        let channel = self.channel
        try await channel.eventLoop.submit {
            try channel.pipeline.syncOperations.addHandler(try RawClient.tlsHandler(), position: .first)
        }.get()
    }

    func send(_ text: String) async throws {
        try await channel.writeAndFlush(ByteBuffer(string: text)).get()
    }

    func send(bytes: [UInt8]) async throws {
        try await channel.writeAndFlush(ByteBuffer(bytes: bytes)).get()
    }

    /// The next reply, or nil if the server closed the connection first. The default timeout only
    /// catches a hang: on two loaded CI cores a reply can wait tens of seconds for a thread.
    func reply(timeout: Duration = .seconds(60)) async throws -> Reply? {
        let deadline = ContinuousClock.now + timeout
        while true {
            let (reply, closed) = try received.withLockedValue { state -> (Reply?, Bool) in
                (try state.parser.next(from: &state.buffer), state.closed)
            }
            if let reply { return reply }
            if closed { return nil }
            if ContinuousClock.now >= deadline { throw TestTimeout() }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    func replies(_ count: Int, timeout: Duration = .seconds(60)) async throws -> [Reply] {
        var out: [Reply] = []
        for _ in 0..<count {
            guard let reply = try await reply(timeout: timeout) else { break }
            out.append(reply)
        }
        return out
    }

    /// Sends a line and returns the code of its reply.
    func command(_ line: String) async throws -> Int? {
        try await send(line + "\r\n")
        return try await reply()?.code.rawValue
    }

    /// Waits until the server closes the connection.
    func waitForClose(timeout: Duration = .seconds(60)) async throws {
        let deadline = ContinuousClock.now + timeout
        while !received.withLockedValue({ $0.closed }) {
            if ContinuousClock.now >= deadline { throw TestTimeout() }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    func close() async {
        try? await channel.close()
    }
}
