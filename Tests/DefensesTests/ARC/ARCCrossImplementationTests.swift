import Foundation
import Testing

@testable import Defenses

/// ARC against dkimpy's `arc_sign` / `arc_verify` (Debian `python3-dkim`, `python3-authres`),
/// through `Tests/interop/dkim_tool.py`: chains of 1–3 sets sealed by mailnode validate with
/// dkimpy, chains sealed by dkimpy validate with mailnode, and a body changed after sealing fails
/// in both. RSA-2048 only: dkimpy 1.1.4 refuses `a=ed25519-sha256` in ARC fields ("unknown
/// signature algorithm") and its `arc_sign` reads PEM RSA keys only; mailnode's own Ed25519 chains
/// are covered by `ARCVerifierTests`.
@Suite("ARC cross-implementation (dkimpy)")
struct ARCCrossImplementationTests {
    static let count = 100
    static let keyFile = "2048_testkey.key"

    /// The same RSA key under two selectors (k0, k1), so that hops use different key names.
    static func keys() throws -> [DKIMSigningKey] {
        let key = try DKIMSigningKey(pem: try DKIMFixtures.text(keyFile))
        return [key, key]
    }

    @Test func mailnodeSealsDkimpyValidates() async throws {
        let python = try await offThePool { try DKIMPython.interpreter.get() }
        let directory = try DKIMInterop.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let keys = try Self.keys()
        var dns = MockResolver()
        var published: [String: String] = [:]
        for (index, key) in keys.enumerated() {
            for hop in 1...3 {
                published["k\(index)._domainkey.hop\(hop).example"] = key.keyRecord
                dns.addTXT(key.keyRecord, at: "k\(index)._domainkey.hop\(hop).example")
            }
        }
        let verifier = ARCVerifier(resolver: dns)
        var items: [[String: String]] = []
        var expected: [String: String] = [:]
        var ours: [String: ARCChainStatus] = [:]
        for index in 0..<Self.count {
            var message = DKIMMessageGenerator.message(index)
            let hops = 1 + index % 3
            for hop in 1...hops {
                let incoming = try await verifier.verify(message: message)
                let key = (index + hop) % 2
                let sealer = ARCSealer(domain: "hop\(hop).example", selector: "k\(key)", key: keys[key], authservID: "mx.hop\(hop).example")
                let fields = try sealer.seal(
                    message: message, chainValidation: incoming.result,
                    authenticationResults: [AuthenticationResult(method: "spf", result: "pass", properties: [AuthenticationProperty("smtp", "mailfrom", "example.com")]), .arc(incoming)])
                message = fields.flatMap(\.wireBytes) + message
            }
            // Every fifth message is changed after sealing: both sides must say fail.
            let tampered = index % 5 == 4
            if tampered { message += Array("added by a careless relay\r\n".utf8) }
            let path = directory.appendingPathComponent("m\(index).eml")
            try Data(message).write(to: path)
            items.append(["id": "m\(index)", "in": path.path])
            expected["m\(index)"] = tampered ? "fail" : "pass"
            ours["m\(index)"] = try await verifier.verify(message: message).result
        }
        let output = try await DKIMInterop.run(python, ["arc-verify"], manifest: ["keys": published, "items": items], in: directory)
        let results = try JSONDecoder().decode([String: String?].self, from: Data(output.utf8))
        let disagreements = items.compactMap(\.["id"]).filter { (results[$0] ?? nil) != expected[$0] || ours[$0]?.rawValue != expected[$0] }
        let passes = expected.values.filter { $0 == "pass" }.count
        print("ARC cross-check mailnode→dkimpy: \(Self.count - disagreements.count)/\(Self.count) as expected (\(passes) pass, \(Self.count - passes) fail)")
        #expect(disagreements.isEmpty, "\(disagreements.prefix(5).map { "\($0): dkimpy \(String(describing: results[$0] ?? nil)), mailnode \(ours[$0]!)" })")
    }

    @Test func dkimpySealsMailnodeValidates() async throws {
        let python = try await offThePool { try DKIMPython.interpreter.get() }
        let directory = try DKIMInterop.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        var items: [[String: Any]] = []
        for index in 0..<Self.count {
            let key = index % 2
            let input = directory.appendingPathComponent("in\(index).eml")
            try Data(DKIMMessageGenerator.message(index)).write(to: input)
            items.append([
                "id": "m\(index)", "in": input.path, "out": directory.appendingPathComponent("out\(index).eml").path,
                "domain": "forwarder.example", "selector": "k\(key)", "algorithm": "rsa-sha256",
                "key": DKIMFixtures.dkimpy.appendingPathComponent(Self.keyFile).path, "hops": 1 + index % 3,
            ])
        }
        _ = try await DKIMInterop.run(python, ["arc-sign"], manifest: ["items": items], in: directory)
        var dns = MockResolver()
        for (index, key) in try Self.keys().enumerated() { dns.addTXT(key.keyRecord, at: "k\(index)._domainkey.forwarder.example") }
        let verifier = ARCVerifier(resolver: dns)
        var failures: [String] = []
        var tamperedFailures = 0
        for (index, item) in items.enumerated() {
            let sealed = Array(try Data(contentsOf: URL(fileURLWithPath: item["out"] as! String)))
            let result = try await verifier.verify(message: sealed)
            if result.result != .pass || result.instances != 1 + index % 3 || result.oldestPass != 0 {
                failures.append("m\(index) (\(1 + index % 3) hops): \(result.result) \(result.reason ?? "")")
            }
            if try await verifier.verify(message: sealed + Array("x\r\n".utf8)).result == .fail { tamperedFailures += 1 }
        }
        print("ARC cross-check dkimpy→mailnode: \(Self.count - failures.count)/\(Self.count) pass; \(tamperedFailures)/\(Self.count) fail once the body is changed")
        #expect(failures.isEmpty, "\(failures.prefix(5))")
        #expect(tamperedFailures == Self.count)
    }
}
