#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import NIOConcurrencyHelpers

/// An exclusive `flock(2)` on `DIR/lock`: who owns a spool's files right now. (Any lock file may
/// be taken, shared or exclusive, with ``tryAcquire(path:mode:)``: the SQLite state store's
/// `<state file>-lock` is.)
///
/// A running node holds it from before recovery until it stops; `mailnode queue …` takes it to
/// change files directly when no node runs. The kernel drops the lock when its holder exits, even
/// after `kill -9`, so a stale lock cannot exist — unlike a pid file. The file itself stays (its
/// contents do not matter; it holds the holder's pid for the curious).
public final class SpoolLock: Sendable {
    public let path: String
    /// The open file description that holds the lock; nil once released.
    private let descriptor: NIOLockedValueBox<Int32?>

    private init(path: String, descriptor: Int32) {
        self.path = path
        self.descriptor = NIOLockedValueBox(descriptor)
    }

    /// `DIR/lock` of a spool directory.
    public static func path(spoolDirectory: String) -> String { spoolDirectory + "/lock" }

    /// Takes the lock without waiting; nil when another holder has it. Throws when the file
    /// cannot be opened. Two ``SpoolLock``s on one file exclude each other within a process too
    /// (each has its own open file description).
    public static func tryAcquire(spoolDirectory: String) throws -> SpoolLock? {
        try tryAcquire(path: path(spoolDirectory: spoolDirectory), mode: .exclusive)
    }

    /// How a lock file is held: by one holder, or by any number of shared holders at once.
    public enum Mode: Sendable {
        case shared, exclusive
    }

    /// Takes the lock on the file at `path` (created 0600 if missing) without waiting; nil when
    /// a holder in a conflicting mode has it. An exclusive holder writes its pid into the file.
    public static func tryAcquire(path: String, mode: Mode) throws -> SpoolLock? {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw DurableFile.Failure(operation: "open", path: path, code: errno) }
        while flock(fd, (mode == .exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) != 0 {
            let code = errno
            if code == EINTR { continue }
            close(fd)
            if code == EWOULDBLOCK { return nil }
            throw DurableFile.Failure(operation: "flock", path: path, code: code)
        }
        if mode == .exclusive {
            let pid = "\(getpid())\n"
            if ftruncate(fd, 0) == 0 { _ = pid.withCString { write(fd, $0, strlen($0)) } }
        }
        return SpoolLock(path: path, descriptor: fd)
    }

    /// Takes the lock, trying again every 50 ms for up to `timeout` (a `mailnode queue` command
    /// holds it for a moment); nil when it stayed taken.
    public static func acquire(spoolDirectory: String, timeout: Duration) async throws -> SpoolLock? {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let lock = try tryAcquire(spoolDirectory: spoolDirectory) { return lock }
            if ContinuousClock.now >= deadline { return nil }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// Whether some holder has the lock now (for the CLI: is a node running on this spool?).
    public static func isHeld(spoolDirectory: String) throws -> Bool {
        guard let lock = try tryAcquire(spoolDirectory: spoolDirectory) else { return true }
        lock.release()
        return false
    }

    /// Drops the lock (closing the descriptor); later calls do nothing.
    public func release() {
        guard let fd = descriptor.withLockedValue({ value -> Int32? in defer { value = nil }; return value }) else { return }
        close(fd)
    }

    deinit {
        release()
    }
}
