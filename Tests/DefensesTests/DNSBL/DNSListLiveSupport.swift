import Foundation
import Testing

@testable import Defenses

/// Runs `Tests/interop/dns_server.py` over a copy of `Fixtures/dns` with extra zone files and
/// extra `behaviours.conf` lines — for what the shared fixtures cannot say without changing
/// files other tests rely on (a silent name inside a list, a reverse name whose forward look-up
/// does not match).
func withExtendedDNSTestServer<T>(
    extraZones: [String: String] = [:], extraBehaviours: [String] = [], _ body: (DNSTestServer) async throws -> T
) async throws -> T {
    let python = try DNSTestPython.interpreter.get()
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mailnode-dnsx-\(UUID().uuidString)", isDirectory: true)
    let zones = directory.appendingPathComponent("zones", isDirectory: true)
    try FileManager.default.createDirectory(at: zones, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    for file in try FileManager.default.contentsOfDirectory(atPath: DNSFixtures.zones.path) {
        try FileManager.default.copyItem(at: DNSFixtures.zones.appendingPathComponent(file), to: zones.appendingPathComponent(file))
    }
    for (name, text) in extraZones {
        try text.write(to: zones.appendingPathComponent(name), atomically: true, encoding: .utf8)
    }
    let behaviours = zones.appendingPathComponent("behaviours.conf")
    let existing = (try? String(contentsOf: behaviours, encoding: .utf8)) ?? ""
    try (existing + "\n" + extraBehaviours.joined(separator: "\n") + "\n").write(to: behaviours, atomically: true, encoding: .utf8)

    let stdoutURL = directory.appendingPathComponent("stdout")
    let stderrURL = directory.appendingPathComponent("stderr")
    let logURL = directory.appendingPathComponent("queries.log")
    for url in [stdoutURL, stderrURL, logURL] { _ = FileManager.default.createFile(atPath: url.path, contents: nil) }
    let process = Process()
    process.executableURL = python
    process.arguments = [DNSFixtures.serverScript.path, "--zones", zones.path, "--address", "127.0.0.1", "--log", logURL.path]
    process.standardOutput = try FileHandle(forWritingTo: stdoutURL)
    process.standardError = try FileHandle(forWritingTo: stderrURL)
    try process.run()
    let result: Result<T, any Error>
    do {
        var port: UInt16? = nil
        let deadline = ContinuousClock.now + .seconds(15)
        while port == nil {
            let output = (try? String(contentsOf: stdoutURL, encoding: .utf8)) ?? ""
            if let line = output.split(separator: "\n").first(where: { $0.hasPrefix("READY ") }) { port = UInt16(line.dropFirst(6)) }
            if port == nil {
                guard process.isRunning else {
                    let errors = (try? String(contentsOf: stderrURL, encoding: .utf8)) ?? ""
                    throw DNSTestServerUnavailable(description: "dns_server.py exited: \(errors)")
                }
                guard ContinuousClock.now < deadline else { throw DNSTestServerUnavailable(description: "dns_server.py not ready within 15 s") }
                try await Task.sleep(for: .milliseconds(20))
            }
        }
        result = .success(try await body(DNSTestServer(port: port!, logPath: logURL.path)))
    } catch {
        result = .failure(error)
    }
    if process.isRunning {
        process.terminate()
        let deadline = ContinuousClock.now + .seconds(2)
        while process.isRunning, ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(10)) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
    return try result.get()
}
