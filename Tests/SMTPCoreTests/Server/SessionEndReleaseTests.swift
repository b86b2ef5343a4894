import NIOConcurrencyHelpers
import Testing
@testable import SMTPCore

/// What hooks keep in ``SessionAttributes`` is given back when the session closes: before the
/// 221 to QUIT leaves the server (a client that reconnects on reading it must find DM10's slot
/// free), and when the client drops the connection — even while something else (here the test,
/// elsewhere a hook's background task) still holds a copy of the session's context.
@Suite struct SessionEndReleaseTests {
    /// Counts instances that were released.
    final class Releases: Sendable {
        let count = NIOLockedValueBox(0)
    }

    final class Held: Sendable {
        let releases: Releases
        init(_ releases: Releases) { self.releases = releases }
        deinit { releases.count.withLockedValue { $0 += 1 } }
    }

    struct Keeper: SessionHooks {
        let releases: Releases
        /// Copies of the contexts, outliving their sessions.
        let contexts = NIOLockedValueBox<[SessionContext]>([])
        let key = SessionAttributeKey<Held>("test.held")
        var stages: HookStages { .connected }
        func connected(_ session: SessionContext) async -> HookDecision {
            session.attributes[key] = Held(releases)
            contexts.withLockedValue { $0.append(session) }
            return .continue
        }
    }

    @Test func releasedBeforeTheReplyToQuit() async throws {
        let releases = Releases()
        let keeper = Keeper(releases: releases)
        let server = try await LiveServer(hooks: keeper)
        let client = try await RawClient.connect(port: server.port)
        #expect(try await client.reply()?.code == .serviceReady)
        #expect(try await client.command("EHLO client.test") == 250)
        #expect(releases.count.withLockedValue { $0 } == 0, "released while the session still runs")
        #expect(try await client.command("QUIT") == 221)
        #expect(releases.count.withLockedValue { $0 } == 1, "still held when the 221 arrived")
        await client.close()
        await server.stop()
        #expect(keeper.contexts.withLockedValue { $0.count } == 1)
    }

    @Test func releasedWhenTheClientDrops() async throws {
        let releases = Releases()
        let keeper = Keeper(releases: releases)
        let server = try await LiveServer(hooks: keeper)
        let client = try await RawClient.connect(port: server.port)
        #expect(try await client.reply()?.code == .serviceReady)
        await client.close()
        let deadline = ContinuousClock.now + .seconds(30)
        while releases.count.withLockedValue({ $0 }) == 0, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(releases.count.withLockedValue { $0 } == 1)
        await server.stop()
        #expect(keeper.contexts.withLockedValue { $0.count } == 1)
    }
}
