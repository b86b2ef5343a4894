import NIOCore

/// Runs Swift tasks on one NIO event loop: the task executor preference (SE-0417) a session's
/// asynchronous service calls run with when ``SMTPServerServices/sessionTasksOnConnectionLoop``
/// is set, so that a hook, a receiver and the default actors they call execute on the
/// connection's own thread.
///
/// Without it the work goes to the global executor: a hop to another thread and back for each
/// SMTP command, and, in a process whose cooperative pool is busy (a test runner, an embedding
/// application), a session that waits for threads it does not own. Blocking work still belongs
/// on a thread pool (the spool and the state stores put it there), never on this executor.
final class EventLoopTaskExecutor: TaskExecutor {
    let eventLoop: any EventLoop

    init(_ eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = asUnownedTaskExecutor()
        eventLoop.execute { job.runSynchronously(on: executor) }
    }
}

extension EventLoopPromise where Value: Sendable {
    /// Completes the promise with `body`'s result, run as a task that prefers `executor` (nil: a
    /// plain task on the global executor).
    func completeWithTask(on executor: EventLoopTaskExecutor?, _ body: @escaping @Sendable () async throws -> Value) {
        guard let executor else {
            completeWithTask(body)
            return
        }
        Task(executorPreference: executor) {
            do {
                self.succeed(try await body())
            } catch {
                self.fail(error)
            }
        }
    }
}
