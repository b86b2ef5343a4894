import Foundation
import Testing

@testable import Defenses

/// Cross-implementation checks against dkimpy (Debian `python3-dkim`, or pip `dkimpy` with
/// `pynacl`), run through `Tests/interop/dkim_tool.py`: 200 varied messages signed by mailnode
/// must verify with dkimpy, and 200 signed by dkimpy must verify with mailnode — RSA-2048 and
/// Ed25519, every c= combination. Both sides fetch the keys from the loopback dnslib server the
/// SPF tests use (dkimpy through dnspython, mailnode through ``LDNSResolver``).
@Suite("DKIM cross-implementation (dkimpy)")
struct DKIMCrossImplementationTests {
    static let count = 200
    static let canonicalizations: [(Canonicalization, Canonicalization)] = [
        (.relaxed, .relaxed), (.simple, .simple), (.relaxed, .simple), (.simple, .relaxed),
    ]
    static let keyFiles = ["2048_testkey.key", "ed25519test.key"]

    /// `example.com` with the two keys as `k0` and `k1`, written into `directory` for the DNS server.
    static func writeZone(in directory: URL) throws -> URL {
        let zones = directory.appendingPathComponent("zones", isDirectory: true)
        try FileManager.default.createDirectory(at: zones, withIntermediateDirectories: true)
        var lines = ["$ORIGIN example.com.", "$TTL 300", "@ 3600 IN SOA ns.example.com. hostmaster.example.com. 1 3600 600 86400 60"]
        for (index, file) in keyFiles.enumerated() {
            let record = try DKIMSigningKey(pem: try DKIMFixtures.text(file)).keyRecord
            lines.append("k\(index)._domainkey TXT \(DKIMFixtures.zoneTXT(record))")
        }
        try (lines.joined(separator: "\n") + "\n").write(to: zones.appendingPathComponent("example.com.zone"), atomically: true, encoding: .utf8)
        return zones
    }

    @Test func mailnodeSignsDkimpyVerifies() async throws {
        let python = try await offThePool { try DKIMPython.interpreter.get() }
        let directory = try DKIMInterop.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let keys = try Self.keyFiles.map { try DKIMSigningKey(pem: try DKIMFixtures.text($0)) }
        var items: [[String: String]] = []
        for index in 0..<Self.count {
            let key = index % 2
            var signer = DKIMSigner(domain: "example.com", selector: "k\(key)", key: keys[key])
            (signer.headerCanonicalization, signer.bodyCanonicalization) = Self.canonicalizations[(index / 2) % 4]
            let message = DKIMMessageGenerator.message(index)
            let signed = try signer.sign(message: message).wireBytes + message
            let path = directory.appendingPathComponent("m\(index).eml")
            try Data(signed).write(to: path)
            items.append(["id": "m\(index)", "in": path.path])
        }
        let output = try await withDNSTestServer(zones: try Self.writeZone(in: directory)) { dns in
            try await DKIMInterop.run(python, ["verify"], manifest: ["dns": "127.0.0.1:\(dns.port)", "items": items], in: directory)
        }
        let results = try JSONDecoder().decode([String: [Bool]].self, from: Data(output.utf8))
        let failures = items.compactMap(\.["id"]).filter { results[$0] != [true] }
        print("DKIM cross-check mailnode→dkimpy: \(Self.count - failures.count)/\(Self.count) verified")
        #expect(failures.isEmpty, "dkimpy did not verify: \(failures.prefix(10)) \(failures.prefix(3).map { results[$0] ?? [] })")
    }

    @Test func dkimpySignsMailnodeVerifies() async throws {
        let python = try await offThePool { try DKIMPython.interpreter.get() }
        let directory = try DKIMInterop.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let algorithms = ["rsa-sha256", "ed25519-sha256"]
        var items: [[String: String]] = []
        for index in 0..<Self.count {
            let key = index % 2
            let (header, body) = Self.canonicalizations[(index / 2) % 4]
            let input = directory.appendingPathComponent("in\(index).eml")
            try Data(DKIMMessageGenerator.message(index)).write(to: input)
            items.append([
                "id": "m\(index)", "in": input.path, "out": directory.appendingPathComponent("out\(index).eml").path,
                "domain": "example.com", "selector": "k\(key)", "algorithm": algorithms[key],
                "key": DKIMFixtures.dkimpy.appendingPathComponent(Self.keyFiles[key]).path,
                "canonicalization": "\(header)/\(body)",
            ])
        }
        _ = try await DKIMInterop.run(python, ["sign"], manifest: ["items": items], in: directory)
        let failures = try await withDNSTestServer(zones: try Self.writeZone(in: directory)) { dns in
            let verifier = DKIMVerifier(resolver: dns.resolver(timeout: .seconds(5), attempts: 2))
            var failures: [String] = []
            for item in items {
                let signed = Array(try Data(contentsOf: URL(fileURLWithPath: item["out"]!)))
                let results = try await verifier.verify(message: signed)
                if results.map(\.result) != [.pass] { failures.append("\(item["id"]!) \(item["canonicalization"]!): \(results)") }
            }
            return failures
        }
        print("DKIM cross-check dkimpy→mailnode: \(Self.count - failures.count)/\(Self.count) verified")
        #expect(failures.isEmpty, "mailnode did not verify: \(failures.prefix(5))")
    }
}

