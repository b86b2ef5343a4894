import Foundation
import Testing

@testable import Defenses

/// DKIM over real DNS: keys published by the dnslib test server (the one the SPF tests use), read
/// by ``LDNSResolver``; and the `mailnode dkim sign` / `mailnode check dkim` commands as processes.
@Suite("DKIM over the loopback DNS server and the CLI")
struct DKIMLiveTests {
    static func zone() throws -> String {
        var lines = ["$ORIGIN dkim.test.", "$TTL 300", "@ 3600 IN SOA ns.dkim.test. hostmaster.dkim.test. 1 3600 600 86400 60", "@ NS ns.dkim.test."]
        for (selector, file) in [("rsa", "2048_testkey.key"), ("ed", "ed25519test.key")] {
            let record = try DKIMSigningKey(pem: try DKIMFixtures.text(file)).keyRecord
            lines.append("\(selector)._domainkey TXT \(DKIMFixtures.zoneTXT(record))")
        }
        lines.append("revoked._domainkey TXT \"v=DKIM1; p=\"")
        return lines.joined(separator: "\n") + "\n"
    }

    /// The dnslib server serving only the generated `dkim.test` zone.
    static func withKeyServer(_ body: (DNSTestServer) async throws -> Void) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mailnode-dkimzone-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try zone().write(to: directory.appendingPathComponent("dkim.zone"), atomically: true, encoding: .utf8)
        try await withDNSTestServer(zones: directory, body)
    }

    static let message = Array("From: a@dkim.test\r\nTo: b@example.org\r\nSubject: live\r\n\r\nover real DNS\r\n".utf8)

    @Test func verifiesWithKeysFromRealDNS() async throws {
        try await Self.withKeyServer { server in
            let verifier = DKIMVerifier(resolver: server.resolver())
            for (selector, file) in [("rsa", "2048_testkey.key"), ("ed", "ed25519test.key"), ("revoked", "ed25519test.key"), ("absent", "ed25519test.key")] {
                let signer = DKIMSigner(domain: "dkim.test", selector: selector, key: try DKIMSigningKey(pem: try DKIMFixtures.text(file)))
                let signed = try signer.sign(message: Self.message).wireBytes + Self.message
                let results = try await verifier.verify(message: signed)
                let expected: DKIMResult = ["rsa", "ed"].contains(selector) ? .pass : .permerror
                #expect(results.map(\.result) == [expected], "\(selector): \(results)")
            }
        }
    }

    static var binary: String { DNSFixtures.root.appendingPathComponent(".build/debug/mailnode").path }

    /// Runs the binary with a file as standard input; returns (status, stdout, stderr).
    static func run(_ arguments: [String], input: URL, in directory: URL) async throws -> (Int32, String, String) {
        let out = directory.appendingPathComponent("out-\(UUID().uuidString)")
        let err = directory.appendingPathComponent("err-\(UUID().uuidString)")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        process.standardInput = try FileHandle(forReadingFrom: input)
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        try process.run()
        let deadline = ContinuousClock.now + .seconds(60)
        while process.isRunning, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        if process.isRunning { process.terminate() }
        return (process.terminationStatus, try String(contentsOf: out, encoding: .utf8), try String(contentsOf: err, encoding: .utf8))
    }

    @Test func signAndCheckCommands() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.binary), "build the mailnode binary first (swift build)")
        let directory = try DKIMInterop.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let input = directory.appendingPathComponent("in.eml")
        try Data(Self.message).write(to: input)
        try await Self.withKeyServer { server in
            let dns = "127.0.0.1:\(server.port)"
            let key = DKIMFixtures.dkimpy.appendingPathComponent("ed25519test.key").path
            let (signStatus, signed, signErrors) = try await Self.run(
                ["dkim", "sign", "--key", key, "--domain", "dkim.test", "--selector", "ed"], input: input, in: directory)
            #expect(signStatus == 0, "\(signErrors)")
            #expect(signed.hasPrefix("DKIM-Signature: v=1; a=ed25519-sha256;"))
            let signedURL = directory.appendingPathComponent("signed.eml")
            try signed.write(to: signedURL, atomically: true, encoding: .utf8)

            let (status, report, errors) = try await Self.run(["check", "dkim", "--dns", dns, "--receiver", "mx.test"], input: signedURL, in: directory)
            #expect(status == 0, "\(errors)")
            #expect(report.contains("signature 1: dkim=pass header.d=dkim.test header.s=ed header.a=ed25519-sha256"), "\(report)")
            #expect(report.contains("Authentication-Results: mx.test;"), "\(report)")

            // The unsigned message: dkim=none.
            let (_, none, _) = try await Self.run(["check", "dkim", "--dns", dns], input: input, in: directory)
            #expect(none.contains("dkim=none"), "\(none)")
        }
    }

    @Test(arguments: ["rsa", "ed25519"])
    func keygenWritesTheKeyAndPrintsItsRecord(_ algo: String) async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.binary), "build the mailnode binary first (swift build)")
        let directory = try DKIMInterop.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let keyURL = directory.appendingPathComponent("k.pem")
        let (status, output, errors) = try await Self.run(
            ["dkim", "keygen", "--domain", "example.com", "--selector", "s1", "--algo", algo, "--out", keyURL.path],
            input: URL(fileURLWithPath: "/dev/null"), in: directory)
        #expect(status == 0, "\(errors)")
        let key = try DKIMSigningKey(pem: try String(contentsOf: keyURL, encoding: .utf8))
        let permissions = try FileManager.default.attributesOfItem(atPath: keyURL.path)[.posixPermissions] as? Int
        #expect(permissions == 0o600)
        #expect(output.hasPrefix("s1._domainkey.example.com. IN TXT ( \""))
        // The printed strings joined give the key's record.
        let joined = output.split(separator: "\"").enumerated().filter { $0.offset % 2 == 1 }.map(\.element).joined()
        #expect(joined == key.keyRecord)
        #expect(key.algorithm.keyType.rawValue == algo)
    }
}
