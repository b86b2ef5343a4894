import Foundation
import StatePostgres

/// Why a PostgreSQL test cannot run. The tests fail with this message; they never skip: the
/// PostgreSQL backend is only proven against a real server (`.ci/install-deps` installs Debian's
/// `postgresql`).
struct PostgresTestServerUnavailable: Error, CustomStringConvertible {
    var description: String
}

/// A throwaway PostgreSQL database on the test process's one PostgreSQL cluster.
///
/// The cluster (`initdb` in a temporary directory, `pg_ctl start` on a free loopback port, Unix
/// socket in the same directory, trust authentication for the `mailnode` user) is started once,
/// by the first test that needs it; every ``with(_:)`` gets a database of its own on it
/// (`createdb`, dropped afterwards), so tests stay isolated without an `initdb` each — twenty of
/// those on two CI cores starved the socket tests running beside them. A watchdog shell stops
/// the cluster and removes its directory when the test process ends, however it ends.
///
/// PostgreSQL refuses to run as root; when the tests run as root (CI), every server command
/// runs as the `postgres` user through `runuser -u postgres --`.
struct PostgresTestServer: Sendable {
    let cluster: Cluster
    /// This test's own database.
    let database: String

    static let user = "mailnode"

    var port: Int { cluster.port }

    /// The store's configuration for this database (no TLS on loopback).
    var configuration: PostgresStateConfiguration {
        PostgresStateConfiguration(host: "127.0.0.1", port: port, username: Self.user, password: nil,
                                   database: database, tls: .disable, maxConnections: 8)
    }

    var url: String { "postgres://\(Self.user)@127.0.0.1:\(port)/\(database)?sslmode=disable" }

    /// The cluster's log, for failure messages.
    var log: String { cluster.log }

    /// Runs `body` with a fresh database and drops it afterwards, also when `body` throws.
    /// `initdb`, `pg_ctl`, `createdb` and their `waitpid` block: they run on a thread of their
    /// own, never on the cooperative pool (two threads on CI, which every other test shares).
    /// At most ``concurrentDatabases`` tests use the cluster at once.
    static func with<T: Sendable>(_ body: (PostgresTestServer) async throws -> T) async throws -> T {
        let cluster = try await shared.cluster()
        await gate.acquire()
        let server: PostgresTestServer
        do {
            server = try await offThePool { try cluster.createDatabase() }
        } catch {
            await gate.release()
            throw error
        }
        do {
            let result = try await body(server)
            await offThePool { cluster.dropDatabase(server.database) }
            await gate.release()
            return result
        } catch {
            await offThePool { cluster.dropDatabase(server.database) }
            await gate.release()
            throw error
        }
    }

    static let concurrentDatabases = 4
    static let shared = SharedCluster()
    static let gate = Gate(capacity: concurrentDatabases)

    /// Starts the cluster on first use; a failed start is reported to every test that asks.
    actor SharedCluster {
        private var starting: Task<Cluster, any Error>?

        func cluster() async throws -> Cluster {
            if let starting { return try await starting.value }
            let task = Task { try await offThePool { try Cluster.start() } }
            starting = task
            return try await task.value
        }
    }

    /// At most `capacity` holders at a time.
    actor Gate {
        private let capacity: Int
        private var holders = 0
        private var waiting: [CheckedContinuation<Void, Never>] = []

        init(capacity: Int) { self.capacity = capacity }

        func acquire() async {
            guard holders >= capacity else { holders += 1; return }
            await withCheckedContinuation { waiting.append($0) }
        }

        func release() {
            if waiting.isEmpty { holders -= 1 } else { waiting.removeFirst().resume() }
        }
    }

    /// The one cluster of this test process.
    struct Cluster: Sendable {
        let directory: String
        let port: Int
        let binDirectory: String
        let runAsPostgres: Bool

        static func start() throws -> Cluster {
            let bin = try findBinaries()
            let runAsPostgres = getuid() == 0
            let directory = FileManager.default.temporaryDirectory
                .appendingPathComponent("mailnode-pg-\(UUID().uuidString.prefix(8))").path
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            if runAsPostgres {
                try run("/bin/chown", ["postgres:postgres", directory], asPostgres: false)
            }
            let port = try freePort()
            let cluster = Cluster(directory: directory, port: port, binDirectory: bin, runAsPostgres: runAsPostgres)
            do {
                try run("\(bin)/initdb", ["-D", "\(directory)/data", "-U", user, "--auth=trust", "--no-sync", "-E", "UTF8"],
                        asPostgres: runAsPostgres)
                try run("\(bin)/pg_ctl", ["-D", "\(directory)/data", "-l", "\(directory)/server.log", "-w", "-t", "60",
                                          "-o", "-p \(port) -k \(directory) -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200",
                                          "start"], asPostgres: runAsPostgres)
                try cluster.watchTestProcess()
            } catch {
                cluster.stop()
                throw error
            }
            return cluster
        }

