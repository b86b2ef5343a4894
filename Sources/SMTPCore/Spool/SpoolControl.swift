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

/// The wire format of the control socket: one JSON line each way; the client closes once it has
/// read its answer, and the node closes after it (or after its request timeout).
///
/// ```
/// C: {"verb":"hold","id":"00HOF3K2M1ZQ4XW7P9AB"}
/// S: {"outcome":{"ids":["00HOF3K2M1ZQ4XW7P9AB"],"message":"00HOF3K2M1ZQ4XW7P9AB: held"}}
/// C: {"verb":"delete","id":"NOSUCHID"}
/// S: {"error":{"notFound":{"_0":"NOSUCHID"}}}
/// ```
public struct SpoolControlResponse: Sendable, Hashable, Codable {
    public var outcome: SpoolAdminOutcome?
    public var error: SpoolAdminError?

    public init(outcome: SpoolAdminOutcome? = nil, error: SpoolAdminError? = nil) {
        self.outcome = outcome
        self.error = error
    }

    /// Largest request line the node reads (octets).
    static let lineLimit = 64 * 1024
    /// Largest answer line the CLI reads (octets). An answer lists the ids it changed: a flush of
    /// 10,000 deferred messages is ~230 KB, so the request limit would make the CLI report a
    /// flush the node did carry out as "unreadable answer".
    static let answerLimit = 64 * 1024 * 1024
}

/// The control socket a running node serves inside its spool: `DIR/control.sock`, mode 0600
/// (only the spool's owner, and root, may connect). `mailnode queue flush|hold|release|delete|bounce`
/// sends its command here, so the node's own ``SpoolRunner`` carries it out and its in-memory
/// schedule agrees with the files at once — the CLI never changes files under a running runner.
///
/// The socket is bound under a temporary name, made 0600, then renamed into place, so there is
/// no moment at which another user could connect; a socket file left by a crashed node is
/// replaced by the rename.
public final class SpoolControlServer: Sendable {
    public let path: String
    let administrator: any SpoolAdministrator
    let group: any EventLoopGroup
    let logger: Logger
    /// A client must send its request line within this time (an idle client cannot pin a task).
    let requestTimeout: TimeAmount

    private typealias Connection = NIOAsyncChannel<ByteBuffer, ByteBuffer>
    private struct Running: Sendable {
        var channel: (any Channel)?
        var task: Task<Void, Never>?
    }
    private let running = NIOLockedValueBox(Running())

    /// `DIR/control.sock` of a spool directory.
    public static func path(spoolDirectory: String) -> String { spoolDirectory + "/control.sock" }

    public init(spoolDirectory: String, administrator: any SpoolAdministrator, group: any EventLoopGroup,
                logger: Logger, requestTimeout: TimeAmount = .seconds(30)) {
        path = Self.path(spoolDirectory: spoolDirectory)
        self.administrator = administrator
        self.group = group
        self.logger = logger
        self.requestTimeout = requestTimeout
    }

    /// Binds the socket and starts answering. The caller holds the spool's ``SpoolLock``.
    public func start() async throws {
        let directory = (path as NSString).deletingLastPathComponent
        let temporary = directory + "/.control.sock.\(getpid()).\(UInt32.random(in: 0 ... .max))"
        let timeout = requestTimeout
        let server = try await ServerBootstrap(group: group)
            .bind(unixDomainSocketPath: temporary, cleanupExistingSocketFile: true) { channel in
                channel.eventLoop.makeCompletedFuture {
                    let connection = try Connection(wrappingChannelSynchronously: channel)
                    let timer = channel.eventLoop.scheduleTask(in: timeout) { channel.close(promise: nil) }
                    return (connection, timer)
                }
            }
        do {
            guard chmod(temporary, 0o600) == 0 else { throw DurableFile.Failure(operation: "chmod", path: temporary, code: errno) }
            try DurableFile.move(temporary, to: path)
        } catch {
            unlink(temporary)
            try? await server.channel.close()
            throw error
        }
        let task = Task {
            do {
                try await server.executeThenClose { inbound in
                    try await withThrowingDiscardingTaskGroup { connections in
                        for try await (connection, timer) in inbound {
                            connections.addTask { await self.serve(connection, timer: timer) }
                        }
                    }
                }
            } catch {
                self.logger.warning("control socket stopped", metadata: ["error": "\(error)"])
            }
        }
        running.withLockedValue { $0 = Running(channel: server.channel, task: task) }
        logger.info("control socket", metadata: ["path": "\(path)"])
    }

    /// Stops accepting, lets commands under way finish, removes the socket file.
    public func stop() async {
        let (channel, task) = running.withLockedValue { state in
            defer { state = Running() }
            return (state.channel, state.task)
        }
        guard let channel else { return }
        try? await channel.close()
        await task?.value
        unlink(path)
    }

