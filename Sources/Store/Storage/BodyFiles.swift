#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// A POSIX call that failed, with the path and errno (ENOSPC and EDQUOT map to `452 4.3.1`).
public struct StoreFileError: Error, Sendable, CustomStringConvertible {
    public let operation: String
    public let path: String
    public let code: Int32
    public var description: String { "\(operation) \(path): \(String(cString: strerror(code)))" }
    public var isDiskFull: Bool { code == ENOSPC || code == EDQUOT }
}

/// The body files of a store directory:
///
/// ```
/// tmp/ID          bodies being received (removed at start)
/// messages/XY/ID  durable bodies (XY: the id's last two characters, 1,296 directories)
/// ```
/// A body becomes durable by write → fsync → rename → fsync(directory), before the database
/// transaction that files it into mailboxes; a crash in between leaves an unreferenced file
/// that ``SQLiteMailboxStore/sweep()`` removes at start. Blocking calls run on NIO's thread pool.
struct BodyFiles: Sendable {
    let root: String
    let threadPool: NIOThreadPool

    var tmpDirectory: String { root + "/tmp" }
    var messagesDirectory: String { root + "/messages" }

    func directory(of id: String) -> String { messagesDirectory + "/" + String(id.suffix(2)) }
    func path(of id: String) -> String { directory(of: id) + "/" + id }

    func prepare() throws {
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        for directory in [tmpDirectory, messagesDirectory] { try Self.makeDirectory(directory) }
    }

    /// Time-ordered unique ids: microseconds since 1970 and 8 random characters, base 36.
    static func makeID() -> String {
        let micros = UInt64(Date().timeIntervalSince1970 * 1_000_000)
        var generator = SystemRandomNumberGenerator()
        let random = String(generator.next() % 2_821_109_907_456, radix: 36, uppercase: true)
        func pad(_ text: String, _ width: Int) -> String { String(repeating: "0", count: max(0, width - text.count)) + text }
        return pad(String(micros, radix: 36, uppercase: true), 12) + pad(random, 8)
    }

    // MARK: - POSIX, with the durability steps spelled out

    static func makeDirectory(_ path: String) throws(StoreFileError) {
        if mkdir(path, 0o750) != 0, errno != EEXIST { throw StoreFileError(operation: "mkdir", path: path, code: errno) }
    }

    static func create(_ path: String) throws(StoreFileError) -> Int32 {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw StoreFileError(operation: "open", path: path, code: errno) }
        return fd
    }

    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws(StoreFileError) {
        var offset = 0
        while offset < bytes.count {
            let written = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                throw StoreFileError(operation: "write", path: path, code: errno)
            }
            offset += written
        }
    }

    static func sync(_ fd: Int32, path: String) throws(StoreFileError) {
        guard fsync(fd) == 0 else { throw StoreFileError(operation: "fsync", path: path, code: errno) }
    }

    static func syncDirectory(_ path: String) throws(StoreFileError) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw StoreFileError(operation: "open", path: path, code: errno) }
        defer { _ = close(fd) }
        guard fsync(fd) == 0 else { throw StoreFileError(operation: "fsync", path: path, code: errno) }
    }

    static func move(_ from: String, to: String) throws(StoreFileError) {
        guard rename(from, to) == 0 else { throw StoreFileError(operation: "rename", path: to, code: errno) }
    }

    static func remove(_ path: String) { _ = unlink(path) }

    static func closeFile(_ fd: Int32) { _ = close(fd) }
}

/// One body being received into `tmp/`, moved to `messages/` by ``finish()``. Methods are called
/// one at a time (``BodyWriter``); the lock only makes the class `Sendable`.
final class FileBodyWriter: BodyWriter {
    let files: BodyFiles
    let id: String
    let tmpPath: String
    /// Pending bytes are written once this many have arrived (and at the end).
    static let flushThreshold = 256 * 1024

    private struct State {
        var fd: Int32?
        var pending = ByteBuffer()
        var size = 0
        var finished = false
    }
    private let state = NIOLockedValueBox(State())

    init(files: BodyFiles) {
        self.files = files
        id = BodyFiles.makeID()
        tmpPath = files.tmpDirectory + "/" + id
    }

    func write(_ chunk: ByteBuffer) async throws {
        var chunk = chunk
        let flush = state.withLockedValue { state -> (fd: Int32?, bytes: ByteBuffer)? in
            state.size += chunk.readableBytes
            state.pending.writeBuffer(&chunk)
            guard state.pending.readableBytes >= Self.flushThreshold else { return nil }
            defer { state.pending = ByteBuffer() }
            return (state.fd, state.pending)
        }
        guard let flush else { return }
        let path = tmpPath
        let fd = try await files.threadPool.runIfActive { () throws -> Int32 in
            let fd = try flush.fd ?? BodyFiles.create(path)
            try flush.bytes.withUnsafeReadableBytes { try BodyFiles.writeAll(fd, $0, path: path) }
            return fd
        }
        state.withLockedValue { $0.fd = fd }
    }

    func finish() async throws -> StagedBody {
        let (fd, pending, size) = state.withLockedValue { state in
            state.finished = true
            return (state.fd, state.pending, state.size)
        }
        let tmpPath = self.tmpPath
        let directory = files.directory(of: id)
        let finalPath = files.path(of: id)
        try await files.threadPool.runIfActive {
            let fd = try fd ?? BodyFiles.create(tmpPath)
            defer { _ = close(fd) }
            do {
                try pending.withUnsafeReadableBytes { try BodyFiles.writeAll(fd, $0, path: tmpPath) }
                try BodyFiles.sync(fd, path: tmpPath)
                try BodyFiles.makeDirectory(directory)
                try BodyFiles.move(tmpPath, to: finalPath)
            } catch {
                BodyFiles.remove(tmpPath)
                throw error
            }
            try BodyFiles.syncDirectory(directory)
        }
        return StagedBody(id: id, size: size)
    }

    func abort() async {
        let open = state.withLockedValue { state -> (Bool, Int32?) in
            defer { state.finished = true }
            return (!state.finished, state.fd)
        }
        guard open.0 else { return }
        let tmpPath = self.tmpPath
        _ = try? await files.threadPool.runIfActive {
            if let fd = open.1 { _ = close(fd) }
            BodyFiles.remove(tmpPath)
        }
    }
}
