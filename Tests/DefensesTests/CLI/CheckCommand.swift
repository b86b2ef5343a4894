import Foundation
import Testing

/// Runs the built `mailnode` binary as a process, for the `mailnode check …` tests.
enum CheckCommand {
    static var binary: String {
        DNSFixtures.root.appendingPathComponent(".build/debug/mailnode").path
    }

    /// Fails the test unless the binary exists (`swift build` makes it).
    static func requireBinary() throws {
        try #require(FileManager.default.isExecutableFile(atPath: binary), "build the mailnode binary first (swift build)")
    }

    /// Runs the binary and returns (exit status, stdout + stderr), polling instead of blocking.
    static func run(_ arguments: [String]) async throws -> (status: Int32, output: String) {
        try await run(executable: binary, arguments)
    }

    /// Runs `executable` and returns (exit status, stdout + stderr), polling instead of blocking.
    static func run(executable: String, _ arguments: [String], stdin: String? = nil) async throws -> (status: Int32, output: String) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mailnode-check-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let output = directory.appendingPathComponent("out")
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let handle = try FileHandle(forWritingTo: output)
        process.standardOutput = handle
        process.standardError = handle
        if let stdin {
            let input = directory.appendingPathComponent("in")
            try Data(stdin.utf8).write(to: input)
            process.standardInput = try FileHandle(forReadingFrom: input)
        }
        try process.run()
        let deadline = ContinuousClock.now + .seconds(60)
        while process.isRunning, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        if process.isRunning { process.terminate() }
        try handle.close()
        return (process.terminationStatus, (try? String(contentsOf: output, encoding: .utf8)) ?? "")
    }
}