    private func serve(_ connection: Connection, timer: Scheduled<Void>) async {
        do {
            try await connection.executeThenClose { inbound, outbound in
                var requests = inbound.makeAsyncIterator()
                var line = ByteBuffer()
                while var chunk = try await requests.next() {
                    line.writeBuffer(&chunk)
                    if line.readableBytesView.contains(UInt8(ascii: "\n")) || line.readableBytes > SpoolControlResponse.lineLimit { break }
                }
                timer.cancel()
                let response: SpoolControlResponse
                if let command = try? JSONDecoder().decode(SpoolAdminCommand.self, from: Data(line.readableBytesView.prefix { $0 != UInt8(ascii: "\n") })) {
                    do {
                        response = SpoolControlResponse(outcome: try await administrator.perform(command))
                    } catch let error as SpoolAdminError {
                        response = SpoolControlResponse(error: error)
                    } catch {
                        response = SpoolControlResponse(error: .failed("\(error)"))
                    }
                } else {
                    response = SpoolControlResponse(error: .failed("unreadable control request"))
                }
                var reply = ByteBuffer(bytes: try JSONEncoder().encode(response))
                reply.writeString("\n")
                try await outbound.write(reply)
                // Closing drops what the channel has not written yet, and a long answer (a flush of
                // a full queue lists every id) outgrows the socket buffer: wait until the client,
                // having read its line, closes — bounded by the request timeout.
                let channel = connection.channel
                let linger = channel.eventLoop.scheduleTask(in: requestTimeout) { channel.close(promise: nil) }
                defer { linger.cancel() }
                while try await requests.next() != nil {}
            }
        } catch {
            logger.debug("control connection ended", metadata: ["error": "\(error)"])
        }
    }
}

/// The CLI's side of the control socket: blocking POSIX calls (a command-line program, or a
/// thread-pool thread through ``request(_:spoolDirectory:timeout:threadPool:)``).
public enum SpoolControlClient {
    /// Why no answer came.
    public enum Failure: Error, Sendable, Hashable, CustomStringConvertible {
        /// No node listens on the socket (no file, or a file left by a node that died).
        case notListening
        /// A node took the command but the exchange broke (or exceeded the timeout).
        case broken(String)

        public var description: String {
            switch self {
            case .notListening: "no node answers on the control socket"
            case .broken(let why): "control socket: \(why)"
            }
        }
    }

    /// Sends `command` to the node serving `DIR/control.sock` and returns its answer. The wait
    /// can be long: a command on an entry being delivered waits for that attempt to finish.
    public static func sendBlocking(_ command: SpoolAdminCommand, spoolDirectory: String,
                                    timeout: Duration = .seconds(900)) throws(Failure) -> SpoolControlResponse {
        let path = SpoolControlServer.path(spoolDirectory: spoolDirectory)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard path.utf8.count < capacity else { throw .broken("\(path): path too long for a Unix socket") }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.initializeMemory(as: UInt8.self, repeating: 0)
            raw.copyBytes(from: path.utf8)
        }
        #if canImport(Glibc) || canImport(Musl)
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let fd = socket(AF_UNIX, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { throw .broken("socket: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard connected == 0 else {
            let code = errno
            if code == ENOENT || code == ECONNREFUSED { throw .notListening }
            throw .broken("connect \(path): \(String(cString: strerror(code)))")
        }
        var limit = timeval(tv_sec: Int(timeout.components.seconds), tv_usec: 0)
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        guard var request = try? JSONEncoder().encode(command) else { throw .broken("cannot encode the request") }
        request.append(UInt8(ascii: "\n"))
        let sent = request.withUnsafeBytes { bytes -> Bool in
            var offset = 0
            while offset < bytes.count {
                let written = send(fd, bytes.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL))
                if written < 0 {
                    if errno == EINTR { continue }
                    return false
                }
                offset += written
            }
            return true
        }
        guard sent else { throw .broken("send: \(String(cString: strerror(errno)))") }
        var answer: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        var complete = false
        while !complete, answer.count <= SpoolControlResponse.answerLimit {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count < 0, errno == EINTR { continue }
            if count < 0 { throw .broken("no answer: \(String(cString: strerror(errno)))") }
            if count == 0 { break }
            complete = buffer[..<count].contains(UInt8(ascii: "\n"))   // only the new bytes: a long answer stays linear
            answer += buffer[..<count]
        }
        guard let response = try? JSONDecoder().decode(SpoolControlResponse.self, from: Data(answer.prefix { $0 != UInt8(ascii: "\n") })) else {
            throw .broken("unreadable answer (\(answer.count) octets)")
        }
        return response
    }

    /// ``sendBlocking(_:spoolDirectory:timeout:)`` on a thread-pool thread, never on an event
    /// loop or the cooperative pool.
    public static func request(_ command: SpoolAdminCommand, spoolDirectory: String, timeout: Duration = .seconds(900),
                            threadPool: NIOThreadPool = .singleton) async throws -> SpoolControlResponse {
        try await threadPool.runIfActive { try sendBlocking(command, spoolDirectory: spoolDirectory, timeout: timeout) }
    }
}
