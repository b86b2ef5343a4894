import Foundation
import NIOConcurrencyHelpers
@testable import SMTPCore

/// An external program the interop suites need that is not installed. Thrown, never skipped:
/// CI must notice when a peer disappears from the machine.
struct MissingTool: Error, CustomStringConvertible {
    var description: String
}

/// Locates the real peers (swaks, Postfix's smtp-source, python3 + aiosmtpd) and our own scripts.
enum InteropTools {
    /// Postfix puts its tools in /usr/sbin, which a non-root PATH often lacks.
    private static let fallbackDirectories = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"]

    static func find(_ name: String, install: String) throws -> String {
        let path = ProcessInfo.processInfo.environment["PATH"]?.split(separator: ":").map(String.init) ?? []
        for directory in path + fallbackDirectories {
            let candidate = directory + "/" + name
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        throw MissingTool(description: "\(name) is not installed (searched PATH and /usr/sbin); install it with: \(install)")
    }

    static func swaks() throws -> String { try find("swaks", install: "apt-get install -y swaks") }
    static func smtpSource() throws -> String { try find("smtp-source", install: "apt-get install -y postfix") }
    static func python3() throws -> String { try find("python3", install: "apt-get install -y python3") }

    /// python3 with aiosmtpd importable (the colleague's client tests use it as a peer; the
    /// interop scripts check for it too so a half-provisioned machine fails loudly).
    static func pythonWithAiosmtpd() async throws -> String {
        let python = try python3()
        let probe = try await ExternalProcess.run(python, ["-c", "import aiosmtpd"], timeout: .seconds(20))
        guard probe.status == 0 else {
            throw MissingTool(description: "python3 cannot import aiosmtpd; install it with: apt-get install -y python3-aiosmtpd\n\(probe)")
        }
        return python
    }

    /// `Tests/interop/` in the repository.
    static var scriptsDirectory: URL {
        FixturePaths.root.deletingLastPathComponent().appendingPathComponent("Tests/interop")
    }

    /// The `mailnode` executable built next to the test bundle (`swift build --build-tests` builds it).
    static func mailnodeBinary() throws -> String {
        var candidates: [String] = []
        if let testBinary = CommandLine.arguments.first {
            var directory = URL(fileURLWithPath: testBinary).deletingLastPathComponent()
            // On Linux the test binary is `.build/<config>/mailnodePackageTests.xctest`.
            if directory.pathExtension == "xctest" { directory = directory.deletingLastPathComponent() }
            candidates.append(directory.appendingPathComponent("mailnode").path)
        }
        let buildDirectory = FixturePaths.root.deletingLastPathComponent().appendingPathComponent(".build")
        candidates.append(buildDirectory.appendingPathComponent("debug/mailnode").path)
        for candidate in candidates where FileManager.default.isExecutableFile(atPath: candidate) {
            return candidate
        }
        throw MissingTool(description: "the mailnode executable is not built (looked at \(candidates)); run `swift build --build-tests`")
    }
}

/// What an external program did: exit status and everything it printed.
struct ProcessResult: CustomStringConvertible {
    var command: [String]
    var status: Int32
    var timedOut: Bool
    var stdout: String
    var stderr: String

    var description: String {
        """
        $ \(command.joined(separator: " "))
        exit status \(status)\(timedOut ? " (killed after the timeout)" : "")
        --- stdout ---
        \(stdout)
        --- stderr ---
        \(stderr)
        """
    }
}

/// A scratch directory removed at the end of a test.
struct TemporaryDirectory {
    let url: URL
    var path: String { url.path }

    init(_ label: String = "interop") throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("mailnode-\(label)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    /// Writes `bytes` to `name` inside the directory and returns its path.
    func write(_ name: String, _ bytes: some Sequence<UInt8>) throws -> String {
        let file = url.appendingPathComponent(name)
        try Data(bytes).write(to: file)
        return file.path
    }

    func remove() {
        try? FileManager.default.removeItem(at: url)
    }
}

/// Runs programs with Foundation's `Process`: output goes to files (no pipe can fill up and
/// stall the child), and every run has a deadline after which the child is killed.
enum ExternalProcess {
    static func run(_ executable: String, _ arguments: [String], stdin: [UInt8]? = nil,
                    timeout: Duration = .seconds(20)) async throws -> ProcessResult {
        let scratch = try TemporaryDirectory("process")
        defer { scratch.remove() }
        let running = try RunningProcess(executable, arguments, in: scratch, stdin: stdin)
        let exited = await running.waitForExit(timeout: timeout)
        if !exited {
            running.signal(SIGKILL)
            _ = await running.waitForExit(timeout: .seconds(5))
        }
        return running.result(timedOut: !exited)
    }
}

/// A child process that runs while the test talks to it (the `mailnode` binary).
final class RunningProcess {
    let process = Process()
    let command: [String]
    private let stdoutPath: String
    private let stderrPath: String

