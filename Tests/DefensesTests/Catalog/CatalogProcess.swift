import Foundation
import Testing

/// Runs the built `mailnode` binary for the catalog and review tests, keeping stdout and stderr
/// apart (the golden files hold stdout only).
enum CatalogProcess {
    static var binary: String { DNSFixtures.root.appendingPathComponent(".build/debug/mailnode").path }

    struct Result: CustomStringConvertible {
        var status: Int32
        var stdout: String
        var stderr: String
        var description: String { "status \(status)\nstdout:\n\(stdout)\nstderr:\n\(stderr)" }
    }

    /// Runs the binary in the package root, polling for its exit instead of blocking a thread.
    static func run(_ arguments: [String]) async throws -> Result {
        try #require(FileManager.default.isExecutableFile(atPath: binary), "build the mailnode binary first (swift build)")
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("mailnode-catalog-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let out = scratch.appendingPathComponent("out"), err = scratch.appendingPathComponent("err")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        process.currentDirectoryURL = DNSFixtures.root
        let outHandle = try FileHandle(forWritingTo: out), errHandle = try FileHandle(forWritingTo: err)
        process.standardOutput = outHandle
        process.standardError = errHandle
        try process.run()
        let deadline = ContinuousClock.now + .seconds(60)
        while process.isRunning, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        if process.isRunning { process.terminate() }
        try outHandle.close()
        try errHandle.close()
        return Result(status: process.terminationStatus,
                      stdout: (try? String(contentsOf: out, encoding: .utf8)) ?? "",
                      stderr: (try? String(contentsOf: err, encoding: .utf8)) ?? "")
    }
}
