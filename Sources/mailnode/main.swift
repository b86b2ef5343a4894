import ArgumentParser
import NIOCore
import NIOPosix

// Swift concurrency's jobs run on NIO's event loop threads instead of a second thread pool: a
// session's async steps (hooks, spool writes) then continue on the thread that owns its channel,
// saving thread hand-offs on every step (bench/README.md, run 5). It must happen before any task
// is enqueued, hence here, first thing in the process. Library users decide this for themselves.
NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()

/// `@main`'s job. Called from an async function so that overload resolution picks
/// AsyncParsableCommand's entry point (top-level code here would pick the synchronous one,
/// which never calls the async `run()`).
func runMailnode() async {
    await Mailnode.main()
}

await runMailnode()
