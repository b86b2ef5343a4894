import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import SMTPCore

/// An in-process SMTP server on a free loopback port with the hooks under test (the pattern of
/// SMTPCoreTests' LiveServerSupport, which another test target cannot import).
final class LiveServer: Sendable {
    let server: SMTPServer
    let receiver: MemoryMessageReceiver
    let port: Int
    static let group = MultiThreadedEventLoopGroup.singleton

    init(hooks: any SessionHooks, limits: SMTPLimits = .init()) async throws {
        let receiver = MemoryMessageReceiver()
        let listener = SMTPListenerConfiguration(name: "mx", host: "127.0.0.1", port: 0,
                                                 session: SMTPSessionConfiguration(hostname: "mx.test", limits: limits))
        let server = SMTPServer(listeners: [listener], services: SMTPServerServices(receiver: receiver, hooks: hooks),
                                group: LiveServer.group)
        let addresses = try await server.start()
        self.server = server
        self.receiver = receiver
        self.port = addresses[0].port!
    }

    func stop() async {
        await server.shutdown(gracePeriod: .seconds(2))
    }

    /// Runs `body` with a started server and stops it afterwards.
    static func with<T: Sendable>(hooks: any SessionHooks, limits: SMTPLimits = .init(),
                                  _ body: (LiveServer) async throws -> T) async throws -> T {
        let server = try await LiveServer(hooks: hooks, limits: limits)
        do {
            let result = try await body(server)
            await server.stop()
            return result
        } catch {
            await server.stop()
            throw error
        }
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

    final class Collector: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let received: NIOLockedValueBox<Received>
        /// Written by the event loop as soon as the connection is up (not by the test's task,
        /// which a busy cooperative pool may run seconds later).
        let onConnect: String?
        init(_ received: NIOLockedValueBox<Received>, onConnect: String? = nil) {
            self.received = received
            self.onConnect = onConnect
        }
        func channelActive(context: ChannelHandlerContext) {
            if let onConnect { context.writeAndFlush(NIOAny(ByteBuffer(string: onConnect)), promise: nil) }
            context.fireChannelActive()
        }
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

    /// Connects; `sendingOnConnect` goes out the moment the connection is up, before any greeting.
    static func connect(port: Int, sendingOnConnect: String? = nil) async throws -> RawClient {
        let received = NIOLockedValueBox(Received())
        let channel = try await ClientBootstrap(group: LiveServer.group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Collector(received, onConnect: sendingOnConnect))
                }
            }
            .connect(host: "127.0.0.1", port: port).get()
        return RawClient(channel: channel, received: received)
    }

    func send(_ text: String) async throws {
        try await channel.writeAndFlush(ByteBuffer(string: text)).get()
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

    /// Sends a line and returns its reply's code (nil when the server closed instead).
    func command(_ line: String) async throws -> Int? {
        try await send(line + "\r\n")
        return try await reply()?.code.rawValue
    }

    /// Sends a line and returns its whole reply.
    func exchange(_ line: String) async throws -> Reply? {
        try await send(line + "\r\n")
        return try await reply()
    }

    func waitForClose(timeout: Duration = .seconds(60)) async throws {
        let deadline = ContinuousClock.now + timeout
        while !received.withLockedValue({ $0.closed }) {
            if ContinuousClock.now >= deadline { throw TestTimeout() }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    var isClosed: Bool { received.withLockedValue { $0.closed } }

    func close() async {
        try? await channel.close()
    }
}

/// A clock tests move by hand.
final class TestClock: Sendable {
    private let current: NIOLockedValueBox<Date>
    init(_ start: Date = Date(timeIntervalSince1970: 1_800_000_000)) { current = NIOLockedValueBox(start) }
    var now: Date { current.withLockedValue { $0 } }
    func advance(_ seconds: TimeInterval) { current.withLockedValue { $0.addTimeInterval(seconds) } }
    var function: @Sendable () -> Date { { self.now } }
}