    init(_ executable: String, _ arguments: [String], in directory: TemporaryDirectory, stdin: [UInt8]? = nil) throws {
        command = [executable] + arguments
        let label = UUID().uuidString
        stdoutPath = directory.url.appendingPathComponent("\(label).stdout").path
        stderrPath = directory.url.appendingPathComponent("\(label).stderr").path
        _ = FileManager.default.createFile(atPath: stdoutPath, contents: nil)
        _ = FileManager.default.createFile(atPath: stderrPath, contents: nil)
        // The test runner blocks SIGALRM, SIGTERM, SIGINT... and Foundation's Process passes that
        // mask on: swaks's alarm() timeouts would never fire. A one-line Perl shim (perl-base is
        // on every Debian) clears the mask and execs the real program.
        if FileManager.default.isExecutableFile(atPath: RunningProcess.perl) {
            process.executableURL = URL(fileURLWithPath: RunningProcess.perl)
            process.arguments = ["-MPOSIX", "-e", RunningProcess.unblockAndExec, executable] + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = arguments
        }
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: stdoutPath))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: stderrPath))
        if let stdin {
            let inputPath = try directory.write("\(label).stdin", stdin)
            process.standardInput = try FileHandle(forReadingFrom: URL(fileURLWithPath: inputPath))
        } else {
            process.standardInput = FileHandle.nullDevice
        }
        try process.run()
    }

    static let perl = "/usr/bin/perl"
    static let unblockAndExec = #"sigprocmask(SIG_SETMASK, POSIX::SigSet->new) or die "sigprocmask: $!"; "#
        + #"exec { $ARGV[0] } @ARGV or die "exec $ARGV[0]: $!";"#

    var pid: Int32 { process.processIdentifier }
    var isRunning: Bool { process.isRunning }
    var stdout: String { (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "" }
    var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    func signal(_ number: Int32) {
        if process.isRunning { kill(process.processIdentifier, number) }
    }

    /// True when the process exited within `timeout`.
    func waitForExit(timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            if ContinuousClock.now >= deadline { return false }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return true
    }

    /// Polls stdout+stderr until `predicate` finds what it wants (e.g. the bound port).
    func waitForOutput<T>(timeout: Duration, _ predicate: (String) -> T?) async -> T? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let found = predicate(stdout + stderr) { return found }
            if !process.isRunning { return predicate(stdout + stderr) }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return nil
    }

    func result(timedOut: Bool = false) -> ProcessResult {
        ProcessResult(command: command, status: process.isRunning ? -1 : process.terminationStatus,
                      timedOut: timedOut, stdout: stdout, stderr: stderr)
    }

    /// Makes sure nothing outlives the test.
    func kill9() async {
        signal(SIGKILL)
        _ = await waitForExit(timeout: .seconds(5))
    }
}

/// One user with one password; remembers every attempt so tests can check what the server
/// asked it (and that nothing was accepted over plaintext).
final class OneUserAuthenticator: Authenticator {
    struct Attempt: Sendable, Hashable {
        var username: String
        var accepted: Bool
        var overTLS: Bool
    }

    let username: String
    let password: String
    private let log = NIOLockedValueBox<[Attempt]>([])

    init(username: String = "alice", password: String = "s3cret-Pa55") {
        self.username = username
        self.password = password
    }

    var attempts: [Attempt] { log.withLockedValue { $0 } }

    func authenticate(_ credentials: Credentials, session: SessionContext) async -> AuthenticationResult {
        let accepted = credentials.username == username && credentials.password == password
        log.withLockedValue {
            $0.append(Attempt(username: credentials.username, accepted: accepted, overTLS: session.tls != nil))
        }
        return accepted ? .success(identity: username) : .invalidCredentials
    }
}

extension ReceivedMessage {
    var bytes: [UInt8] { Array(data.readableBytesView) }
    var text: String { String(decoding: data.readableBytesView, as: UTF8.self) }
    var sender: String { envelope.reversePath.description }
    var recipients: [String] { envelope.recipients.map(\.path.description) }
}
