import Foundation

/// Runs blocking `work` (a probe process and its `waitUntilExit`, a `static let` whose first use
/// spawns one) on a thread of its own. On a 2-core CI box the cooperative pool has two threads;
/// one blocked probe there stalls every other test's sockets and timers for seconds.
func offThePool<R: Sendable>(_ work: @escaping @Sendable () throws -> R) async throws -> R {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread { continuation.resume(with: Result { try work() }) }
    }
}
