import Defenses
import Foundation

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
    enum Mode: Sendable { case shared, exclusive }

    let path: String
    private let descriptor: Int32

    init(database: String, mode: Mode) throws {
        path = database + "-lock"
        let directory = (database as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw StateStoreError("cannot open \(path): \(String(cString: strerror(errno)))") }
        guard Self.lock(fd, mode) == 0 else {
            let reason = errno == EWOULDBLOCK
                ? mode == .exclusive
                    ? "is in use by another state store (another mailnode process, or [state] write_behind = 0 elsewhere); "
                        + "a store that writes behind must be the file's only user. Give each node its own [state] path, "
                        + "or share state through backend = \"postgres\""
                    : "is held by a store that writes behind (another mailnode process); give this node its own [state] path, "
                        + "or share state through backend = \"postgres\""
                : String(cString: strerror(errno))
            close(fd)
            throw StateStoreError("state file \(database) \(reason)")
        }
        descriptor = fd
    }

    deinit { close(descriptor) }

    /// `flock` without blocking, tried again for up to a second while the answer is "held": a
    /// process that another thread of this one is spawning holds a copy of every descriptor —
    /// close-on-exec or not — until its `exec`, and with it the lock a store just released (seen
    /// in the test suite on a loaded machine, where a store closed and reopened in one process
    /// found its own lock still held).
    private static func lock(_ fd: Int32, _ mode: Mode) -> Int32 {
        let operation = (mode == .exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB
        for _ in 0..<100 {
            let result = flock(fd, operation)
            guard result != 0, errno == EWOULDBLOCK else { return result }
            usleep(10_000)
        }
        return flock(fd, operation)
    }
}