        /// A new, empty database owned by ``PostgresTestServer/user``.
        func createDatabase() throws -> PostgresTestServer {
            let name = "t_" + UUID().uuidString.prefix(12).lowercased().replacingOccurrences(of: "-", with: "")
            try run("\(binDirectory)/createdb", ["-h", "127.0.0.1", "-p", "\(port)", "-U", PostgresTestServer.user, name],
                    asPostgres: false)
            return PostgresTestServer(cluster: self, database: name)
        }

        /// Drops a test's database, closing whatever connections it left open.
        func dropDatabase(_ name: String) {
            _ = try? run("\(binDirectory)/dropdb", ["-h", "127.0.0.1", "-p", "\(port)", "-U", PostgresTestServer.user,
                                                   "--force", "--if-exists", name], asPostgres: false)
        }

        /// Leaves a shell behind that stops the cluster and removes its directory once this test
        /// process is gone (there is no end-of-run hook in Swift Testing).
        func watchTestProcess() throws {
            let stop = (runAsPostgres ? "/sbin/runuser -u postgres -- " : "") +
                "'\(binDirectory)/pg_ctl' -D '\(directory)/data' -m immediate -w stop"
            let script = "while kill -0 \(getpid()) 2>/dev/null; do sleep 1; done; \(stop) >/dev/null 2>&1; rm -rf '\(directory)'"
            try spawnDetached("/bin/sh", ["-c", script])
        }

        /// Stops the server at once and removes its directory.
        func stop() {
            _ = try? run("\(binDirectory)/pg_ctl", ["-D", "\(directory)/data", "-m", "immediate", "-w", "stop"],
                         asPostgres: runAsPostgres)
            try? FileManager.default.removeItem(atPath: directory)
        }

        /// The server's log, for failure messages.
        var log: String { (try? String(contentsOfFile: "\(directory)/server.log", encoding: .utf8)) ?? "" }
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

    /// Runs a command to its end with `posix_spawn` and `waitpid`. Foundation's `Process` is not
    /// used: on Linux it learns of the exit through a descriptor the child inherits, and the
    /// server that `pg_ctl start` leaves running inherits it too, so `waitUntilExit` never returns.
    @discardableResult
    static func run(_ executable: String, _ arguments: [String], asPostgres: Bool) throws -> String {
        let argv0 = asPostgres ? "/sbin/runuser" : executable
        let argvStrings = asPostgres ? ["runuser", "-u", "postgres", "--", executable] + arguments : [executable] + arguments
        let outputPath = FileManager.default.temporaryDirectory.appendingPathComponent("mailnode-pg-out-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: outputPath) }

        let pid = try spawn(argv0, argvStrings, output: outputPath, ownProcessGroup: false)
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

    /// Starts a command and does not wait for it (its output goes to /dev/null; its own process
    /// group, so a signal meant for the test run's group does not reach it first).
    static func spawnDetached(_ executable: String, _ arguments: [String]) throws {
        _ = try spawn(executable, [executable] + arguments, output: "/dev/null", ownProcessGroup: true)
    }

    /// `posix_spawn`s `argv` (`argv[0]` by convention the program's name) from `path`: stdin
    /// /dev/null, stdout and stderr to `output`, every other descriptor closed.
    private static func spawn(_ path: String, _ argv: [String], output: String, ownProcessGroup: Bool) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        try closeOtherDescriptors(&actions)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        if ownProcessGroup {
            posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP))
            posix_spawnattr_setpgroup(&attributes, 0)
        }
        let cArgv: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        defer { cArgv.forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, path, &actions, &attributes, cArgv, environ)
        guard spawned == 0 else {
            throw PostgresTestServerUnavailable(description: "cannot start \(path): \(String(cString: strerror(spawned)))")
        }
        return pid
    }

    /// Has the child close every descriptor above stderr before it runs. The cluster outlives
    /// the test that starts it, and a pipe end it inherited from another test's `Process` (its
    /// output, or the descriptor Foundation learns a child's exit through) would keep that
    /// pipe open for the whole run: the other test waits forever. glibc's
    /// `posix_spawn_file_actions_addclosefrom_np` (2.34+) is not in Swift's Glibc module, so it
    /// is looked up by name.
    static func closeOtherDescriptors(_ actions: inout posix_spawn_file_actions_t) throws {
        typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") else {
            throw PostgresTestServerUnavailable(description: "glibc 2.34 or newer is needed (posix_spawn_file_actions_addclosefrom_np)")
        }
        let closeFrom = unsafeBitCast(symbol, to: CloseFrom.self)
        guard closeFrom(&actions, 3) == 0 else {
            throw PostgresTestServerUnavailable(description: "posix_spawn_file_actions_addclosefrom_np failed")
        }
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
