#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// How long and how many delivered pairs a stage remembers.
public struct DeliveredSetConfiguration: Sendable, Hashable {
    /// Pairs older than this are forgotten. It must exceed the upstream stage's retry lifetime
    /// (`retry.max_lifetime`, 5 days by default) or a very late retry is stored twice.
    public var retention: Duration
    /// At most this many pairs are kept (about 200 octets of memory each); beyond it the
    /// oldest are forgotten early, with a warning.
    public var maxEntries: Int

    public init(retention: Duration = .seconds(7 * 86_400), maxEntries: Int = 1_000_000) {
        self.retention = retention
        self.maxEntries = maxEntries
    }
}

/// A ``DeliveredSet`` in one append-only file, `DIR/log`, held in memory as a dictionary.
///
/// ```
/// <unix-seconds> <queue-id> <mailnode-id> <recipient>\n
/// 1795707353 00HOFLHTBTQ7XLKT016I <00HOFLHSZ0A4QE2V8W1B@mx.example.org> <b@example.org>
/// ```
/// Every ``record(_:queueID:)`` appends its lines and fsyncs before it returns. Records that
/// arrive while an fsync runs are written together by the next one (group commit), so
/// concurrent sessions share fsyncs. On open, a torn last line (a crash mid-write) is cut off,
/// lines that do not parse are skipped, and expired pairs are dropped; the file is rewritten
/// (write, fsync, rename, fsync directory) when most of its lines are dead.
public final class FileDeliveredSet: DeliveredSet {
    public let directory: String
    public let configuration: DeliveredSetConfiguration
    let threadPool: NIOThreadPool
    let logger: Logger
    /// The clock (tests move it to check expiry).
    let now: @Sendable () -> Date
    var logPath: String { directory + "/log" }

    struct Entry: Sendable {
        var queueID: String
        var time: Int64
    }

    /// A record waiting for its fsync.
    private struct Waiter {
        var sequence: Int
        var continuation: CheckedContinuation<Turn, Never>
    }

    /// What a caller of ``record(_:queueID:)`` is told to do when it wakes.
    private enum Turn {
        /// Write everything pending, then wake the others.
        case lead
        /// Someone else's write covered the record (nil) or failed (the error).
        case done((any Error)?)
    }

    private struct State {
        var entries: [String: Entry] = [:]
        /// Keys oldest first, for expiry and the size bound (a key recorded again appears twice;
        /// the entry's time tells which one counts).
        var order = CircularBuffer<(key: String, time: Int64)>()
        /// Lines of the file, live or dead (decides compaction).
        var fileLines = 0
        var fileSize: Int64 = 0
        var fd: Int32
        /// Lines not yet written, with their keys (added to `entries` once durable).
        var pending: [UInt8] = []
        var pendingKeys: [(key: String, entry: Entry)] = []
        var sequence = 0
        var leading = false
        var waiters: [Waiter] = []
        var evictedEarly = 0
        /// Appends written (each one fsync), for tests and diagnostics.
        var appends = 0
    }

    private let state: NIOLockedValueBox<State>

    /// Opens (or creates) the set in `directory` and reads what survived the last run
    /// (blocking: call at start, not on an event loop).
    public init(directory: String, configuration: DeliveredSetConfiguration = .init(),
                threadPool: NIOThreadPool = .singleton, logger: Logger = Logger(label: "mailnode.delivered"),
                now: @escaping @Sendable () -> Date = { Date() }) throws {
        self.directory = directory
        self.configuration = configuration
        self.threadPool = threadPool
        self.logger = logger
        self.now = now
        try DurableFile.makeDirectory(directory)
        try DurableFile.syncDirectory(URL(fileURLWithPath: directory).deletingLastPathComponent().path)
        let loaded = try FileDeliveredSet.load(path: directory + "/log", cutoff: FileDeliveredSet.seconds(now()) - configuration.retentionSeconds,
                                               logger: logger)
        let fd = open(directory + "/log", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw DurableFile.Failure(operation: "open", path: directory + "/log", code: errno) }
        var initial = State(fd: fd)
        initial.fileLines = loaded.lines
        initial.fileSize = loaded.validSize
        if loaded.tornBytes > 0 {
            // Cut the torn tail so the next append starts on a line of its own.
            guard ftruncate(fd, off_t(loaded.validSize)) == 0 else {
                let code = errno
                _ = close(fd)
                throw DurableFile.Failure(operation: "ftruncate", path: directory + "/log", code: code)
            }
            try DurableFile.sync(fd, path: directory + "/log")
            logger.warning("delivered set: torn last line removed", metadata: ["bytes": "\(loaded.tornBytes)"])
        }
        try DurableFile.syncDirectory(directory)
        for item in loaded.order {
            initial.order.append(item)
        }
        initial.entries = loaded.entries
        state = NIOLockedValueBox(initial)
        if loaded.skipped > 0 {
            logger.warning("delivered set: unparseable lines skipped", metadata: ["lines": "\(loaded.skipped)"])
        }
        let needsCompaction = state.withLockedValue { state in
            FileDeliveredSet.evict(&state, configuration: configuration, now: FileDeliveredSet.seconds(now()))
            return FileDeliveredSet.shouldCompact(state)
        }
        if needsCompaction { try compactBlocking() }
    }

