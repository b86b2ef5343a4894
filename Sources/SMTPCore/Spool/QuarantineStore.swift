import Foundation
import NIOCore
import NIOPosix

/// Messages held instead of delivered (the antivirus stage's `action = "quarantine"`, later
/// stages too): durable, listed, released or deleted by an operator (`mailnode quarantine …`),
/// purged after a retention time. A held message is never delivered and never bounced.
///
/// ```
/// <spool>/quarantine/held/ID.eml      the message bytes as received
/// <spool>/quarantine/held/ID.json     its QuarantineRecord (written last: it makes the entry)
/// <spool>/quarantine/released/QID     marker: spool entry QID was released into queue/ by
///                                     `mailnode quarantine release`; a running node adopts it
/// <spool>/quarantine/released.log     one line per release: time, id, queue id, who
/// ```
/// Files are written like spool entries: write, fsync, rename, fsync the directory — before the
/// stage answers 250. (Spool entries that could not be parsed at recovery stay where they were,
/// directly in `quarantine/`, with a `.reason` file; they are not listed here.)
public final class QuarantineStore: Sendable {
    /// The spool directory this quarantine belongs to.
    public let spoolDirectory: String
    let threadPool: NIOThreadPool

    public var heldDirectory: String { spoolDirectory + "/quarantine/held" }
    public var releasedDirectory: String { spoolDirectory + "/quarantine/released" }
    var releaseLog: String { spoolDirectory + "/quarantine/released.log" }

    /// Errors an operator sees (`mailnode quarantine show NOPE`).
    public enum Failure: Error, Sendable, Hashable, CustomStringConvertible {
        case badID(String)
        case notFound(String)
        case unreadable(String, String)

        public var description: String {
            switch self {
            case .badID(let id): "'\(id)' is not a quarantine id"
            case .notFound(let id): "\(id): no such quarantined message"
            case .unreadable(let id, let why): "\(id): unreadable (\(why))"
            }
        }
    }

    /// Creates the directories when missing.
    public init(spoolDirectory: String, threadPool: NIOThreadPool = .singleton) throws {
        self.spoolDirectory = spoolDirectory
        self.threadPool = threadPool
        try FileManager.default.createDirectory(atPath: spoolDirectory + "/quarantine/held", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: spoolDirectory + "/quarantine/released", withIntermediateDirectories: true)
    }

    /// True for names `SpoolStore.makeID()` produces (no path can be smuggled in).
    public static func isValidID(_ id: String) -> Bool {
        !id.isEmpty && id.count <= 40 && id.unicodeScalars.allSatisfy { ("0"..."9").contains($0) || ("A"..."Z").contains($0) }
    }

    // MARK: - Holding

