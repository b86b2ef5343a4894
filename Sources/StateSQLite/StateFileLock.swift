import Defenses
import Foundation
import SMTPCore

#if canImport(Glibc)
import Glibc
#endif

/// The `flock(2)` on `<state file>-lock` that keeps a write-behind store
/// (``SQLiteWriteBehindStore``) the only user of its file: it holds the lock exclusively, every
/// write-through ``SQLiteStateStore`` holds it shared. So write-through stores in several
/// processes may share one file (SQLite's write lock keeps their increments exact), but nobody
/// shares a file with a store that keeps its state in memory — its counts would silently part.
/// The kernel drops the lock with the process, kill -9 included: no stale lock files.
final class StateFileLock: Sendable {
    typealias Mode = SpoolLock.Mode

    let path: String
    /// The open file description that holds the lock (released when this goes).
    private let lock: SpoolLock

    init(database: String, mode: Mode) throws {
        path = database + "-lock"
        let directory = (database as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
        guard let lock = try Self.acquire(path, mode) else {
            let reason = mode == .exclusive
                ? "is in use by another state store (another mailnode process, or [state] write_behind = 0 elsewhere); "
                    + "a store that writes behind must be the file's only user. Give each node its own [state] path, "
                    + "or share state through backend = \"postgres\""
                : "is held by a store that writes behind (another mailnode process); give this node its own [state] path, "
                    + "or share state through backend = \"postgres\""
            throw StateStoreError("state file \(database) \(reason)")
        }
        self.lock = lock
    }

    /// ``SpoolLock/tryAcquire(path:mode:)``, tried again for up to a second while the lock is
    /// held: a process that another thread of this one is spawning holds a copy of every
    /// descriptor — close-on-exec or not — until its `exec`, and with it the lock a store just
    /// released (seen in the test suite on a loaded machine, where a store closed and reopened in
    /// one process found its own lock still held). Synchronous, as the stores' initialisers are.
    private static func acquire(_ path: String, _ mode: Mode) throws -> SpoolLock? {
        do {
            for _ in 0..<100 {
                if let lock = try SpoolLock.tryAcquire(path: path, mode: mode) { return lock }
                usleep(10_000)
            }
            return try SpoolLock.tryAcquire(path: path, mode: mode)
        } catch {
            throw StateStoreError("cannot lock \(path): \(error)")
        }
    }
}
