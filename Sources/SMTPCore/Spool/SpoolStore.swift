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
        for sub in ["", "/tmp", "/queue", "/state", "/quarantine"] {
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

    /// Starts a new entry in `tmp/` with its record; the caller appends message bytes and
    /// commits (or aborts) through the returned writer.
    func begin(_ record: SpoolRecord, prefix: ByteBuffer? = nil) async throws -> EntryWriter {
        var header = try SpoolEntry.header(for: record)
        if var prefix { header.writeBuffer(&prefix) }
        let path = tmpDirectory + "/" + record.id
        let headerBytes = header
        let fd = try await threadPool.runIfActive {
            let fd = try DurableFile.create(path)
            do {
                try headerBytes.withUnsafeReadableBytes { try DurableFile.writeAll(fd, $0, path: path) }
            } catch {
                DurableFile.closeFile(fd)
                DurableFile.remove(path)
                throw error
            }
            return fd
        }
        return EntryWriter(store: self, record: record, fd: fd, tmpPath: path)
    }

    /// Writes a complete message as a new committed entry (bounces, re-injection).
    @discardableResult
    public func inject(envelope: Envelope, message: ByteBuffer, session: String = "local") async throws -> SpoolEntry {
        let record = SpoolRecord(id: SpoolStore.makeID(), envelope: envelope, client: nil, helo: nil, tls: nil,
                                 authenticatedUser: nil, session: session, arrival: Date())
        let writer = try await begin(record)
        do {
            try await writer.write(message)
            return try await writer.commit()
        } catch {
            await writer.abort()
            throw error
        }
    }

    /// One entry being written. Methods are called one at a time.
    final class EntryWriter: Sendable {
        let store: SpoolStore
        let record: SpoolRecord
        let fd: Int32
        let tmpPath: String
        private let state = NIOLockedValueBox((finished: false, size: 0))

        init(store: SpoolStore, record: SpoolRecord, fd: Int32, tmpPath: String) {
            self.store = store
            self.record = record
            self.fd = fd
            self.tmpPath = tmpPath
        }

        func write(_ chunk: ByteBuffer) async throws {
            let fd = self.fd
            let path = tmpPath
            try await store.threadPool.runIfActive {
                try chunk.withUnsafeReadableBytes { try DurableFile.writeAll(fd, $0, path: path) }
            }
            state.withLockedValue { $0.size += chunk.readableBytes }
        }

        /// fsync, rename into `queue/`, fsync `queue/`: only then is the entry acknowledged.
        func commit() async throws -> SpoolEntry {
            state.withLockedValue { $0.finished = true }
            let fd = self.fd
            let tmpPath = self.tmpPath
            let queueDirectory = store.queueDirectory
            let finalPath = queueDirectory + "/" + record.id
            let entry = try await store.threadPool.runIfActive { () throws -> SpoolEntry in
                defer { DurableFile.closeFile(fd) }
                do {
                    try DurableFile.sync(fd, path: tmpPath)
                    try DurableFile.move(tmpPath, to: finalPath)
                } catch {
                    DurableFile.remove(tmpPath)
                    throw error
                }
                try DurableFile.syncDirectory(queueDirectory)
                return try SpoolEntry.load(path: finalPath)
            }
            store.notifyCommitted(entry)
            return entry
        }

        func abort() async {
            let alreadyFinished = state.withLockedValue { value -> Bool in
                defer { value.finished = true }
                return value.finished
            }
            guard !alreadyFinished else { return }
            let fd = self.fd
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
                    let state = self.loadState(id: name, recipientCount: entry.record.envelope.recipients.count)
                        ?? DeliveryState(recipientCount: entry.record.envelope.recipients.count, nextAttempt: Date())
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

    private func loadState(id: String, recipientCount: Int) -> DeliveryState? {
        guard let data = FileManager.default.contents(atPath: stateDirectory + "/" + id),
              let state = try? JSONDecoder().decode(DeliveryState.self, from: data),
              state.recipients.count == recipientCount
        else { return nil }
        return state
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
        try await threadPool.runIfActive {
            DurableFile.remove(queue + "/" + id)
            DurableFile.remove(state + "/" + id)
            try DurableFile.syncDirectory(queue)
        }
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
