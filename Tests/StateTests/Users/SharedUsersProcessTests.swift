import Foundation
import Testing

/// Two `mailnode --role submission` processes whose users live in one PostgreSQL database
/// (`state.users = "store"`): a user added with `mailnode users add --config A` logs in at both
/// nodes (Python's smtplib over STARTTLS), a password changed through node B's file is the one
/// both accept — one set of users for several submission nodes.
@Suite(.timeLimit(.minutes(3)))
struct SharedUsersProcessTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    static func configuration(_ name: String, databaseURL: String) throws -> (file: String, spool: String) {
        let spool = NSTemporaryDirectory() + "mailnode-\(name)-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: spool, withIntermediateDirectories: true)
        let file = spool + "/node.toml"
        try """
            [node]
            hostname = "\(name).test"
            spool = "\(spool)/spool"
            [tls]
            certificate = "\(root.appendingPathComponent("Fixtures/tls/server.pem").path)"
            key = "\(root.appendingPathComponent("Fixtures/tls/server.key").path)"
            [submission]
            listen = ["127.0.0.1:0"]
            [hops.next]
            address = "127.0.0.1:9"
            tls = "none"
            [routes]
            "*" = "next"
            [state]
            backend = "postgres"
            url = "\(databaseURL)"
            users = "store"
            """.write(toFile: file, atomically: true, encoding: .utf8)
        return (file, spool)
    }

    /// Runs a process to its end without blocking the pool; its output.
    static func run(_ executable: String, _ arguments: [String], stdin: String? = nil) async throws -> (status: Int32, output: String) {
        let directory = NSTemporaryDirectory() + "mailnode-run-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let out = directory + "/out", input = directory + "/in"
        _ = FileManager.default.createFile(atPath: out, contents: nil)
        _ = FileManager.default.createFile(atPath: input, contents: Data((stdin ?? "").utf8))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: out))
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = try FileHandle(forReadingFrom: URL(fileURLWithPath: input))
        try process.run()
        let deadline = ContinuousClock.now + .seconds(60)
        while process.isRunning, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        while process.isRunning { try await Task.sleep(for: .milliseconds(20)) }
        return (process.terminationStatus, (try? String(contentsOfFile: out, encoding: .utf8)) ?? "")
    }

    static let login = """
        import smtplib, ssl, sys
        for port, password in zip(sys.argv[1::2], sys.argv[2::2]):
            s = smtplib.SMTP("127.0.0.1", int(port), timeout=30)
            s.ehlo("laptop.example")
            context = ssl.create_default_context(); context.check_hostname = False; context.verify_mode = ssl.CERT_NONE
            s.starttls(context=context); s.ehlo("laptop.example")
            try:
                print(s.login("alice@example.test", password)[0])
            except smtplib.SMTPAuthenticationError as error:
                print(error.smtp_code)
            s.quit()
        """

    @Test func oneUserLogsInAtEitherNode() async throws {
        try await PostgresTestServer.with { server in
            let binary = try TwoNodeProcessTests.mailnodeBinary()
            let a = try Self.configuration("a", databaseURL: server.url)
            let b = try Self.configuration("b", databaseURL: server.url)
            let added = try await Self.run(binary, ["users", "add", "alice@example.test", "--config", a.file], stdin: "first pw\n")
            #expect(added.status == 0, "\(added.output)")
            // Nothing went into a users.sqlite file.
            #expect(!FileManager.default.fileExists(atPath: a.spool + "/spool/defenses/users.sqlite"))
            let listed = try await Self.run(binary, ["users", "list", "--config", b.file])
            #expect(listed.output.contains("alice@example.test"), "\(listed.output)")

            var nodes: [TwoNodeProcessTests.Node] = []
            defer { for node in nodes { node.stop() } }
            var ports: [Int] = []
            for (name, config) in [("a", a), ("b", b)] {
                let log = config.spool + "/output.log"
                _ = FileManager.default.createFile(atPath: log, contents: nil)
                let process = Process()
                process.executableURL = URL(fileURLWithPath: binary)
                process.arguments = ["--role", "submission", "--config", config.file]
                let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
                process.standardOutput = handle
                process.standardError = handle
                process.standardInput = FileHandle.nullDevice
                try process.run()
                let node = TwoNodeProcessTests.Node(process: process, log: log, spool: config.spool)
                nodes.append(node)
                ports.append(try #require(await node.port(), "node \(name) did not start:\n\(node.output)"))
            }
            let python = "/usr/bin/python3"
            let first = try await Self.run(python, ["-c", Self.login, "\(ports[0])", "first pw", "\(ports[1])", "first pw", "\(ports[1])", "wrong"])
            #expect(first.output == "235\n235\n535\n", "\(first.output)\n\(nodes.map(\.output).joined(separator: "\n---\n"))")
            // A new password set through node b's file counts at node a at once.
            let changed = try await Self.run(binary, ["users", "passwd", "alice@example.test", "--config", b.file], stdin: "second pw\n")
            #expect(changed.status == 0, "\(changed.output)")
            let second = try await Self.run(python, ["-c", Self.login, "\(ports[0])", "second pw", "\(ports[0])", "first pw"])
            #expect(second.output == "235\n535\n", "\(second.output)")
        }
    }
}
