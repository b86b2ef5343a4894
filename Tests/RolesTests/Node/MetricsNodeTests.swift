import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Roles
import SMTPCore
import Testing

/// DefenseMetrics, MeteredHooks and a node serving its counters at `[metrics] listen`.
@Suite(.timeLimit(.minutes(2)))
struct MetricsNodeTests {
    @Test func countersRenderInThePrometheusFormat() {
        let metrics = DefenseMetrics()
        metrics.record("DM22", .deferred)
        metrics.record("DM22", .deferred)
        metrics.record("DM07", .rejected)
        metrics.record(.connections)
        let text = metrics.prometheusText()
        #expect(text.contains("# TYPE mailnode_defense_actions_total counter\n"))
        #expect(text.contains("mailnode_defense_actions_total{defense=\"DM07\",outcome=\"rejected\"} 1\nmailnode_defense_actions_total{defense=\"DM22\",outcome=\"deferred\"} 2\n"))
        #expect(text.contains("mailnode_connections_total 1\n") && text.contains("mailnode_messages_accepted_total 0\n"))
        #expect(metrics.count("DM22", .deferred) == 2 && metrics.count("DM22", .rejected) == 0)
    }

    /// `GET path` over a plain TCP connection; returns the whole response.
    static func http(_ request: String, port: Int) async throws -> String {
        final class Collector: ChannelInboundHandler, Sendable {
            typealias InboundIn = ByteBuffer
            let text = NIOLockedValueBox("")
            let done: EventLoopPromise<String>
            init(done: EventLoopPromise<String>) { self.done = done }
            func channelRead(context: ChannelHandlerContext, data: NIOAny) {
                let buffer = unwrapInboundIn(data)
                text.withLockedValue { $0 += String(buffer: buffer) }
            }
            func channelInactive(context: ChannelHandlerContext) { done.succeed(text.withLockedValue { $0 }) }
        }
        let group = MultiThreadedEventLoopGroup.singleton
        let done = group.next().makePromise(of: String.self)
        let channel = try await ClientBootstrap(group: group)
            .channelInitializer { channel in channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(Collector(done: done)) } }
            .connect(host: "127.0.0.1", port: port).get()
        try await channel.writeAndFlush(ByteBuffer(string: request))
        return try await done.futureResult.get()
    }

    @Test func aNodeServesWhatItsDefensesDid() async throws {
        let spool = NSTemporaryDirectory() + "mailnode-metrics-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: spool) }
        let text = """
            [node]
            hostname = "mx.test"
            spool = "\(spool)"
            [mx]
            domains = ["d.test"]
            listen = ["127.0.0.1:0"]
            [mx.spam_traps]
            addresses = ["trap@d.test"]
            [metrics]
            listen = ["127.0.0.1:0"]
            """
        let node = try MailNode(configuration: try NodeConfiguration(toml: text, file: "node.toml"),
                                group: MultiThreadedEventLoopGroup.singleton, logger: Logger(label: "test"))
        let port = try await node.start()[0].port!
        let metricsPort = try #require(node.metricsServer?.localAddress?.port)
        #expect(await StatefulDefensesNodeTests.deliver(port: port, to: "u")?.code.rawValue == 250)
        #expect(await StatefulDefensesNodeTests.deliver(port: port, to: "trap")?.code.rawValue == 550)

        let response = try await Self.http("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", port: metricsPort)
        #expect(response.hasPrefix("HTTP/1.1 200 OK\r\n"), "\(response)")
        #expect(response.contains("Content-Type: text/plain; version=0.0.4"), "\(response)")
        #expect(response.contains("mailnode_defense_actions_total{defense=\"DM27\",outcome=\"rejected\"} 1\n"), "\(response)")
        #expect(response.contains("mailnode_messages_accepted_total 1\n"), "\(response)")
        #expect(response.contains("mailnode_connections_total 2\n"), "\(response)")
        #expect(try await Self.http("GET / HTTP/1.1\r\nHost: x\r\n\r\n", port: metricsPort).hasPrefix("HTTP/1.1 404"))
        #expect(try await Self.http("POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", port: metricsPort).hasPrefix("HTTP/1.1 405"))
        await node.shutdown()
    }

    @Test func metricsKeys() throws {
        let base = "[node]\nhostname = \"h\"\n"
        #expect(try NodeConfiguration(toml: base, file: "f").metricsListen == nil)
        #expect(try NodeConfiguration(toml: base + "[metrics]\n", file: "f").metricsListen?.description == "127.0.0.1:9325")
        #expect(try NodeConfiguration(toml: base + "[metrics]\nlisten = [\"[::1]:9100\"]\n", file: "f").metricsListen?.description == "[::1]:9100")
        #expect(try NodeConfiguration(toml: base + "[metrics]\nenabled = false\nlisten = [\"[::1]:9100\"]\n", file: "f").metricsListen == nil)
        #expect {
            _ = try NodeConfiguration(toml: base + "[metrics]\nlisten = [\"a:1\", \"b:2\"]\n", file: "f")
        } throws: { "\($0)" == "f:4: metrics.listen: takes one address" }
    }
}
