import NIOCore
import Testing
@testable import SMTPCore

/// DM33 over real sockets on loopback: the data-rate floor and the per-flow bandwidth cap.
/// Only lower bounds on wall-clock time: the CI machine is slow and loaded.
@Suite struct DataRateLiveTests {
    static func session(_ change: (inout SMTPLimits) -> Void) -> SMTPSessionConfiguration {
        var limits = SMTPLimits()
        change(&limits)
        return SMTPSessionConfiguration(hostname: "mx.test", limits: limits)
    }

    /// Greeting through 354.
    static func startData(_ client: RawClient) async throws {
        #expect(try await client.reply()?.code == .serviceReady)
        try await client.send("EHLO c.test\r\nMAIL FROM:<a@c.test>\r\nRCPT TO:<b@mx.test>\r\nDATA\r\n")
        #expect(try await client.replies(4).map(\.code.rawValue) == [250, 250, 250, 354])
    }

    @Test func slowSenderBelowTheFloorIsCutOff() async throws {
        let server = try await LiveServer(session: Self.session { $0.minDataRate = 1000; $0.dataRateGrace = 2 })
        let client = try await RawClient.connect(port: server.port)
        // Measured from before DATA is sent: the server's data phase cannot start earlier, however
        // late its 354 reaches us on a loaded machine.
        let started = ContinuousClock.now
        try await Self.startData(client)
        // About 100 octets per second, a tenth of the floor, until the server answers.
        var answer: Reply?
        var closedSilently = false
        let giveUp = ContinuousClock.now + .seconds(30)
        sending: while ContinuousClock.now < giveUp {
            try? await client.send("0123456789")
            do {
                if let reply = try await client.reply(timeout: .milliseconds(100)) {
                    answer = reply
                } else {
                    closedSilently = true
                }
                break sending
            } catch is TestTimeout {
                continue
            }
        }
        let elapsed = ContinuousClock.now - started
        #expect(!closedSilently)
        #expect(answer?.code == .serviceNotAvailable)
        #expect(answer?.enhancedCode == EnhancedStatusCode(4, 4, 2))
        // Not before the grace period.
        #expect(elapsed >= .milliseconds(1900))
        try await client.waitForClose()
        #expect(server.receiver.messages.isEmpty)
        await server.stop()
    }

    @Test func senderAboveTheFloorIsUnaffected() async throws {
        // Floor 100 octets/s after a 5 s grace; 1,000 octets every 600 ms (about 1,700/s) for 6 s, past
        // the grace. A starved test process (the first chunk seconds late) still stays far above the
        // floor when it starts to count; the server must not cut it off.
        let server = try await LiveServer(session: Self.session { $0.minDataRate = 100; $0.dataRateGrace = 5 })
        let client = try await RawClient.connect(port: server.port)
        try await Self.startData(client)
        let line = String(repeating: "f", count: 98) + "\r\n"
        let lines = 10
        let chunks = 10
        for _ in 0..<chunks {
            try await client.send(String(repeating: line, count: lines))
            try await Task.sleep(for: .milliseconds(600))
        }
        try await client.send(".\r\n")
        #expect(try await client.reply()?.code == .ok)
        #expect(try await client.command("QUIT") == 221)
        let messages = server.receiver.messages
        #expect(messages.count == 1)
        #expect(messages.first?.data.readableBytes == chunks * lines * line.utf8.count)
        await server.stop()
    }

    @Test func bandwidthCapSlowsTheFlowDown() async throws {
        let server = try await LiveServer(session: Self.session { $0.maxDataRate = 50_000 })
        let client = try await RawClient.connect(port: server.port)
        try await Self.startData(client)
        let line = String(repeating: "b", count: 78) + "\r\n"
        let body = String(repeating: line, count: 200_000 / line.utf8.count)
        let started = ContinuousClock.now
        try await client.send(body + ".\r\n")
        let reply = try await client.reply(timeout: .seconds(120))
        let elapsed = ContinuousClock.now - started
        #expect(reply?.code == .ok)
        // 200 kB at 50 kB/s, minus the bucket's burst and one read (5 kB each): at least 3.8 s.
        #expect(elapsed >= .seconds(3))
        #expect(server.receiver.messages.first?.data.readableBytes == body.utf8.count)
        #expect(try await client.command("QUIT") == 221)
        await server.stop()
    }
}
