import Defenses
import Foundation
import SMTPCore
import Testing

@Suite("DM10 concurrent connections per client")
struct ClientConnectionLimitTests {
    @Test("transcript: the 11th simultaneous connection from one IP gets 421 4.7.0; a slot frees when a session ends")
    func eleventhConnection() async throws {
        let limit = ClientConnectionLimit()   // default: 10 per address
        try await LiveServer.with(hooks: limit) { server async throws in
            var open: [RawClient] = []
            for _ in 0..<10 {
                let client = try await RawClient.connect(port: server.port)
                #expect(try await client.reply()?.code.rawValue == 220)
                open.append(client)
            }
            #expect(limit.activeSessions(for: "127.0.0.1/32") == 10)
            let eleventh = try await RawClient.connect(port: server.port)
            let refusal = try await eleventh.reply()
            #expect(refusal?.code.rawValue == 421)
            #expect(refusal?.enhancedCode == EnhancedStatusCode(4, 7, 0))
            try await eleventh.waitForClose()
            #expect(limit.activeSessions(for: "127.0.0.1/32") == 10)

            // One client leaves: its slot comes back once its session is gone.
            #expect(try await open[0].command("QUIT") == 221)
            await open[0].close()
            var greeted = false
            for _ in 0..<200 where !greeted {   // up to ~10 s for the closed session to be released
                let next = try await RawClient.connect(port: server.port)
                greeted = try await next.reply()?.code.rawValue == 220
                if greeted { open[0] = next } else { await next.close(); try await Task.sleep(for: .milliseconds(50)) }
            }
            #expect(greeted)
            for client in open { await client.close() }
        }
    }

    @Test("trusted networks are not counted")
    func trusted() async throws {
        let limit = ClientConnectionLimit(.init(maxPerClient: 1, trustedNetworks: [IPNetwork("127.0.0.0/8")!]))
        try await LiveServer.with(hooks: limit) { server async throws in
            let first = try await RawClient.connect(port: server.port)
            let second = try await RawClient.connect(port: server.port)
            #expect(try await first.reply()?.code.rawValue == 220)
            #expect(try await second.reply()?.code.rawValue == 220)
            await first.close()
            await second.close()
        }
    }
}
