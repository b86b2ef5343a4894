import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// A ``MessageReceiver`` that makes every message durable in a spool directory before the
/// session answers 250 (DESIGN.md §3.1).
///
/// Layout: `tmp/` holds entries being received; `queue/` holds committed entries. An entry is
/// one file: a header line `MAILNODE-SPOOL 1 <n>`, `n` octets of JSON (envelope, session facts,
/// arrival time), a newline, then the message bytes exactly as received. Commit = fsync file,
/// rename `tmp/ID` → `queue/ID`, fsync `queue/`. File I/O runs on NIO's blocking thread pool,
/// never on an event loop.
public final class SpoolReceiver: MessageReceiver {
    public let directory: String
    let threadPool: NIOThreadPool

    /// Creates `directory/tmp` and `directory/queue` if needed.
    public init(directory: String, threadPool: NIOThreadPool = .singleton) throws {
        self.directory = directory
        self.threadPool = threadPool
        try DurableFile.makeDirectory(directory)
        try DurableFile.makeDirectory(directory + "/tmp")
        try DurableFile.makeDirectory(directory + "/queue")
    }

    /// Paths of committed entries, oldest first by name (ids sort by arrival time).
    public func committedEntries() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory + "/queue").sorted()
            .map { directory + "/queue/" + $0 }
    }

    public func open(envelope: Envelope, session: SessionContext) async throws -> any MessageWriter {
        let id = SpoolReceiver.makeID()
        let record = SpoolRecord(id: id, envelope: envelope, client: session.remoteAddress?.ipAddress,
                                 helo: session.heloName?.description, tls: session.tls?.version,
                                 authenticatedUser: session.authenticatedUser, session: session.sessionID,
                                 arrival: Date())
        let json = try JSONEncoder().encode(record)
        var header = ByteBuffer(string: "MAILNODE-SPOOL 1 \(json.count)\n")
        header.writeBytes(json)
        header.writeString("\n")
        let tmpPath = directory + "/tmp/" + id
        let headerBytes = header
        let fd = try await threadPool.runIfActive {
            let fd = try DurableFile.create(tmpPath)
            do {
                try headerBytes.withUnsafeReadableBytes { try DurableFile.writeAll(fd, $0, path: tmpPath) }
            } catch {
                DurableFile.closeFile(fd)
                DurableFile.remove(tmpPath)
                throw error
            }
            return fd
        }
        return Writer(spool: self, id: id, fd: fd, tmpPath: tmpPath)
    }

    /// Time-ordered, unique ids: microseconds since 1970 in base 36 plus 8 random characters.
    static func makeID() -> String {
        let micros = UInt64(Date().timeIntervalSince1970 * 1_000_000)
        var generator = SystemRandomNumberGenerator()
        let random = String(generator.next() % 2_821_109_907_456, radix: 36, uppercase: true)   // 36^8
        return String(micros, radix: 36, uppercase: true).leftPadded(to: 12) + random.leftPadded(to: 8)
    }

    final class Writer: MessageWriter {
        let spool: SpoolReceiver
        let id: String
        let fd: Int32
        let tmpPath: String
        /// Set once the descriptor is closed (commit or abort), so it is never closed twice.
        private let finished = NIOLockedValueBox(false)

        init(spool: SpoolReceiver, id: String, fd: Int32, tmpPath: String) {
            self.spool = spool
            self.id = id
            self.fd = fd
            self.tmpPath = tmpPath
        }

        func write(_ chunk: ByteBuffer) async throws {
            let fd = self.fd
            let path = tmpPath
            try await spool.threadPool.runIfActive {
                try chunk.withUnsafeReadableBytes { try DurableFile.writeAll(fd, $0, path: path) }
            }
        }

        func commit(summary: MessageDataSummary) async throws -> CommitResult {
            let fd = self.fd
            let tmpPath = self.tmpPath
            let queueDirectory = spool.directory + "/queue"
            let finalPath = queueDirectory + "/" + id
            finished.withLockedValue { $0 = true }
            try await spool.threadPool.runIfActive {
                defer { DurableFile.closeFile(fd) }
                do {
                    try DurableFile.sync(fd, path: tmpPath)
                    try DurableFile.move(tmpPath, to: finalPath)
                } catch {
                    DurableFile.remove(tmpPath)
                    throw error
                }
                // After the rename the entry exists; its directory entry must reach the disk
                // before we say 250.
                try DurableFile.syncDirectory(queueDirectory)
            }
            return CommitResult(reply: Reply(.ok, .ok, "Queued as \(id)"), queueID: id)
        }

        func abort() async {
            let alreadyFinished = finished.withLockedValue { value -> Bool in
                defer { value = true }
                return value
            }
            guard !alreadyFinished else { return }
            let fd = self.fd
            let tmpPath = self.tmpPath
            _ = try? await spool.threadPool.runIfActive {
                DurableFile.closeFile(fd)
                DurableFile.remove(tmpPath)
            }
        }
    }
}

/// The JSON part of a spool entry.
public struct SpoolRecord: Codable, Sendable, Hashable {
    public var id: String
    public var envelope: Envelope
    public var client: String?
    public var helo: String?
    public var tls: String?
    public var authenticatedUser: String?
    public var session: String
    public var arrival: Date
}
