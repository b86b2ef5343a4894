import Defenses
import Foundation
import SMTPCore
import Testing

@Suite("DM11 client rate limit")
struct ClientRateLimitTests {
    static func greeted(_ port: Int) async throws -> Reply? {
        let client = try await RawClient.connect(port: port)
        defer { Task { await client.close() } }
        return try await client.reply()
    }

    @Test("transcript: connections beyond the limit get 421 4.7.0", arguments: StoreBackend.allCases)
    func connections(backend: StoreBackend) async throws {
        try await backend.withStore { store async throws in
            let rate = ClientRateLimit(.init(window: .seconds(600), maxConnections: 3), store: store)
            try await LiveServer.with(hooks: rate) { server async throws in
                for _ in 0..<3 { #expect(try await Self.greeted(server.port)?.code.rawValue == 220) }
                let refused = try await Self.greeted(server.port)
                #expect(refused?.code.rawValue == 421)
                #expect(refused?.enhancedCode == EnhancedStatusCode(4, 7, 0))
            }
        }
    }

    @Test("transcript: recipients and messages beyond their limits get 451 4.7.1", arguments: StoreBackend.allCases)
    func recipientsAndMessages(backend: StoreBackend) async throws {
        try await backend.withStore { store async throws in
            let rate = ClientRateLimit(.init(window: .seconds(600), maxConnections: 0, maxMessages: 1, maxRecipients: 3), store: store)
            try await LiveServer.with(hooks: rate) { server async throws in
                let client = try await RawClient.connect(port: server.port)
                #expect(try await client.reply()?.code.rawValue == 220)
                #expect(try await client.command("EHLO client.example") == 250)
                #expect(try await client.command("MAIL FROM:<a@sender.example>") == 250)
                #expect(try await client.command("RCPT TO:<u1@local.example>") == 250)
                #expect(try await client.command("RCPT TO:<u2@local.example>") == 250)
                #expect(try await client.command("DATA") == 354)
                #expect(try await client.command("Subject: one\r\n\r\nbody\r\n.") == 250)
                #expect(try await client.command("MAIL FROM:<a@sender.example>") == 250)
                #expect(try await client.command("RCPT TO:<u3@local.example>") == 250)
                let fourth = try await client.exchange("RCPT TO:<u4@local.example>")
                #expect(fourth?.code.rawValue == 451)
                #expect(fourth?.enhancedCode == EnhancedStatusCode(4, 7, 1))
                let data = try await client.exchange("DATA")
                #expect(data?.code.rawValue == 451)   // the second message in the window
                #expect(try await client.command("QUIT") == 221)
                await client.close()
                #expect(server.receiver.messages.count == 1)
            }
        }
    }

    @Test("two nodes with their own store instances share one limit", arguments: StoreBackend.allCases)
    func twoNodes(backend: StoreBackend) async throws {
        try await backend.withStores(2) { stores async throws in
            let limits = ClientRateLimit.Configuration(window: .seconds(600), maxConnections: 3)
            try await LiveServer.with(hooks: ClientRateLimit(limits, store: stores[0])) { nodeA async throws in
                try await LiveServer.with(hooks: ClientRateLimit(limits, store: stores[1])) { nodeB async throws in
                    #expect(try await Self.greeted(nodeA.port)?.code.rawValue == 220)
                    #expect(try await Self.greeted(nodeB.port)?.code.rawValue == 220)
                    #expect(try await Self.greeted(nodeA.port)?.code.rawValue == 220)
                    #expect(try await Self.greeted(nodeB.port)?.code.rawValue == 421)
                    #expect(try await Self.greeted(nodeA.port)?.code.rawValue == 421)
                }
            }
        }
    }

    @Test("the window slides: counts older than the window no longer limit")
    func windowSlides() async throws {
        let clock = TestClock()
        let store = MemoryStateStore()
        let rate = ClientRateLimit(.init(window: .seconds(60), maxConnections: 2), store: store, now: clock.function)
        let session = SessionContext(sessionID: "s", remoteAddress: try .init(ipAddress: "192.0.2.1", port: 1))
        #expect(await rate.connected(session) == .continue)
        #expect(await rate.connected(session) == .continue)
        #expect(await rate.connected(session) == .disconnect(ClientRateLimit.connectionRefusal))
        clock.advance(61)
        #expect(await rate.connected(session) == .continue)
    }
}