    deinit {
        state.withLockedValue { _ = close($0.fd) }
    }

    /// Number of pairs remembered (expired ones may still count until the next write).
    public var count: Int { state.withLockedValue { $0.entries.count } }
    /// Appends (fsyncs) so far: fewer than records when concurrent records shared one.
    var appends: Int { state.withLockedValue { $0.appends } }

    // MARK: - DeliveredSet

    public func lookup(_ keys: [DeliveredKey]) async throws -> [DeliveredKey: String] {
        let cutoff = Self.seconds(now()) - configuration.retentionSeconds
        return state.withLockedValue { state in
            var found: [DeliveredKey: String] = [:]
            for key in keys {
                if let entry = state.entries[key.description], entry.time > cutoff { found[key] = entry.queueID }
            }
            return found
        }
    }

    public func record(_ keys: [DeliveredKey], queueID: String) async throws {
        let time = Self.seconds(now())
        var lines: [UInt8] = []
        var added: [(key: String, entry: Entry)] = []
        for key in keys {
            let text = key.description
            // A line break inside a key would split its line; SMTP paths cannot carry one.
            guard !text.utf8.contains(0x0A), !text.utf8.contains(0x0D), !queueID.utf8.contains(0x20) else { continue }
            lines.append(contentsOf: "\(time) \(queueID) \(text)\n".utf8)
            added.append((text, Entry(queueID: queueID, time: time)))
        }
        guard !added.isEmpty else { return }
        let turn = await withCheckedContinuation { (continuation: CheckedContinuation<Turn, Never>) in
            state.withLockedValue { state in
                state.pending.append(contentsOf: lines)
                state.pendingKeys.append(contentsOf: added)
                state.sequence += 1
                if state.leading {
                    state.waiters.append(Waiter(sequence: state.sequence, continuation: continuation))
                } else {
                    state.leading = true
                    continuation.resume(returning: .lead)
                }
            }
        }
        switch turn {
        case .done(let error):
            if let error { throw error }
        case .lead:
            if let error = await lead() { throw error }
        }
    }

    /// Writes and fsyncs everything pending (ours and whatever queued meanwhile), wakes the
    /// records it covered and hands the lead to the next waiter, if any.
    private func lead() async -> (any Error)? {
        let (bytes, keys, covered, fd, size) = state.withLockedValue { state in
            defer {
                state.pending = []
                state.pendingKeys = []
            }
            return (state.pending, state.pendingKeys, state.sequence, state.fd, state.fileSize)
        }
        let path = logPath
        var failure: (any Error)?
        do {
            try await threadPool.runIfActive {
                do {
                    try bytes.withUnsafeBytes { try DurableFile.writeAll(fd, $0, path: path) }
                    try DurableFile.sync(fd, path: path)
                } catch {
                    // Never leave half a line for the next append to continue.
                    _ = ftruncate(fd, off_t(size))
                    throw error
                }
            }
        } catch {
            failure = error
            logger.error("delivered set: cannot record", metadata: ["error": "\(error)"])
        }
        var compact = false
        state.withLockedValue { state in
            if failure == nil {
                state.appends += 1
                state.fileSize += Int64(bytes.count)
                state.fileLines += keys.count
                for (key, entry) in keys {
                    state.entries[key] = entry
                    state.order.append((key, entry.time))
                }
                FileDeliveredSet.evict(&state, configuration: configuration, now: FileDeliveredSet.seconds(now()))
                compact = FileDeliveredSet.shouldCompact(state)
            }
            // Wake the records this write covered; the first later one leads the next write.
            var remaining: [Waiter] = []
            for waiter in state.waiters {
                if waiter.sequence <= covered {
                    waiter.continuation.resume(returning: .done(failure))
                } else {
                    remaining.append(waiter)
                }
            }
            if compact {
                state.waiters = remaining   // the lead is kept until the file is rewritten
            } else if remaining.isEmpty {
                state.waiters = []
                state.leading = false
            } else {
                state.waiters = Array(remaining.dropFirst())
                remaining[0].continuation.resume(returning: .lead)
            }
        }
        if compact {
            do {
                try await threadPool.runIfActive { try self.compactBlocking() }
            } catch {
                logger.error("delivered set: compaction failed", metadata: ["error": "\(error)"])
            }
            state.withLockedValue { state in
                if state.waiters.isEmpty {
                    state.leading = false
                } else {
                    let next = state.waiters.removeFirst()
                    next.continuation.resume(returning: .lead)
                }
            }
        }
        return failure
    }

    // MARK: - Expiry, bound, compaction

