import Foundation
import NIOCore
import NIOPosix
import Testing

@testable import Defenses

/// ClamdClient against a real clamd (Debian clamav-daemon) with the offline signatures from
/// Fixtures/antivirus: health checks, verdicts over TCP and the Unix socket, StreamMaxLength,
/// a dead instance, failover, a clamd that never answers.
@Suite("clamd client against a real clamd", .serialized)
struct ClamdClientLiveTests {
    static func client(_ endpoints: [ClamdEndpoint], chunkSize: Int = 64 * 1024, maxStreamLength: Int = 25 << 20,
                       scanTimeout: Duration = .seconds(60)) -> ClamdClient {
        ClamdClient(configuration: ClamdConfiguration(
            endpoints: endpoints, connectTimeout: .seconds(2), scanTimeout: scanTimeout,
            chunkSize: chunkSize, maxStreamLength: maxStreamLength))
    }

    /// One of our EICAR signatures (hash or body; clamd names whichever matched first).
    static func isEICAR(_ result: ScanResult) -> Bool {
        guard case .infected(let signature) = result else { return false }
        return signature.hasPrefix("Eicar-Test-Signature") && signature.hasSuffix(".UNOFFICIAL")
    }

    @Test func pingAndVersionOverTCPAndUnixSocket() async throws {
        try await withClamd { clamd in
            let client = Self.client([clamd.tcp, clamd.unix])
            for endpoint in [clamd.tcp, clamd.unix] {
                let pong: Void? = try? await client.ping(endpoint).get()
                #expect(pong != nil, "PING \(endpoint)")
                let version = try await client.version(endpoint).get()
                #expect(version.hasPrefix("ClamAV "), "VERSION \(endpoint): \(version)")
            }
        }
    }

    @Test func verdictsOverBothTransports() async throws {
        let eicar = try AntivirusFixtures.eicar()
        try await withClamd { clamd in
            for endpoint in [clamd.tcp, clamd.unix] {
                // Small chunks: the message crosses many INSTREAM chunk boundaries.
                let client = Self.client([endpoint], chunkSize: 100)
                let clean = await client.scan(ByteBuffer(string: AntivirusMessages.clean))
                #expect(clean.result == .clean, "\(endpoint)")
                #expect(clean.scanner == endpoint.description)

                let mail = AntivirusMessages.withAttachment(eicar, name: "readme.txt", type: "text/plain")
                let infected = await client.scan(ByteBuffer(string: mail))
                guard case .infected(let signature) = infected.result else {
                    Issue.record("expected infected over \(endpoint), got \(infected.result)")
                    continue
                }
                #expect(signature.hasPrefix("Eicar-Test-Signature"), "\(signature)")
                #expect(signature.hasSuffix(".UNOFFICIAL"), "\(signature)")

                // The raw file and the file inside a ZIP inside a MIME part.
                #expect(Self.isEICAR(await client.scan(ByteBuffer(bytes: eicar)).result))
                let zipped = AntivirusMessages.withAttachment(TestZip.make([("docs/readme.txt", eicar)]), name: "docs.zip",
                                                              type: "application/zip")
                #expect(Self.isEICAR(await client.scan(ByteBuffer(string: zipped)).result), "EICAR in a ZIP over \(endpoint)")
            }
        }
    }

    @Test func clamdStreamMaxLengthIsReportedNotHung() async throws {
        try await withClamd(streamMaxLength: "1K") { clamd in
            let client = Self.client([clamd.tcp], chunkSize: 512)
            let big = ByteBuffer(repeating: UInt8(ascii: "a"), count: 256 * 1024)
            let started = ContinuousClock.now
            let outcome = await client.scan(big)
            #expect(outcome.result == .error(.sizeLimitExceeded(limit: nil)))
            #expect(ContinuousClock.now - started < .seconds(30), "far below the 60 s scan timeout")
            // Small messages still pass through the same instance.
            #expect(await client.scan(ByteBuffer(string: "hi\r\n")).result == .clean)
        }
    }

    @Test func ourOwnLimitSendsNothing() async throws {
        // Nothing listens here: a connection attempt would fail, the limit answers first.
        let port = try await ClamdProcess.freePort()
        let client = Self.client([.tcp(host: "127.0.0.1", port: port)], maxStreamLength: 1000)
        let outcome = await client.scan(ByteBuffer(repeating: 0x41, count: 1001))
        #expect(outcome.result == .error(.sizeLimitExceeded(limit: 1000)))
        #expect(outcome.failures.isEmpty)
    }

    @Test func deadClamdIsAnError() async throws {
        let port = try await ClamdProcess.freePort()
        let client = Self.client([.tcp(host: "127.0.0.1", port: port), .unixSocket(path: "/nonexistent/clamd.sock")])
        let outcome = await client.scan(ByteBuffer(string: AntivirusMessages.clean))
        guard case .error(.connectFailed) = outcome.result else {
            Issue.record("expected connectFailed, got \(outcome.result)")
            return
        }
        #expect(outcome.scanner == nil)
        #expect(outcome.failures.count == 2)
        if case .success = await client.ping(.tcp(host: "127.0.0.1", port: port)) { Issue.record("PING to nothing succeeded") }

        // A clamd that was running and is stopped.
        let stopped = try await ClamdProcess.start()
        let endpoint = stopped.tcp
        await stopped.stop()
        guard case .error = await Self.client([endpoint]).scan(ByteBuffer(string: "x\r\n")).result else {
            Issue.record("a stopped clamd gave a verdict")
            return
        }
    }

    @Test func failoverToTheSecondInstanceAndBack() async throws {
        let eicar = try AntivirusFixtures.eicar()
        let deadPort = try await ClamdProcess.freePort()
        let dead = ClamdEndpoint.tcp(host: "127.0.0.1", port: deadPort)
        try await withClamd { clamd in
            let client = Self.client([dead, clamd.unix])
            let first = await client.scan(ByteBuffer(bytes: eicar))
            #expect(Self.isEICAR(first.result), "\(first.result)")
            #expect(first.scanner == clamd.unix.description)
            #expect(first.failures.count == 1)
            #expect(first.failures.first?.hasPrefix(dead.description) == true)
            // The failed instance is now tried last: the next scan goes straight to the live one.
            let second = await client.scan(ByteBuffer(string: AntivirusMessages.clean))
            #expect(second.result == .clean)
            #expect(second.failures.isEmpty)
        }
    }

    @Test func silentScannerTimesOut() async throws {
        // Accepts connections, reads everything, never answers.
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(Swallow()) }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        defer { server.close(promise: nil) }
        let endpoint = ClamdEndpoint.tcp(host: "127.0.0.1", port: server.localAddress!.port!)
        let client = Self.client([endpoint], scanTimeout: .milliseconds(500))
        let outcome = await client.scan(ByteBuffer(string: AntivirusMessages.clean))
        #expect(outcome.result == .error(.timedOut(endpoint: endpoint.description)))
    }

    final class Swallow: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {}
    }
}
