import Foundation
import NIOCore
import NIOPosix
import Testing
@testable import SMTPCore

/// Real peers for the client tests, started on loopback by the tests themselves.
///
/// Missing tools are a failure naming what to install, never a silent skip.
enum ClientInterop {
    struct SetupError: Error, CustomStringConvertible {
        var description: String
    }

    /// The repository root (this file is Tests/SMTPCoreTests/Client/ClientTestSupport.swift).
    static let repositoryRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    static let sinkScript = repositoryRoot.appendingPathComponent("Tests/interop/client_sink.py").path
    static let smtpSinkPath = "/usr/sbin/smtp-sink"

    /// The probe waits for a Python start-up: on a thread of its own, never the cooperative pool.
    static func requireAiosmtpd() async throws {
        let status = try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Int32, any Error>) in
            Thread.detachNewThread { continuation.resume(with: Result { try run("/usr/bin/env", ["python3", "-c", "import aiosmtpd"]) }) }
        }
        guard status == 0 else {
            throw SetupError(description: "Python aiosmtpd is required for the SMTP client tests: pip install aiosmtpd")
        }
    }

    static func requireSMTPSink() throws {
        guard FileManager.default.isExecutableFile(atPath: smtpSinkPath) else {
            throw SetupError(description: "Postfix smtp-sink is required for the SMTP client tests: apt-get install postfix (\(smtpSinkPath) missing)")
        }
    }

    @discardableResult
    static func run(_ executable: String, _ arguments: [String]) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus
    }

    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("mailnode-client-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// A port nothing listens on right now (bind to 0, read it, close).
    static func freePort() async throws -> Int {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .bind(host: "127.0.0.1", port: 0).get()
        let port = channel.localAddress?.port ?? 0
        try await channel.close()
        return port
    }

    /// A port that refuses connections for as long as the returned socket stays open: bound
    /// (so no other test's server can take it meanwhile) but never listening, so a connect
    /// gets a reset. Close the descriptor with `close(_:)` when done.
    static func deadPort() throws -> (port: Int, socket: Int32) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EMFILE) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else {
            close(fd)
            throw POSIXError(.EADDRINUSE)
        }
        return (Int(UInt16(bigEndian: address.sin_port)), fd)
    }

    /// Binds 127.0.0.1:`port` without listening; nil when that fails (something listens there).
    /// Close the descriptor when done.
    static func bindWithoutListening(port: Int) -> Int32? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        var one: Int32 = 1
        _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        let bound = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        guard bound else {
            close(fd)
            return nil
        }
        return fd
    }

    /// True once something accepts TCP connections on `port`.
    static func accepts(port: Int) async -> Bool {
        do {
            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(.milliseconds(200))
                .connect(host: "127.0.0.1", port: port).get()
            try? await channel.close()
            return true
        } catch {
            return false
        }
    }

    /// A self-signed certificate for `localhost`, generated once per run. No IP SAN: NIOSSL
    /// would accept an IP SAN matching the peer address whatever name the client checks.
    static let certificate: Result<(certificate: String, key: String), SetupError> = {
        do {
            let directory = try temporaryDirectory()
            let certificate = directory.appendingPathComponent("cert.pem").path
            let key = directory.appendingPathComponent("key.pem").path
            let status = try run("/usr/bin/env", [
                "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
                "-keyout", key, "-out", certificate,
            ])
            guard status == 0 else { return .failure(SetupError(description: "openssl req failed (install openssl)")) }
            return .success((certificate, key))
        } catch {
            return .failure(SetupError(description: "cannot run openssl: \(error)"))
        }
    }()
}

/// An external server process; ``stop()`` kills it and removes its files.
final class ClientTestPeer {
    let process: Process
    let port: Int
    let directory: URL

    init(process: Process, port: Int, directory: URL) {
        self.process = process
        self.port = port
        self.directory = directory
    }

    func stop() {
        if process.isRunning {
            // SIGKILL: the test runner may hand SIGTERM down as ignored, and a sink has
            // nothing to clean up (every accepted message is on disk before its reply).
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: directory)
    }

    var log: String {
        (try? String(contentsOf: directory.appendingPathComponent("peer.log"), encoding: .utf8)) ?? ""
    }

