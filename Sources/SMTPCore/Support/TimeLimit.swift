import NIOCore
import NIOPosix
import Synchronization

/// Runs `body` and returns its result, or `timedOut()` when `limit` passes first (then `body`'s
/// task is cancelled and abandoned to finish on its own): the overall bound a check such as SPF
/// (RFC 7208 §4.6.4), the sender checks or a DNS list look-up puts on its queries.
///
/// On a NIO event loop — where a session's hooks run (``SessionHooks``) — the deadline is a timer
/// of that loop, cancelled when `body` answers: nothing else wakes. Elsewhere it is a
/// `Task.sleep`, which on Linux is a libdispatch timer: every one of them wakes dispatch's
/// manager thread when it is set and again when it fires (after the limit, long after the check
/// is done). An mx message ran three such checks; their timers were 6 % of its CPU
/// (bench/README.md, `mx.sh`).
///
/// One task runs `body`; the caller waits on a continuation that the first of `body`'s answer,
/// the deadline and the caller's cancellation resumes (no task group and no second task for the
/// deadline: one task fewer per check). In the `mailnode`
/// binary the body's task starts on the caller's event loop (NIO's global executor prefers the
/// current loop). Inlinable, so that it is specialised for each result type: generic, every call
/// looked up the metadata of its race and outcome types.
@inlinable
public func withTimeLimit<T: Sendable>(_ limit: Duration, _ body: @escaping @Sendable () async -> T,
                                       timedOut: @escaping @Sendable () -> T) async -> T {
    let race = TimeLimitRace<T>()
    let work = Task { race.finish(.answered(await body())) }
    switch await race.outcome(within: limit) {
    case .answered(let value):
        return value
    case .timedOut:
        work.cancel()
        return timedOut()
    }
}

/// Waits until `limit` has passed or the task is cancelled, whichever comes first: the deadline
/// half of a race like ``withTimeLimit(_:_:timedOut:)``'s, for callers that collect partial
/// results (a timer of the current NIO event loop when there is one, else `Task.sleep`).
public func waitForTimeLimit(_ limit: Duration) async {
    _ = await TimeLimitRace<Void>().outcome(within: limit)
}

/// The meeting point of ``withTimeLimit(_:_:timedOut:)`` and ``waitForTimeLimit(_:)``: the first
/// outcome wins, later ones are dropped; the waiter is resumed exactly once (which is why an
/// unchecked continuation is enough: it is taken out under the lock by whoever resumes it).
@usableFromInline
final class TimeLimitRace<T: Sendable>: Sendable {
    @usableFromInline
    enum Outcome: Sendable {
        case answered(T)
        case timedOut
    }

    @usableFromInline
    struct State {
        @usableFromInline var outcome: Outcome?
        @usableFromInline var waiter: UnsafeContinuation<Outcome, Never>?
        @inlinable init() {}
    }

    @usableFromInline
    let state = Mutex(State())

    @inlinable
    init() {}

    @inlinable
    func finish(_ outcome: Outcome) {
        let waiter = state.withLock { state -> UnsafeContinuation<Outcome, Never>? in
            guard state.outcome == nil else { return nil }
            state.outcome = outcome
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: outcome)
    }

    /// The first outcome; `.timedOut` once `limit` has passed or the waiting task is cancelled.
    /// The deadline is cancelled with the wait.
    @inlinable
    func outcome(within limit: Duration) async -> Outcome {
        let deadline = ArmedDeadline(limit, for: self)
        let outcome = await withTaskCancellationHandler {
            await withUnsafeContinuation { (continuation: UnsafeContinuation<Outcome, Never>) in
                let ready = state.withLock { state -> Outcome? in
                    if let outcome = state.outcome { return outcome }
                    state.waiter = continuation
                    return nil
                }
                if let ready { continuation.resume(returning: ready) }
            }
        } onCancel: {
            finish(.timedOut)
        }
        deadline.cancel()
        return outcome
    }
}

/// A deadline armed for a ``TimeLimitRace``: a callback of the current NIO event loop when there
/// is one (the race itself is the handler: no promise, closure or `Scheduled` per deadline), else a
/// task in `Task.sleep`. ``cancel()`` disarms it.
@usableFromInline
enum ArmedDeadline: Sendable {
    case callback(NIOScheduledCallback)
    case sleeper(Task<Void, Never>)

    @inlinable
    init<T>(_ limit: Duration, for race: TimeLimitRace<T>) {
        if let loop = MultiThreadedEventLoopGroup.currentEventLoop,
           let callback = try? loop.scheduleCallback(in: TimeAmount(limit), handler: race) {
            self = .callback(callback)
            return
        }
        self = .sleeper(Task {
            do { try await Task.sleep(for: limit) } catch { return }
            race.finish(.timedOut)
        })
    }

    @inlinable
    func cancel() {
        switch self {
        case .callback(let callback): callback.cancel()
        case .sleeper(let task): task.cancel()
        }
    }
}

extension TimeLimitRace: NIOScheduledCallbackHandler {
    @inlinable
    func handleScheduledCallback(eventLoop: some EventLoop) {
        finish(.timedOut)
    }
}
