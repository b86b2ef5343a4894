import Foundation
import StatePostgres

/// Why a PostgreSQL test cannot run. The tests fail with this message; they never skip: the
/// PostgreSQL backend is only proven against a real server (`.ci/install-deps` installs Debian's
/// `postgresql`).
struct PostgresTestServerUnavailable: Error, CustomStringConvertible {
    var description: String
}

/// A throwaway PostgreSQL cluster: `initdb` in a temporary directory, `pg_ctl start` on a free
/// loopback port (Unix socket in the same directory), trust authentication for the `mailnode`
/// user, removed again by ``stop()``.
///
/// PostgreSQL refuses to run as root; when the tests run as root (CI), every server command
/// runs as the `postgres` user through `runuser -u postgres --`.
struct PostgresTestServer: Sendable {
    let directory: String
    let port: Int
    let binDirectory: String
    let runAsPostgres: Bool

    static let user = "mailnode"
    static let database = "postgres"

    /// The store's configuration for this server (no TLS on loopback).
    var configuration: PostgresStateConfiguration {
        PostgresStateConfiguration(host: "127.0.0.1", port: port, username: Self.user, password: nil,
                                   database: Self.database, tls: .disable, maxConnections: 8)
    }

    var url: String { "postgres://\(Self.user)@127.0.0.1:\(port)/\(Self.database)?sslmode=disable" }

    /// Runs `body` with a fresh server and stops it afterwards, also when `body` throws.
    /// `initdb`, `pg_ctl` and their `waitpid` block for seconds: they run on a thread of their
    /// own, never on the cooperative pool (two threads on CI, which every other test shares).
    /// Cluster start-ups also take turns: a dozen `initdb`s at once loaded the two CI cores enough
    /// to time out unrelated socket tests.
    static func with<T: Sendable>(_ body: (PostgresTestServer) async throws -> T) async throws -> T {
        await startGate.acquire()
        let server: PostgresTestServer
        do {
            server = try await offThePool { try start() }
        } catch {
            await startGate.release()
            throw error
        }
        await startGate.release()
        do {
            let result = try await body(server)
            await offThePool { server.stop() }
            return result
        } catch {
            await offThePool { server.stop() }
            throw error
        }
    }

    static let startGate = StartGate()

    /// One cluster start at a time.
    actor StartGate {
        private var busy = false
        private var waiting: [CheckedContinuation<Void, Never>] = []

        func acquire() async {
            guard busy else { busy = true; return }
            await withCheckedContinuation { waiting.append($0) }
        }

        func release() {
            if waiting.isEmpty { busy = false } else { waiting.removeFirst().resume() }
        }
    }

    /// Runs blocking `work` on a new thread and resumes with its result.
    static func offThePool<R: Sendable>(_ work: @escaping @Sendable () throws -> R) async throws -> R {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread { continuation.resume(with: Result { try work() }) }
        }
    }

    static func offThePool(_ work: @escaping @Sendable () -> Void) async {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                work()
                continuation.resume()
            }
        }
    }

    /// Where `initdb` and `pg_ctl` live: Debian's newest `/usr/lib/postgresql/N/bin`, else `PATH`.
    static func findBinaries() throws -> String {
        let root = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? [])
            .compactMap(Int.init).sorted(by: >)
        for version in versions where FileManager.default.isExecutableFile(atPath: "\(root)/\(version)/bin/initdb") {
            return "\(root)/\(version)/bin"
        }
        for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":")
        where FileManager.default.isExecutableFile(atPath: "\(directory)/initdb") && FileManager.default.isExecutableFile(atPath: "\(directory)/pg_ctl") {
            return String(directory)
        }
        throw PostgresTestServerUnavailable(description: """
            PostgreSQL server binaries (initdb, pg_ctl) not found in /usr/lib/postgresql/*/bin or PATH: \
            install Debian's `postgresql` package (.ci/install-deps does)
            """)
    }

    static func start() throws -> PostgresTestServer {
        let bin = try findBinaries()
        let runAsPostgres = getuid() == 0
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("mailnode-pg-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        if runAsPostgres {
            try run("/bin/chown", ["postgres:postgres", directory], asPostgres: false)
        }
        let port = try freePort()
        let server = PostgresTestServer(directory: directory, port: port, binDirectory: bin, runAsPostgres: runAsPostgres)
        do {
            try run("\(bin)/initdb", ["-D", "\(directory)/data", "-U", user, "--auth=trust", "--no-sync", "-E", "UTF8"],
                    asPostgres: runAsPostgres)
            try run("\(bin)/pg_ctl", ["-D", "\(directory)/data", "-l", "\(directory)/server.log", "-w", "-t", "60",
                                      "-o", "-p \(port) -k \(directory) -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=60",
                                      "start"], asPostgres: runAsPostgres)
        } catch {
            server.stop()
            throw error
        }
        return server
    }

    /// Stops the server at once and removes its directory.
    func stop() {
        _ = try? Self.run("\(binDirectory)/pg_ctl", ["-D", "\(directory)/data", "-m", "immediate", "-w", "stop"],
                      asPostgres: runAsPostgres)
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// The server's log, for failure messages.
    var log: String { (try? String(contentsOfFile: "\(directory)/server.log", encoding: .utf8)) ?? "" }

    /// Runs a command to its end with `posix_spawn` and `waitpid`. Foundation's `Process` is not
    /// used: on Linux it learns of the exit through a descriptor the child inherits, and the
    /// server that `pg_ctl start` leaves running inherits it too, so `waitUntilExit` never returns.
    @discardableResult
    static func run(_ executable: String, _ arguments: [String], asPostgres: Bool) throws -> String {
        let argv0 = asPostgres ? "/sbin/runuser" : executable
        let argvStrings = asPostgres ? ["runuser", "-u", "postgres", "--", executable] + arguments : [executable] + arguments
        let outputPath = FileManager.default.temporaryDirectory.appendingPathComponent("mailnode-pg-out-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: outputPath) }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)

        let argv: [UnsafeMutablePointer<CChar>?] = argvStrings.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, argv0, &actions, nil, argv, environ)
        guard spawned == 0 else {
            throw PostgresTestServerUnavailable(description: "cannot start \(argv0): \(String(cString: strerror(spawned)))")
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0, errno == EINTR {}
        let text = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        let exited = status & 0x7F == 0, code = (status >> 8) & 0xFF
        guard exited, code == 0 else {
            throw PostgresTestServerUnavailable(description: "\(executable) \(arguments.joined(separator: " ")) failed "
                                                + "(status \(status)): \(text)")
        }
        return text
    }

    /// A loopback port nobody listens on right now.
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw PostgresTestServerUnavailable(description: "socket() failed") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        guard bound else { throw PostgresTestServerUnavailable(description: "bind() failed") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