    /// Files in the peer's directory with `suffix`, sorted by name.
    func files(withSuffix suffix: String) -> [URL] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { $0.hasSuffix(suffix) }.sorted().map { directory.appendingPathComponent($0) }
    }

    /// The messages an aiosmtpd sink stored: facts (JSON) and raw bytes.
    func receivedMessages() throws -> [(facts: [String: Any], content: [UInt8])] {
        try files(withSuffix: ".json").map { url in
            let facts = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any] ?? [:]
            let eml = url.deletingPathExtension().appendingPathExtension("eml")
            return (facts, Array(try Data(contentsOf: eml)))
        }
    }

    /// Starts `Tests/interop/client_sink.py` (aiosmtpd) with `options`.
    ///
    /// The port is picked here and bound by the peer a moment later; a parallel test's listener or
    /// outgoing connection can take it in between. A peer that dies with "address already in use"
    /// is started again on another port (at most five times).
    static func aiosmtpd(_ options: [String] = []) async throws -> ClientTestPeer {
        try await ClientInterop.requireAiosmtpd()
        var log = ""
        for _ in 0..<5 {
            let port = try await ClientInterop.freePort()
            let directory = try ClientInterop.temporaryDirectory()
            let peer = try launch("/usr/bin/env",
                                  ["python3", ClientInterop.sinkScript, "--port", String(port), "--dir", directory.path] + options,
                                  port: port, directory: directory)
            let ready = directory.appendingPathComponent(".ready").path
            for _ in 0..<300 {
                if FileManager.default.fileExists(atPath: ready) { return peer }
                if !peer.process.isRunning { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            log = peer.log
            peer.stop()
            if !log.lowercased().contains("address already in use") { break }
        }
        throw ClientInterop.SetupError(description: "aiosmtpd sink did not start: \(log)")
    }

    /// Starts Postfix's `smtp-sink` with `options`, dumping each transaction into its directory
    /// (started again on another port when the picked one was taken meanwhile, as for aiosmtpd).
    static func smtpSink(_ options: [String] = []) async throws -> ClientTestPeer {
        try ClientInterop.requireSMTPSink()
        var log = ""
        for _ in 0..<5 {
            let port = try await ClientInterop.freePort()
            let directory = try ClientInterop.temporaryDirectory()
            var arguments = options + ["-d", directory.path + "/%H%M%S."]
            if getuid() == 0 { arguments += ["-u", "root"] }
            arguments += ["127.0.0.1:\(port)", "16"]
            let peer = try launch(ClientInterop.smtpSinkPath, arguments, port: port, directory: directory)
            for _ in 0..<100 {
                if !peer.process.isRunning { break }
                if await ClientInterop.accepts(port: port) {
                    // Something accepts; make sure it is our sink and not a listener that took the port.
                    try await Task.sleep(for: .milliseconds(20))
                    if peer.process.isRunning { return peer }
                    break
                }
                try await Task.sleep(for: .milliseconds(50))
            }
            log = peer.log
            peer.stop()
            if !log.lowercased().contains("address already in use") { break }
        }
        throw ClientInterop.SetupError(description: "smtp-sink did not start: \(log)")
    }

    private static func launch(_ executable: String, _ arguments: [String], port: Int, directory: URL) throws -> ClientTestPeer {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let logURL = directory.appendingPathComponent("peer.log")
        _ = FileManager.default.createFile(atPath: logURL.path, contents: nil)
        let log = try FileHandle(forWritingTo: logURL)
        process.standardOutput = log
        process.standardError = log
        try process.run()
        return ClientTestPeer(process: process, port: port, directory: directory)
    }
}

/// A TCP server in this process that accepts, says `greeting` (or nothing) and answers only
/// what its script says — for timeouts and misbehaving servers.
final class ClientSilentServer {
    let channel: any Channel
    var port: Int { channel.localAddress?.port ?? 0 }

    /// Greets, then answers each received chunk whose text starts with a script key with the
    /// script's canned bytes; anything else is swallowed.
    private final class ScriptedHandler: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let greeting: String?
        let script: [(prefix: String, answer: String)]

        init(greeting: String?, script: [(prefix: String, answer: String)]) {
            self.greeting = greeting
            self.script = script
        }

        func channelActive(context: ChannelHandlerContext) {
            if let greeting {
                context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: greeting)), promise: nil)
            }
            context.fireChannelActive()
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let text = String(buffer: unwrapInboundIn(data)).uppercased()
            if let entry = script.first(where: { text.hasPrefix($0.prefix) }) {
                context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: entry.answer)), promise: nil)
            }
        }
    }

    init(greeting: String? = nil, script: [(prefix: String, answer: String)] = []) async throws {
        channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { child in
                child.eventLoop.makeCompletedFuture {
                    try child.pipeline.syncOperations.addHandler(ScriptedHandler(greeting: greeting, script: script))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
    }

    func stop() async {
        try? await channel.close()
    }
}

// MARK: - Small builders

enum ClientFixtures {
    static func mailbox(_ address: String) -> Mailbox {
        let at = address.lastIndex(of: "@")!
        return Mailbox(localPart: String(address[..<at]), host: .domain(String(address[address.index(after: at)...])))
    }

    static func envelope(from sender: String, to recipients: [String]) -> OutboundEnvelope {
        OutboundEnvelope(sender: .mailbox(mailbox(sender)), recipients: recipients.map { .mailbox(mailbox($0)) })
    }

    static func bytes(_ text: String) -> ByteBuffer { ByteBuffer(string: text) }

    /// Client configuration for loopback tests: short timeouts, no TLS unless asked.
    static func configuration(tls: ClientTLSPolicy = .none, timeout: TimeAmount = .seconds(10)) -> SMTPClientConfiguration {
        var configuration = SMTPClientConfiguration()
        configuration.heloName = .domain("client.test")
        configuration.tls = tls
        configuration.timeouts = .uniform(timeout)
        return configuration
    }

    /// The first call runs `openssl req` (an RSA key generation) inside a `static let`: on a thread
    /// of its own, so that it never blocks the cooperative pool other tests share.
    static func tlsFiles() async throws -> (certificate: String, key: String) {
        let files = try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<[String], any Error>) in
            Thread.detachNewThread {
                continuation.resume(with: Result { try ClientInterop.certificate.get() }.map { [$0.certificate, $0.key] })
            }
        }
        return (files[0], files[1])
    }
}
