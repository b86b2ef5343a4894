import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// The spool directory: durable entries, their delivery state, quarantine.
///
/// ```
/// tmp/         entries being received (never acknowledged; removed at start)
/// queue/ID     committed entries (immutable: record + message bytes)
/// state/ID     delivery state per entry (JSON, replaced atomically after each attempt)
/// quarantine/  entries that could not be parsed, with a `.reason` file beside each
/// ```
/// Every change that must survive a crash follows write → fsync → rename → fsync(directory).
/// Blocking file I/O runs on NIO's thread pool, never on an event loop.
public final class SpoolStore: Sendable {
    public let directory: String
    let threadPool: NIOThreadPool
    /// Called after each entry committed by this store (the runner's wake-up).
    private let commitObservers = NIOLockedValueBox<[@Sendable (SpoolEntry) -> Void]>([])

    public init(directory: String, threadPool: NIOThreadPool = .singleton) throws {
        self.directory = directory
        self.threadPool = threadPool
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for sub in ["/tmp", "/queue", "/state", "/quarantine"] {
            try DurableFile.makeDirectory(directory + sub)
        }
    }

    var tmpDirectory: String { directory + "/tmp" }
    var queueDirectory: String { directory + "/queue" }
    var stateDirectory: String { directory + "/state" }
    var quarantineDirectory: String { directory + "/quarantine" }

    /// Registers a callback for newly committed entries.
    public func onCommit(_ observer: @escaping @Sendable (SpoolEntry) -> Void) {
        commitObservers.withLockedValue { $0.append(observer) }
    }

    func notifyCommitted(_ entry: SpoolEntry) {
        for observer in commitObservers.withLockedValue({ $0 }) { observer(entry) }
    }

    /// Time-ordered, unique ids: microseconds since 1970 in base 36 plus 8 random characters.
    public static func makeID() -> String {
        let micros = UInt64(Date().timeIntervalSince1970 * 1_000_000)
        var generator = SystemRandomNumberGenerator()
        let random = String(generator.next() % 2_821_109_907_456, radix: 36, uppercase: true)   // 36^8
        return String(micros, radix: 36, uppercase: true).leftPadded(to: 12) + random.leftPadded(to: 8)
    }

    // MARK: - Writing entries

    /// Starts a new entry with its record; the caller appends message bytes and commits (or
    /// aborts) through the returned writer. Nothing touches the disk until enough bytes are
    /// buffered or the entry is committed, so a small message costs one thread-pool job.
    ///
    /// With `withPrepend`, the entry is written in format 2 (``SpoolEntry``) and
    /// ``EntryWriter/commit(prepending:)`` may add header fields in front of the message.
    func begin(_ record: SpoolRecord, prefix: ByteBuffer? = nil, withPrepend: Bool = false) throws -> EntryWriter {
        let header = try SpoolEntry.header(for: record, withPrepend: withPrepend)
        return EntryWriter(store: self, record: record, header: header, prefix: prefix, withPrepend: withPrepend)
    }

    /// Writes a complete message as a new committed entry (bounces, re-injection).
    @discardableResult
    public func inject(envelope: Envelope, message: ByteBuffer, session: String = "local") async throws -> SpoolEntry {
        let record = SpoolRecord(id: SpoolStore.makeID(), envelope: envelope, client: nil, helo: nil, tls: nil,
                                 authenticatedUser: nil, session: session, arrival: Date())
        let writer = try begin(record)
        do {
            try await writer.write(message)
            return try await writer.commit()
        } catch {
            await writer.abort()
            throw error
        }
    }

    /// One entry being written. Methods are called one at a time (the lock only makes the
    /// class `Sendable`).
    final class EntryWriter: Sendable {
        let store: SpoolStore
        let record: SpoolRecord
        let tmpPath: String
        let headerLength: Int
        /// Format 2: commit appends the prepended fields and the footer.
        let withPrepend: Bool
        /// Buffered bytes are written once this many are pending (and at commit).
        static let flushThreshold = 256 * 1024

        private struct State {
            var fd: Int32?
            var pending: ByteBuffer
            var messageSize = 0
            var finished = false
        }
        private let state: NIOLockedValueBox<State>

