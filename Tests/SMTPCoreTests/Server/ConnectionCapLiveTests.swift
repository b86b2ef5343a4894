import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Testing
@testable import SMTPCore

/// DM12 (node-wide) and DM13 (per event loop) connection caps over real sockets on loopback.
@Suite struct ConnectionCapLiveTests {
    /// Counts connect-hook calls: a refused connection must not run any.
    final class ConnectCounter: SessionHooks {
        let count = NIOLockedValueBox(0)
        var stages: HookStages { .connected }
        func connected(_ session: SessionContext) async -> HookDecision {
            count.withLockedValue { $0 += 1 }
            return .continue
        }
    }

    /// Polls until `condition` holds (never a fixed sleep).
    static func eventually(timeout: Duration = .seconds(60), _ condition: () -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while !condition() {
            if ContinuousClock.now >= deadline { throw TestTimeout() }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    static func expectRefused(_ client: RawClient) async throws {
        let reply = try await client.reply()
        #expect(reply?.code == .serviceNotAvailable)
        #expect(reply?.enhancedCode == EnhancedStatusCode(4, 3, 2))
        #expect(reply == .tooManyConnections)
        try await client.waitForClose()
    }

    @Test func nodeCapRefusesTheThirdConnection() async throws {
        let hooks = ConnectCounter()
        let server = try await LiveServer(hooks: hooks, connectionCaps: ConnectionCaps(maxConnections: 2))
        let first = try await RawClient.connect(port: server.port)
        let second = try await RawClient.connect(port: server.port)
        #expect(try await first.reply()?.code == .serviceReady)
        #expect(try await second.reply()?.code == .serviceReady)

        let third = try await RawClient.connect(port: server.port)
        try await Self.expectRefused(third)
        #expect(hooks.count.withLockedValue { $0 } == 2)
        #expect(server.server.connectionCount == 2)

        // One leaves: the next is served again.
        #expect(try await first.command("QUIT") == 221)
        try await Self.eventually { server.server.connectionCount == 1 }
        let fourth = try await RawClient.connect(port: server.port)
        #expect(try await fourth.reply()?.code == .serviceReady)
        #expect(try await fourth.command("EHLO c.test") == 250)
        #expect(hooks.count.withLockedValue { $0 } == 3)

        // A client that simply vanishes is released too.
        await second.close()
        await fourth.close()
        try await Self.eventually { server.server.connectionCount == 0 }
        await server.stop()
    }

    @Test func perLoopCapOnOneThread() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let server = try await LiveServer(group: group,
                                          connectionCaps: ConnectionCaps(maxConnections: 1000, maxConnectionsPerEventLoop: 1))
        let first = try await RawClient.connect(port: server.port)
        #expect(try await first.reply()?.code == .serviceReady)
        let second = try await RawClient.connect(port: server.port)
        try await Self.expectRefused(second)
        #expect(server.server.connectionCount == 1)

        await first.close()
        try await Self.eventually { server.server.connectionCount == 0 }
        let third = try await RawClient.connect(port: server.port)
        #expect(try await third.reply()?.code == .serviceReady)
        #expect(try await third.command("QUIT") == 221)
        await server.stop()
        try await group.shutdownGracefully()
    }

    @Test func failedTLSHandshakeReleasesItsSlot() async throws {
        let server = try await LiveServer(tls: .implicit, connectionCaps: ConnectionCaps(maxConnections: 1))
        // Plaintext on an implicit-TLS port: the handshake fails and the server closes.
        let garbage = try await RawClient.connect(port: server.port)
        try await garbage.send("EHLO not-tls.test\r\n\r\n")
        try await garbage.waitForClose()
        try await Self.eventually { server.server.connectionCount == 0 }

        let client = try await RawClient.connect(port: server.port, tls: true)
        #expect(try await client.reply()?.code == .serviceReady)
        // The cap is full now: the next implicit-TLS client is closed without a plaintext reply.
        let refused = try await RawClient.connect(port: server.port)
        try await refused.waitForClose()
        #expect(server.server.connectionCount == 1)
        #expect(try await client.command("QUIT") == 221)
        await server.stop()
    }

    // MARK: The counter without sockets

    @Test func counterAdmitsReleasesAndNamesTheCap() {
        let a = ObjectIdentifier(LoopStandIn.a)
        let b = ObjectIdentifier(LoopStandIn.b)
        var counter = ConnectionCounter(caps: ConnectionCaps(maxConnections: 3, maxConnectionsPerEventLoop: 2))
        #expect(counter.admit(loop: a) == nil)
        #expect(counter.admit(loop: a) == nil)
        #expect(counter.admit(loop: a) == .eventLoop(open: 2, limit: 2))
        #expect(counter.admit(loop: b) == nil)
        #expect(counter.admit(loop: b) == .node(open: 3, limit: 3))
        #expect(ConnectionCounter.Refusal.node(open: 3, limit: 3).defense == "DM12")
        #expect(ConnectionCounter.Refusal.eventLoop(open: 2, limit: 2).defense == "DM13")
        counter.release(loop: a)
        #expect(counter.total == 2)
        #expect(counter.count(on: a) == 1)
        #expect(counter.admit(loop: a) == nil)
    }

    @Test func defaultsAreAThousandAndNoPerLoopCap() {
        #expect(ConnectionCaps().maxConnections == 1000)
        #expect(ConnectionCaps().maxConnectionsPerEventLoop == 0)
    }
}

/// Two distinct objects to stand for event loops in the counter's keys.
enum LoopStandIn {
    final class Loop: Sendable {}
    static let a = Loop()
    static let b = Loop()
}
