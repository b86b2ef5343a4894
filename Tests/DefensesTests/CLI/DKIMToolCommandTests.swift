import Foundation
import Testing

@testable import Defenses

/// `mailnode dkim record` and `mailnode dkim bench` as processes.
@Suite struct DKIMToolCommandTests {
    @Test func recordPrintsTheKeyRecordOfAnExistingKey() async throws {
        try CheckCommand.requireBinary()
        let key = DKIMFixtures.dkimpy.appendingPathComponent("2048_testkey.key").path
        let expected = try DKIMSigningKey(pem: try DKIMFixtures.text("2048_testkey.key")).keyRecord
        let bare = try await CheckCommand.run(["dkim", "record", "--key", key])
        #expect(bare.status == 0 && bare.output == expected + "\n")
        let zone = try await CheckCommand.run(["dkim", "record", "--key", key, "--domain", "example.com", "--selector", "s1"])
        #expect(zone.status == 0 && zone.output.hasPrefix("s1._domainkey.example.com. IN TXT ( \"v=DKIM1; k=rsa; p="))
        let half = try await CheckCommand.run(["dkim", "record", "--key", key, "--domain", "example.com"])
        #expect(half.status == 64)
    }

    @Test func benchVerifiesTheSignedMessageRepeatedly() async throws {
        try CheckCommand.requireBinary()
        let directory = try DKIMInterop.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let key = DKIMFixtures.dkimpy.appendingPathComponent("ed25519test.key").path
        let message = String(decoding: DKIMMessageGenerator.message(7), as: UTF8.self)
        let signed = try await CheckCommand.run(executable: CheckCommand.binary,
                                                ["dkim", "sign", "--key", key, "--domain", "bench.test", "--selector", "b"], stdin: message)
        #expect(signed.status == 0)
        let file = directory.appendingPathComponent("signed.eml").path
        try Data(signed.output.utf8).write(to: URL(fileURLWithPath: file))
        let bench = try await CheckCommand.run(["dkim", "bench", "--signed", file, "--key", key, "--seconds", "0.3"])
        #expect(bench.status == 0, "\(bench.output)")
        #expect(bench.output.hasPrefix("algorithm=ed25519-sha256 c=relaxed/relaxed"))
        let count = bench.output.split(separator: " ").first { $0.hasPrefix("verifications=") }.flatMap { Int($0.dropFirst(14)) }
        #expect((count ?? 0) >= 1)
        // A changed message fails, and the bench says so instead of printing a rate.
        try Data(signed.output.replacingOccurrences(of: "From: Sender", with: "From: Intruder").utf8).write(to: URL(fileURLWithPath: file))
        let broken = try await CheckCommand.run(["dkim", "bench", "--signed", file, "--key", key, "--seconds", "0.3"])
        #expect(broken.status == 1 && broken.output.contains("did not pass"))
    }
}