        init(store: SpoolStore, record: SpoolRecord, header: ByteBuffer, prefix: ByteBuffer?, withPrepend: Bool = false) {
            self.store = store
            self.withPrepend = withPrepend
            self.record = record
            self.tmpPath = store.tmpDirectory + "/" + record.id
            self.headerLength = header.readableBytes
            var pending = header
            if var prefix { pending.writeBuffer(&prefix) }
            state = NIOLockedValueBox(State(pending: pending, messageSize: prefix?.readableBytes ?? 0))
        }

        func write(_ chunk: ByteBuffer) async throws {
            var chunk = chunk
            let flush = state.withLockedValue { state -> (fd: Int32?, bytes: ByteBuffer)? in
                state.messageSize += chunk.readableBytes
                state.pending.writeBuffer(&chunk)
                guard state.pending.readableBytes >= EntryWriter.flushThreshold else { return nil }
                defer { state.pending.clear() }
                return (state.fd, state.pending)
            }
            guard let flush else { return }
            let path = tmpPath
            let fd = try await store.threadPool.runIfActive { () throws -> Int32 in
                let fd = try flush.fd ?? DurableFile.create(path)
                try flush.bytes.withUnsafeReadableBytes { try DurableFile.writeAll(fd, $0, path: path) }
                return fd
            }
            state.withLockedValue { $0.fd = fd }
        }

        /// Write what is pending, fsync, rename into `queue/`, fsync `queue/`: only then is the
        /// entry acknowledged. `prepending` (format 2 only): complete header fields that go in
        /// front of the message when it is read.
        func commit(prepending: String = "") async throws -> SpoolEntry {
            precondition(withPrepend || prepending.isEmpty, "prepended fields need an entry begun withPrepend")
            let prependLength = prepending.utf8.count
            let (fd, pending, messageSize) = state.withLockedValue { state in
                state.finished = true
                if self.withPrepend {
                    state.pending.writeString(prepending)
                    state.pending.writeString(SpoolEntry.footer(prependLength: prependLength))
                }
                return (state.fd, state.pending, state.messageSize)
            }
            let tmpPath = self.tmpPath
            let queueDirectory = store.queueDirectory
            let finalPath = queueDirectory + "/" + record.id
            try await store.threadPool.runIfActive {
                let fd = try fd ?? DurableFile.create(tmpPath)
                defer { DurableFile.closeFile(fd) }
                do {
                    try pending.withUnsafeReadableBytes { try DurableFile.writeAll(fd, $0, path: tmpPath) }
                    try DurableFile.sync(fd, path: tmpPath)
                    try DurableFile.move(tmpPath, to: finalPath)
                } catch {
                    DurableFile.remove(tmpPath)
                    throw error
                }
                try DurableFile.syncDirectory(queueDirectory)
            }
            let entry = SpoolEntry(record: record, path: finalPath, messageOffset: headerLength, messageSize: messageSize + prependLength,
                                   prependOffset: withPrepend ? headerLength + messageSize : 0, prependSize: prependLength)
            store.notifyCommitted(entry)
            return entry
        }

        func abort() async {
            let openFile = state.withLockedValue { state -> Int32? in
                defer { state.finished = true }
                return state.finished ? nil : state.fd   // nil: already finished, or nothing on disk yet
            }
            guard let fd = openFile else { return }
            let tmpPath = self.tmpPath
            _ = try? await store.threadPool.runIfActive {
                DurableFile.closeFile(fd)
                DurableFile.remove(tmpPath)
            }
        }
    }

    // MARK: - Recovery

    /// What start-up found in the spool.
    public struct Recovery: Sendable {
        /// Committed entries with their delivery state (fresh state when none was saved yet).
        public var entries: [(entry: SpoolEntry, state: DeliveryState)]
        /// Ids of entries moved to `quarantine/` because they could not be parsed.
        public var quarantined: [String]
        /// Unacknowledged partial entries removed from `tmp/`.
        public var discardedPartials: Int
    }

