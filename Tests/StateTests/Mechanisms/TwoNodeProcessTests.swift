import Foundation
import Testing

/// Two `mailnode --role mx` processes sharing one PostgreSQL database: a per-IP connection rate
/// limit (DM11, `[mx.rate] max_connections = 3`) holds across both — the issue's "no lost
/// increments across two nodes on one PostgreSQL" shown with real nodes.
@Suite(.timeLimit(.minutes(3)))
struct TwoNodeProcessTests {
    struct Node {
        let process: Process
        let log: String
        let spool: String

        var output: String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }

        func stop() {
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
            try? FileManager.default.removeItem(atPath: spool)
        }

        /// The port of the start-up line `... listen=[IPv4]127.0.0.1/127.0.0.1:40123 ... mailnode up`.
        func port(timeout: Duration = .seconds(30)) async -> Int? {
            let deadline = ContinuousClock.now + timeout
            while ContinuousClock.now < deadline, process.isRunning {
                for line in output.split(separator: "\n") where line.hasSuffix("mailnode up") {
                    if let field = line.split(separator: " ").first(where: { $0.hasPrefix("listen=") }),
                       let colon = field.lastIndex(of: ":") {
                        return Int(field[field.index(after: colon)...])
                    }
                }
                try? await Task.sleep(for: .milliseconds(50))
            }
            return nil
        }
    }

    /// The `mailnode` executable next to the test bundle (`swift build --build-tests` builds it).
    static func mailnodeBinary() throws -> String {
        var candidates: [String] = []
        if let testBinary = CommandLine.arguments.first {
            var directory = URL(fileURLWithPath: testBinary).deletingLastPathComponent()
            if directory.pathExtension == "xctest" { directory = directory.deletingLastPathComponent() }
            candidates.append(directory.appendingPathComponent("mailnode").path)
        }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        candidates.append(root.appendingPathComponent(".build/debug/mailnode").path)
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw PostgresTestServerUnavailable(description: "the mailnode executable is not built (looked at \(candidates))")
        }
        return found
    }

    static func start(_ name: String, databaseURL: String) throws -> Node {
        let spool = NSTemporaryDirectory() + "mailnode-\(name)-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: spool, withIntermediateDirectories: true)
        let config = spool + "/node.toml"
        try """
            [node]
            hostname = "\(name).test"
            spool = "\(spool)/spool"
            [mx]
            domains = ["d.test"]
            listen = ["127.0.0.1:0"]
            [mx.rate]
            window = 600
            max_connections = 3
            [state]
            backend = "postgres"
            url = "\(databaseURL)"
            """.write(toFile: config, atomically: true, encoding: .utf8)
        let log = spool + "/output.log"
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try mailnodeBinary())
        process.arguments = ["--role", "mx", "--config", config]
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        try process.run()
        return Node(process: process, log: log, spool: spool)
    }

    static func greeting(_ port: Int) async throws -> Int? {
        let client = try await RawClient.connect(port: port)
        defer { Task { await client.close() } }
        return try await client.reply()?.code.rawValue
    }

    @Test func perIPLimitHoldsAcrossTwoProcesses() async throws {
        try await PostgresTestServer.with { server in
            // Trust authentication never asks for the password; it is there to show it is never logged.
            let url = "postgres://\(PostgresTestServer.user):pw-secret@127.0.0.1:\(server.port)/\(server.database)?sslmode=disable"
            let a = try Self.start("node-a", databaseURL: url)
            let b = try Self.start("node-b", databaseURL: url)
            defer { a.stop(); b.stop() }
            let portA = try #require(await a.port(), "node a did not start:\n\(a.output)")
            let portB = try #require(await b.port(), "node b did not start:\n\(b.output)")
            #expect(try await Self.greeting(portA) == 220)
            #expect(try await Self.greeting(portB) == 220)
            #expect(try await Self.greeting(portA) == 220)
            #expect(try await Self.greeting(portB) == 421)   // the 4th connection of 127.0.0.1, counted across both
            #expect(try await Self.greeting(portA) == 421)
            #expect(a.output.contains("mailnode:***@127.0.0.1"), "\(a.output)")
            #expect(!a.output.contains("pw-secret") && !b.output.contains("pw-secret"))
        }
    }
}
