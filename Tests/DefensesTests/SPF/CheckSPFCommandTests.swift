import Foundation
import Testing

/// `mailnode check spf` as a process against the dnslib server with Fixtures/dns/spf.zone.
@Suite struct CheckSPFCommandTests {
    static var binary: String {
        DNSFixtures.root.appendingPathComponent(".build/debug/mailnode").path
    }

    /// Runs the binary and returns (exit status, stdout + stderr), polling instead of blocking.
    static func run(_ arguments: [String]) async throws -> (Int32, String) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mailnode-check-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let output = directory.appendingPathComponent("out")
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        let handle = try FileHandle(forWritingTo: output)
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        let deadline = ContinuousClock.now + .seconds(30)
        while process.isRunning, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        if process.isRunning { process.terminate() }
        try handle.close()
        return (process.terminationStatus, (try? String(contentsOf: output, encoding: .utf8)) ?? "")
    }

    @Test func passAndSoftfailOverRealDNS() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.binary), "build the mailnode binary first (swift build)")
        try await withDNSTestServer { server in
            let dns = "127.0.0.1:\(server.port)"
            let (status, text) = try await Self.run(["check", "spf", "--dns", dns, "--ip", "198.51.100.7",
                                                     "--mail-from", "a@partner.spf.test", "--helo", "h.example",
                                                     "--receiver", "mx.test"])
            #expect(status == 0, "\(text)")
            #expect(text.contains("Received-SPF: pass"), "\(text)")
            #expect(text.contains("Authentication-Results: mx.test; spf=pass smtp.mailfrom=partner.spf.test"), "\(text)")
            let (_, outside) = try await Self.run(["check", "spf", "--dns", dns, "--ip", "192.0.2.99",
                                                   "--mail-from", "a@partner.spf.test", "--helo", "h.example"])
            #expect(outside.contains("Received-SPF: softfail"), "\(outside)")
        }
    }

    @Test func badArgumentsAreRefused() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.binary), "build the mailnode binary first (swift build)")
        let (status, text) = try await Self.run(["check", "spf", "--ip", "not-an-ip", "--mail-from", "a@b", "--helo", "h"])
        #expect(status != 0)
        #expect(text.contains("--ip must be an IPv4 or IPv6 address"))
    }
}
