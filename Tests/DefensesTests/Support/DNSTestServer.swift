import Foundation
import NIOPosix
import Testing

@testable import Defenses

/// Paths inside the repository, independent of the working directory.
enum DNSFixtures {
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static var zones: URL { root.appendingPathComponent("Fixtures/dns") }
    static var serverScript: URL { root.appendingPathComponent("Tests/interop/dns_server.py") }
}

/// Why the live DNS tests cannot run; the message names what to install.
struct DNSTestServerUnavailable: Error, CustomStringConvertible {
    var description: String
}

/// A running `Tests/interop/dns_server.py` (dnslib) serving `Fixtures/dns` on a free loopback port,
/// logging every query it receives.
struct DNSTestServer: Sendable {
    let port: UInt16
    let logPath: String

    var address: DNSServerAddress { DNSServerAddress(.v4(IPv4Address("127.0.0.1")!), port: port) }

    /// The test resolvers' own event loop. Not the shared singleton: the test servers' sessions
    /// run their hooks there (DKIM, ARC and smtp-source load tests in a debug build), and a UDP
    /// answer must not wait behind them — the live DNS tests once lost answers that way.
    static let loops = MultiThreadedEventLoopGroup(numberOfThreads: 1)

    /// A resolver that asks only this server. The defaults (5 s, two attempts) are hang bounds for
    /// answers the server does give — the whole suite on two cores once lost 500 ms and 2 s
    /// timeouts; a test that wants a timeout passes its own short one.
    func resolver(
        timeout: Duration = .seconds(5), attempts: Int = 2,
        edns: DNSResolverConfiguration.EDNS? = .init(), adTrust: DNSResolverConfiguration.ADTrust = .loopbackOnly
    ) -> LDNSResolver {
        LDNSResolver(
            configuration: DNSResolverConfiguration(
                nameservers: [address], timeout: timeout, attempts: attempts, edns: edns, adTrust: adTrust),
            eventLoopGroup: Self.loops)
    }

    /// The queries received so far, one per line: `<udp|tcp> <name> <type> <edns size|-> <do|->`.
    func queries() -> [String] {
        guard let text = try? String(contentsOfFile: logPath, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").map(String.init)
    }

    /// The queries received for one name and type (any transport).
    func queries(_ name: String, _ type: String) -> [String] {
        queries().filter {
            let fields = $0.split(separator: " ")
            return fields.count >= 3 && fields[1] == name && fields[2] == type
        }
    }
}

/// Runs `body` with a fresh DNS server over `zones` (the shared `Fixtures/dns` unless a test
/// generates its own) and stops the server afterwards, whatever happens.
/// Fails (never skips) when Python with dnslib is missing.
@discardableResult
func withDNSTestServer<T>(zones: URL = DNSFixtures.zones, _ body: (DNSTestServer) async throws -> T) async throws -> T {
    let python = try await offThePool { try DNSTestPython.interpreter.get() }
    let directory = FileManager.default.temporaryDirectory
        .appendingPathComponent("mailnode-dns-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let logURL = directory.appendingPathComponent("queries.log")
    _ = FileManager.default.createFile(atPath: logURL.path, contents: nil)
    return try await withReadyHelper(python, [
        DNSFixtures.serverScript.path, "--zones", zones.path, "--address", "127.0.0.1", "--log", logURL.path,
    ]) { port in
        try await body(DNSTestServer(port: port, logPath: logURL.path))
    }
}

/// Runs a helper process that prints `READY <port>` on standard output once it listens, calls
/// `body` with the port, and stops the helper afterwards (also when `body` throws). A helper
/// that exits early or is not ready within 60 s (a hang detector, not a timing bound) fails.
func withReadyHelper<T>(_ executable: URL, _ arguments: [String], _ body: (UInt16) async throws -> T) async throws -> T {
    let directory = FileManager.default.temporaryDirectory
        .appendingPathComponent("mailnode-helper-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let stdoutURL = directory.appendingPathComponent("stdout")
    let stderrURL = directory.appendingPathComponent("stderr")
    _ = FileManager.default.createFile(atPath: stdoutURL.path, contents: nil)
    _ = FileManager.default.createFile(atPath: stderrURL.path, contents: nil)

    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    process.standardOutput = try FileHandle(forWritingTo: stdoutURL)
    process.standardError = try FileHandle(forWritingTo: stderrURL)
    try process.run()
    let result: Result<T, any Error>
    do {
        let port = try await waitForReady(process: process, name: arguments.first.map { URL(fileURLWithPath: $0).lastPathComponent } ?? "helper",
                                          stdout: stdoutURL, stderr: stderrURL)
        result = .success(try await body(port))
    } catch {
        result = .failure(error)
    }
    await stop(process)
    return try result.get()
}

/// SIGTERM, then SIGKILL if it is still there after two seconds; waits without blocking a thread.
private func stop(_ process: Process) async {
    guard process.isRunning else { return }
    process.terminate()
    let deadline = ContinuousClock.now + .seconds(2)
    while process.isRunning, ContinuousClock.now < deadline {
        try? await Task.sleep(for: .milliseconds(10))
    }
    if process.isRunning {
        kill(process.processIdentifier, SIGKILL)
    }
}

private func waitForReady(process: Process, name: String, stdout: URL, stderr: URL) async throws -> UInt16 {
    let deadline = ContinuousClock.now + .seconds(60)
    while ContinuousClock.now < deadline {
        let output = (try? String(contentsOf: stdout, encoding: .utf8)) ?? ""
        if let line = output.split(separator: "\n").first(where: { $0.hasPrefix("READY ") }),
            let port = UInt16(line.dropFirst(6))
        {
            return port
        }
        if !process.isRunning {
            let errors = (try? String(contentsOf: stderr, encoding: .utf8)) ?? ""
            throw DNSTestServerUnavailable(description: "\(name) exited (\(process.terminationStatus)): \(errors)")
        }
        try await Task.sleep(for: .milliseconds(20))
    }
    throw DNSTestServerUnavailable(description: "\(name) did not become ready within 60 s")
}

/// The Python that runs the test server: `$MAILNODE_PYTHON`, `/usr/bin/python3` (Debian's, where
/// `python3-dnslib` installs), or the first `python3` on `$PATH` that can import dnslib.
enum DNSTestPython {
    static let interpreter = PythonInterpreter.find("import dnslib", missing: """
        The live DNS tests need Python 3 with dnslib for Tests/interop/dns_server.py: \
        apt-get install -y python3-dnslib (or pip install dnslib; MAILNODE_PYTHON selects the interpreter).
        """)
}

/// A clock for cache tests that moves only when told. `@unchecked Sendable`: `lock` guards `elapsed`.
final class ManualClock: @unchecked Sendable {
    private let lock = NSLock()
    private var elapsed: Duration = .seconds(1000)

    var now: Duration {
        lock.withLock { elapsed }
    }

    func advance(by duration: Duration) {
        lock.withLock { elapsed += duration }
    }
}

/// Counts the questions that reach the wrapped resolver.
actor CountingResolver: DNSResolver {
    let inner: any DNSResolver
    private(set) var questions: [DNSQuestion] = []

    init(_ inner: any DNSResolver) {
        self.inner = inner
    }

    var count: Int { questions.count }

    func resolve(_ question: DNSQuestion) async throws(DNSError) -> DNSResponse {
        questions.append(question)
        return try await inner.resolve(question)
    }
}