    /// Stores the message and its record durably (both files fsynced, then the directory).
    public func hold(_ record: QuarantineRecord, message: ByteBuffer) async throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        let json = try encoder.encode(record)
        let directory = heldDirectory
        let id = record.id
        guard Self.isValidID(id) else { throw Failure.badID(id) }
        try await threadPool.runIfActive {
            try message.withUnsafeReadableBytes { try Self.writeDurably($0, to: directory + "/" + id + ".eml", syncDirectory: nil) }
            try json.withUnsafeBytes { try Self.writeDurably($0, to: directory + "/" + id + ".json", syncDirectory: directory) }
        }
    }

    /// Write to a hidden temporary name, fsync, rename; fsync `syncDirectory` when given.
    static func writeDurably(_ bytes: UnsafeRawBufferPointer, to path: String, syncDirectory: String?) throws {
        let directory = (path as NSString).deletingLastPathComponent
        let tmp = directory + "/." + (path as NSString).lastPathComponent + ".tmp"
        DurableFile.remove(tmp)
        let fd = try DurableFile.create(tmp)
        do {
            defer { DurableFile.closeFile(fd) }
            try DurableFile.writeAll(fd, bytes, path: tmp)
            try DurableFile.sync(fd, path: tmp)
        } catch {
            DurableFile.remove(tmp)
            throw error
        }
        try DurableFile.move(tmp, to: path)
        if let syncDirectory { try DurableFile.syncDirectory(syncDirectory) }
    }

    // MARK: - Reading (blocking; for the CLI and the node's maintenance task off the event loops)

    /// Every held message, oldest first, and the ids whose record could not be read.
    public func list() throws -> (records: [QuarantineRecord], problems: [(id: String, reason: String)]) {
        let names = try FileManager.default.contentsOfDirectory(atPath: heldDirectory).sorted()
        var records: [QuarantineRecord] = []
        var problems: [(id: String, reason: String)] = []
        for name in names where name.hasSuffix(".json") && !name.hasPrefix(".") {
            let id = String(name.dropLast(5))
            do {
                records.append(try record(id))
            } catch {
                problems.append((id, "\(error)"))
            }
        }
        return (records, problems)
    }

    public func record(_ id: String) throws -> QuarantineRecord {
        guard Self.isValidID(id) else { throw Failure.badID(id) }
        guard let data = FileManager.default.contents(atPath: heldDirectory + "/" + id + ".json") else { throw Failure.notFound(id) }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        do {
            return try decoder.decode(QuarantineRecord.self, from: data)
        } catch {
            throw Failure.unreadable(id, "\(error)")
        }
    }

    /// The held message's bytes.
    public func message(_ id: String) throws -> Data {
        guard Self.isValidID(id) else { throw Failure.badID(id) }
        guard let data = FileManager.default.contents(atPath: heldDirectory + "/" + id + ".eml") else { throw Failure.notFound(id) }
        return data
    }

    /// Removes a held message (record first: a crash leaves at most an orphaned `.eml`).
    public func delete(_ id: String) throws {
        _ = try record(id)
        DurableFile.remove(heldDirectory + "/" + id + ".json")
        DurableFile.remove(heldDirectory + "/" + id + ".eml")
        try DurableFile.syncDirectory(heldDirectory)
    }

    /// Deletes every message quarantined before `date`; returns their ids.
    @discardableResult
    public func purge(olderThan date: Date) throws -> [String] {
        let (records, _) = try list()
        var removed: [String] = []
        for record in records where record.time < date {
            try delete(record.id)
            removed.append(record.id)
        }
        return removed
    }

    // MARK: - Releasing

    /// Re-injects a held message into `spool`'s queue (no scan again: it goes to the next hop),
    /// leaves a marker a running node picks up (``takeReleaseMarkers()``), logs `who` and when in
    /// `quarantine/released.log`, then removes it from the quarantine. Returns the new spool entry.
    ///
    /// A crash after the injection and before the removal leaves the message in both places; a
    /// second release would then send it twice.
    public func release(_ id: String, into spool: SpoolStore, by who: String, now: Date = Date()) async throws -> SpoolEntry {
        let record = try record(id)
        let bytes = try message(id)
        let entry = try await spool.inject(envelope: record.envelope, message: ByteBuffer(bytes: bytes), session: "quarantine-release")
        let marker = releasedDirectory + "/" + entry.id
        let releasedDirectory = self.releasedDirectory
        let line = "\(ISO8601DateFormatter().string(from: now)) released \(id) as \(entry.id) by \(who) (\(record.reason))\n"
        let log = releaseLog
        try await threadPool.runIfActive {
            try [UInt8]().withUnsafeBytes { try Self.writeDurably($0, to: marker, syncDirectory: releasedDirectory) }
            Self.append(line, to: log)
            try self.delete(id)
        }
        return entry
    }

    static func append(_ line: String, to path: String) {
        if !FileManager.default.fileExists(atPath: path) { _ = FileManager.default.createFile(atPath: path, contents: nil) }
        guard let handle = FileHandle(forWritingAtPath: path) else { return }
        defer { try? handle.close() }
        _ = try? handle.seekToEnd()
        try? handle.write(contentsOf: Data(line.utf8))
        try? handle.synchronize()
    }

    /// Spool ids released since the last call (markers removed as they are returned).
    public func takeReleaseMarkers() -> [String] {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: releasedDirectory)) ?? []).filter(Self.isValidID).sorted()
        for name in names { DurableFile.remove(releasedDirectory + "/" + name) }
        return names
    }
}
