import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Testing

@testable import SMTPCore

/// ``SMTPServerServices/sessionTasksOnConnectionLoop``: with it, a session's hooks run on an event
/// loop thread (its connection's); without it, on the global executor — in this test process
/// Swift's default pool, no event loop.
@Suite(.timeLimit(.minutes(1)))
struct SessionTaskPlacementTests {
    struct WhereHooksRun: SessionHooks {
        let onLoop: NIOLockedValueBox<[Bool]>
        var stages: HookStages { [.connected, .mailFrom] }

        func connected(_ session: SessionContext) async -> HookDecision {
            onLoop.withLockedValue { $0.append(MultiThreadedEventLoopGroup.currentEventLoop != nil) }
            return .continue
        }

        func mailFrom(_ reversePath: ReversePath, parameters: MailParameters, session: SessionContext) async -> HookDecision {
            onLoop.withLockedValue { $0.append(MultiThreadedEventLoopGroup.currentEventLoop != nil) }
            return .continue
        }
    }

    @Test(arguments: [true, false])
    func hooksRunWhereTheServicesSay(onConnectionLoop: Bool) async throws {
        let onLoop = NIOLockedValueBox<[Bool]>([])
        let server = try await LiveServer(hooks: WhereHooksRun(onLoop: onLoop), sessionTasksOnConnectionLoop: onConnectionLoop)
        let client = try await RawClient.connect(port: server.port)
        #expect(try await client.reply()?.code.rawValue == 220)
        #expect(try await client.command("EHLO c.test") == 250)
        #expect(try await client.command("MAIL FROM:<a@b.test>") == 250)
        await server.stop()
        #expect(onLoop.withLockedValue { $0 } == [onConnectionLoop, onConnectionLoop])
    }
}