    /// Scans the spool after a start or a crash: every committed entry comes back; partial
    /// ones (never acknowledged) go; unparseable ones are quarantined, never dropped.
    public func recover(logger: Logger) async throws -> Recovery {
        try await threadPool.runIfActive { () throws -> Recovery in
            let fm = FileManager.default
            var discarded = 0
            for name in (try? fm.contentsOfDirectory(atPath: self.tmpDirectory)) ?? [] {
                DurableFile.remove(self.tmpDirectory + "/" + name)
                discarded += 1
            }
            var entries: [(entry: SpoolEntry, state: DeliveryState)] = []
            var quarantined: [String] = []
            for name in try fm.contentsOfDirectory(atPath: self.queueDirectory).sorted() {
                let path = self.queueDirectory + "/" + name
                do {
                    let entry = try SpoolEntry.load(path: path)
                    guard entry.id == name else { throw SpoolEntry.ParseError.badRecord("id \(entry.id) in file \(name)") }
                    let recipients = entry.record.envelope.recipients.count
                    let state: DeliveryState
                    switch self.loadState(id: name, recipientCount: recipients) {
                    case .found(let saved):
                        state = saved
                    case .none:
                        state = DeliveryState(recipientCount: recipients, nextAttempt: Date())
                    case .unusable(let reason):
                        // Delivered recipients may be tried again (at-least-once); say so.
                        logger.warning("delivery state unusable, starting over", metadata: ["id": "\(name)", "reason": "\(reason)"])
                        state = DeliveryState(recipientCount: recipients, nextAttempt: Date())
                    }
                    entries.append((entry, state))
                } catch {
                    try self.quarantineBlocking(name: name, reason: "\(error)")
                    quarantined.append(name)
                    logger.error("spool entry quarantined", metadata: ["id": "\(name)", "reason": "\(error)"])
                }
            }
            return Recovery(entries: entries, quarantined: quarantined, discardedPartials: discarded)
        }
    }

    private enum SavedState {
        case found(DeliveryState)
        case none
        case unusable(String)
    }

    private func loadState(id: String, recipientCount: Int) -> SavedState {
        guard let data = FileManager.default.contents(atPath: stateDirectory + "/" + id) else { return .none }
        guard let state = try? JSONDecoder().decode(DeliveryState.self, from: data) else { return .unusable("unparseable JSON") }
        guard state.recipients.count == recipientCount else {
            return .unusable("\(state.recipients.count) recipients in state, \(recipientCount) in entry")
        }
        return .found(state)
    }

    private func quarantineBlocking(name: String, reason: String) throws {
        try DurableFile.move(queueDirectory + "/" + name, to: quarantineDirectory + "/" + name)
        let reasonPath = quarantineDirectory + "/" + name + ".reason"
        _ = FileManager.default.createFile(atPath: reasonPath, contents: Data((reason + "\n").utf8))
        try DurableFile.syncDirectory(quarantineDirectory)
        try DurableFile.syncDirectory(queueDirectory)
    }

    // MARK: - Delivery state

    /// Replaces `state/ID` atomically and durably.
    public func save(_ state: DeliveryState, for id: String) async throws {
        let data = try JSONEncoder().encode(state)
        let directory = stateDirectory
        try await threadPool.runIfActive {
            let tmp = directory + "/." + id + ".tmp"
            DurableFile.remove(tmp)
            let fd = try DurableFile.create(tmp)
            defer { DurableFile.closeFile(fd) }
            try data.withUnsafeBytes { try DurableFile.writeAll(fd, $0, path: tmp) }
            try DurableFile.sync(fd, path: tmp)
            try DurableFile.move(tmp, to: directory + "/" + id)
            try DurableFile.syncDirectory(directory)
        }
    }

    /// Removes a finished entry and its state.
    public func remove(_ id: String) async throws {
        let queue = queueDirectory, state = stateDirectory
        // No directory fsync: if the removal is lost in a crash, the entry is delivered again
        // (at-least-once), which the receiving stage tolerates.
        try await threadPool.runIfActive {
            DurableFile.remove(queue + "/" + id)
            DurableFile.remove(state + "/" + id)
        }
    }

    /// A committed entry read from `queue/ID` (for entries another process injected, e.g.
    /// `mailnode quarantine release`).
    public func committedEntry(_ id: String) throws -> SpoolEntry {
        try SpoolEntry.load(path: queueDirectory + "/" + id)
    }

    /// Ids of the committed entries, oldest first.
    public func committedIDs() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: queueDirectory).sorted()
    }

    /// The message bytes of an entry as a stream of chunks read off the event loop.
    public func message(of entry: SpoolEntry, chunkSize: Int = 64 * 1024) -> SpoolMessageStream {
        SpoolMessageStream(entry: entry, chunkSize: chunkSize, threadPool: threadPool)
    }
}
