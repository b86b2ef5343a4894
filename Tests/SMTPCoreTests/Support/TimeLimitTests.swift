import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Testing

@testable import SMTPCore

/// ``withTimeLimit(_:_:timedOut:)``: the body's answer when it comes in time, else the time-out
/// value with the body cancelled — on a NIO event loop (the loop's timer, cancelled when the body
/// answers; where hooks run in the `mailnode` binary, whose global executor is NIO's) and off one
/// (`Task.sleep`).
@Suite(.timeLimit(.minutes(1)))
struct TimeLimitTests {
    enum Place: String, CaseIterable, CustomStringConvertible {
        case eventLoop, cooperativePool
        var description: String { rawValue }
    }

    static let loops = MultiThreadedEventLoopGroup(numberOfThreads: 1)

    /// Runs the test's tasks on one event loop (SE-0417), as NIO's global executor does in the
    /// `mailnode` binary (main.swift).
    final class LoopExecutor: TaskExecutor {
        let loop: any EventLoop
        init(_ loop: any EventLoop) { self.loop = loop }

        func enqueue(_ job: consuming ExecutorJob) {
            let job = UnownedJob(job)
            let executor = asUnownedTaskExecutor()
            loop.execute { job.runSynchronously(on: executor) }
        }
    }

    static func run<T: Sendable>(_ place: Place, _ body: @escaping @Sendable () async -> T) async -> T {
        switch place {
        case .eventLoop: return await withTaskExecutorPreference(LoopExecutor(loops.next())) { await body() }
        case .cooperativePool: return await body()
        }
    }

    @Test(arguments: Place.allCases)
    func anAnswerInTimeWinsAndTheDeadlineGoesWithIt(place: Place) async {
        let clock = ContinuousClock()
        let start = clock.now
        let (value, onLoop) = await Self.run(place) {
            let onLoop = MultiThreadedEventLoopGroup.currentEventLoop != nil
            return (await withTimeLimit(.seconds(60), { 42 }, timedOut: { -1 }), onLoop)
        }
        #expect(value == 42)
        #expect(onLoop == (place == .eventLoop))
        // Had the deadline held the caller (a task group waits for its children), a minute.
        #expect(clock.now - start < .seconds(30))
    }

    @Test(arguments: Place.allCases)
    func aLateAnswerGivesTheTimeOutValueAndTheBodyIsCancelled(place: Place) async {
        let cancelled = NIOLockedValueBox(false)
        let value = await Self.run(place) {
            await withTimeLimit(.milliseconds(50), {
                try? await Task.sleep(for: .seconds(30))
                cancelled.withLockedValue { $0 = Task.isCancelled }
                return 42
            }, timedOut: { -1 })
        }
        #expect(value == -1)
        // The body's task was cancelled; it finishes on its own, soon after.
        for _ in 0..<500 where !cancelled.withLockedValue({ $0 }) { try? await Task.sleep(for: .milliseconds(10)) }
        #expect(cancelled.withLockedValue { $0 })
    }

    /// A body that does not heed cancellation (a look-up stuck in a non-cancellable wait) does
    /// not hold the caller past the limit: it is left to finish on its own.
    @Test(arguments: Place.allCases)
    func aBodyDeafToCancellationDoesNotHoldTheCaller(place: Place) async {
        let clock = ContinuousClock()
        let start = clock.now
        let value = await Self.run(place) {
            await withTimeLimit(.milliseconds(50), {
                await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                    Self.loops.next().scheduleTask(in: .seconds(50)) { continuation.resume() }
                }
                return 42
            }, timedOut: { -1 })
        }
        #expect(value == -1)
        // (A generous bound: off a loop the deadline is a Task.sleep, late when a loaded suite
        // keeps the cooperative pool busy; 12 s was seen.)
        #expect(clock.now - start < .seconds(35))
    }

    @Test func waitingEndsWithCancellation() async {
        let clock = ContinuousClock()
        let start = clock.now
        let waiter = Task { await Self.run(.eventLoop) { await waitForTimeLimit(.seconds(60)) } }
        try? await Task.sleep(for: .milliseconds(20))
        waiter.cancel()
        await waiter.value
        #expect(clock.now - start < .seconds(30))
    }
}