/// Deterministic varied messages: folding, trailing white space, empty and
/// blank bodies, 8-bit bytes, long lines, tabs, a missing final CRLF.
enum DKIMMessageGenerator {
    static func message(_ index: Int) -> [UInt8] {
        var random = SplitMix(seed: UInt64(index) &+ 0x5DEE_CE66)
        var header = "From: Sender \(index) <sender\(index)@example.com>\r\n"
        header += "To: rcpt\(index)@example.org\r\n"
        switch random.next() % 4 {
        case 0: header += "Subject: plain subject \(index)\r\n"
        case 1: header += "Subject: folded\r\n\tsubject line \(index)  \r\n  continued\r\n"
        // (No "Subject :" obsolete form here: dkimpy refuses it as a header syntax error.)
        case 2: header += "Subject:no space\t\tafter colon \t \(index)\r\n"
        default: header += "Subject: caf\u{e9} \u{2014} utf-8 \(index)\r\n"
        }
        header += "Date: Mon, 1 Jan 2024 12:\(String(format: "%02d", index % 60)):00 +0000\r\n"
        header += "Message-ID: <\(index).\(random.next() % 100_000)@example.com>\r\n"
        if random.next() % 3 == 0 { header += "Cc: a@example.net,\r\n    b@example.net\r\n" }
        if random.next() % 2 == 0 { header += "X-Trailing: value with trailing space   \r\n" }
        if random.next() % 4 == 0 { header += "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=iso-8859-1\r\n" }
        var body: [UInt8] = []
        switch random.next() % 8 {
        case 0: break  // empty body
        case 1: body = Array("\r\n\r\n\r\n".utf8)
        case 2: body = Array("line with trailing ws \t \r\n\r\n  \r\nlast\r\n\r\n".utf8)
        case 3: body = Array("8-bit: ".utf8) + [0xE9, 0xE8, 0xFF, 0x80] + Array(" end\r\n".utf8)
        case 4: body = Array(String(repeating: "long line ", count: 120).utf8) + Array("\r\n".utf8)
        case 5: body = Array("no final line end".utf8)
        case 6: body = Array("tabs\tand  spaces \t inside\r\n.leading dot\r\n".utf8)
        default:
            for line in 0..<Int(random.next() % 50) {
                body += Array("line \(line) \(random.next())\(line % 3 == 0 ? "  " : "")\r\n".utf8)
            }
        }
        return Array(header.utf8) + Array("\r\n".utf8) + body
    }

    struct SplitMix {
        var state: UInt64
        init(seed: UInt64) { state = seed }
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }
}

/// Runs `Tests/interop/dkim_tool.py`.
enum DKIMInterop {
    static var script: URL { DNSFixtures.root.appendingPathComponent("Tests/interop/dkim_tool.py") }

    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("mailnode-dkim-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Writes the manifest, runs the tool and returns its standard output; throws on a non-zero exit.
    static func run(_ python: URL, _ arguments: [String], manifest: [String: Any], in directory: URL) async throws -> String {
        let manifestURL = directory.appendingPathComponent("manifest-\(arguments[0]).json")
        try JSONSerialization.data(withJSONObject: manifest).write(to: manifestURL)
        let stdoutURL = directory.appendingPathComponent("stdout-\(arguments[0])")
        let stderrURL = directory.appendingPathComponent("stderr-\(arguments[0])")
        _ = FileManager.default.createFile(atPath: stdoutURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: stderrURL.path, contents: nil)
        let process = Process()
        process.executableURL = python
        process.arguments = [script.path] + arguments + [manifestURL.path]
        process.standardOutput = try FileHandle(forWritingTo: stdoutURL)
        process.standardError = try FileHandle(forWritingTo: stderrURL)
        try process.run()
        // Poll instead of waitUntilExit: no cooperative thread is blocked.
        let deadline = ContinuousClock.now + .seconds(120)
        while process.isRunning && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
        if process.isRunning { process.terminate() }
        let output = try String(contentsOf: stdoutURL, encoding: .utf8)
        guard process.terminationStatus == 0 else {
            throw DNSTestServerUnavailable(description: "dkim_tool.py \(arguments[0]) failed: \((try? String(contentsOf: stderrURL, encoding: .utf8)) ?? "")")
        }
        return output
    }
}

/// A Python that can `import dkim, nacl`: `$MAILNODE_PYTHON`, `/usr/bin/python3` (Debian's
/// `python3-dkim python3-nacl`), or the first `python3` on `$PATH` with dkimpy and pynacl.
enum DKIMPython {
    static let interpreter = PythonInterpreter.find("import dkim, nacl", missing: """
        The DKIM cross-implementation tests need dkimpy with Ed25519 support: \
        apt-get install -y python3-dkim python3-nacl (or pip install dkimpy pynacl; MAILNODE_PYTHON selects the interpreter).
        """)
}
