import Defenses
import Foundation
import SMTPCore
import Testing

@Suite("DM32 greet pause")
struct GreetPauseTests {
    @Test("transcript: a client talking before the greeting gets 554 5.7.1, is closed and refused next time", arguments: StoreBackend.allCases)
    func talkerRefusedAndRemembered(backend: StoreBackend) async throws {
        try await backend.withStore { store async throws in
            // A long pause: the test's early EHLO must arrive within it even on a busy machine.
            let pause = GreetPause(.init(pause: .seconds(3)), store: store)
            try await LiveServer.with(hooks: pause) { server async throws in
                // Sent by the event loop the moment the connection is up: before any greeting.
                let talker = try await RawClient.connect(port: server.port, sendingOnConnect: "EHLO impatient.example\r\n")
                let refusal = try await talker.reply()
                #expect(refusal?.code.rawValue == 554)
                #expect(refusal?.enhancedCode == EnhancedStatusCode(5, 7, 1))
                try await talker.waitForClose()
                #expect(server.receiver.messages.isEmpty)

                // Its address is remembered: the next connection is refused although it waits.
                let again = try await RawClient.connect(port: server.port)
                #expect(try await again.reply()?.code.rawValue == 554)
                try await again.waitForClose()
            }
            #expect(try await store.record("greet:127.0.0.1/32", at: Date())?.value == "early")
        }
    }

    @Test("transcript: a polite client is greeted after the pause, then without one", arguments: StoreBackend.allCases)
    func politeClientPasses(backend: StoreBackend) async throws {
        try await backend.withStore { store async throws in
            let pause = GreetPause(.init(pause: .milliseconds(400)), store: store)
            try await LiveServer.with(hooks: pause) { server async throws in
                let start = ContinuousClock.now
                let polite = try await RawClient.connect(port: server.port)
                #expect(try await polite.reply()?.code.rawValue == 220)
                #expect(ContinuousClock.now - start >= .milliseconds(390))
                #expect(try await polite.command("EHLO polite.example") == 250)
                #expect(try await polite.command("QUIT") == 221)
                await polite.close()
                #expect(try await store.record("greet:127.0.0.1/32", at: Date())?.value == "passed")

                let next = try await RawClient.connect(port: server.port)
                #expect(try await next.reply()?.code.rawValue == 220)
                await next.close()
            }
        }
    }
}