    /// Drops expired pairs and, above the bound, the oldest ones.
    private static func evict(_ state: inout State, configuration: DeliveredSetConfiguration, now: Int64) {
        let cutoff = now - configuration.retentionSeconds
        while let first = state.order.first {
            let expired = first.time <= cutoff
            guard expired || state.entries.count > configuration.maxEntries else { break }
            state.order.removeFirst()
            guard let entry = state.entries[first.key], entry.time == first.time else { continue }
            state.entries[first.key] = nil
            if !expired { state.evictedEarly += 1 }
        }
    }

    /// Rewrite when at least half the file is dead lines (and there are enough to bother).
    private static func shouldCompact(_ state: State) -> Bool {
        state.fileLines >= 1024 && state.fileLines >= 2 * state.entries.count
    }

    /// Writes the live pairs to a new file and puts it in place of the log. Called only by the
    /// leader (or from `init`), so no append runs meanwhile.
    func compactBlocking() throws {
        let (snapshot, evicted) = state.withLockedValue { state -> ([(String, Entry)], Int) in
            defer { state.evictedEarly = 0 }
            var seen = Set<String>()
            var out: [(String, Entry)] = []
            for item in state.order where !seen.contains(item.key) {
                guard let entry = state.entries[item.key], entry.time == item.time else { continue }
                seen.insert(item.key)
                out.append((item.key, entry))
            }
            return (out, state.evictedEarly)
        }
        if evicted > 0 {
            logger.warning("delivered set full: oldest pairs forgotten before their retention ended",
                           metadata: ["pairs": "\(evicted)", "max_entries": "\(configuration.maxEntries)"])
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(snapshot.count * 96)
        for (key, entry) in snapshot {
            bytes.append(contentsOf: "\(entry.time) \(entry.queueID) \(key)\n".utf8)
        }
        let path = logPath, temporary = directory + "/log.new"
        DurableFile.remove(temporary)
        let newFD = try DurableFile.create(temporary)
        do {
            try bytes.withUnsafeBytes { try DurableFile.writeAll(newFD, $0, path: temporary) }
            try DurableFile.sync(newFD, path: temporary)
            DurableFile.closeFile(newFD)
            try DurableFile.move(temporary, to: path)
            try DurableFile.syncDirectory(directory)
        } catch {
            DurableFile.closeFile(newFD)
            DurableFile.remove(temporary)
            throw error
        }
        let appendFD = open(path, O_WRONLY | O_APPEND | O_CLOEXEC)
        guard appendFD >= 0 else { throw DurableFile.Failure(operation: "open", path: path, code: errno) }
        state.withLockedValue { state in
            _ = close(state.fd)
            state.fd = appendFD
            state.fileLines = snapshot.count
            state.fileSize = Int64(bytes.count)
            state.order.removeAll()
            for (key, entry) in snapshot { state.order.append((key, entry.time)) }
        }
        logger.info("delivered set compacted", metadata: ["pairs": "\(snapshot.count)"])
    }

    // MARK: - Reading the file

    struct Loaded {
        var entries: [String: Entry] = [:]
        var order: [(key: String, time: Int64)] = []
        var lines = 0
        var skipped = 0
        /// Octets up to the end of the last complete line.
        var validSize: Int64 = 0
        var tornBytes = 0
    }

    static func load(path: String, cutoff: Int64, logger: Logger) throws -> Loaded {
        var loaded = Loaded()
        guard FileManager.default.fileExists(atPath: path) else { return loaded }
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            let bytes = raw.bindMemory(to: UInt8.self)
            var start = 0
            while start < bytes.count {
                guard let newline = bytes[start...].firstIndex(of: 0x0A) else {
                    loaded.tornBytes = bytes.count - start
                    break
                }
                loaded.lines += 1
                if let (key, entry) = parse(UnsafeBufferPointer(rebasing: bytes[start..<newline])) {
                    if entry.time > cutoff {
                        loaded.entries[key] = entry
                        loaded.order.append((key, entry.time))
                    }
                } else {
                    loaded.skipped += 1
                }
                start = newline + 1
                loaded.validSize = Int64(start)
            }
        }
        return loaded
    }

    /// `<seconds> <queue-id> <mailnode-id> <recipient>`; the recipient is the rest of the line.
    static func parse(_ line: UnsafeBufferPointer<UInt8>) -> (String, Entry)? {
        guard let text = String(validating: line, as: UTF8.self) else { return nil }
        let fields = text.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: false)
        guard fields.count == 4, let time = Int64(fields[0]), !fields[1].isEmpty, !fields[2].isEmpty,
              fields[3].hasPrefix("<"), fields[3].hasSuffix(">")
        else { return nil }
        return ("\(fields[2]) \(fields[3])", Entry(queueID: String(fields[1]), time: time))
    }

    static func seconds(_ date: Date) -> Int64 { Int64(date.timeIntervalSince1970.rounded(.down)) }
}

extension DeliveredSetConfiguration {
    var retentionSeconds: Int64 { retention.components.seconds }
}
