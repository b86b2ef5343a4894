import Foundation
import Testing

/// `mailnode users …` as a process: the password from standard input, never printed or listed.
@Suite struct UsersCommandTests {
    @Test func addListPasswdAliasDelete() async throws {
        try CheckCommand.requireBinary()
        let file = NSTemporaryDirectory() + "mailnode-users-cli-\(UUID().uuidString).sqlite"
        defer { try? FileManager.default.removeItem(atPath: file) }
        let binary = CheckCommand.binary
        var (status, output) = try await CheckCommand.run(executable: binary, ["users", "add", "Alice@Example.org", "--alias", "a@example.org",
                                                                               "--directory", file], stdin: "top secret\n")
        #expect(status == 0 && output == "added alice@example.org (aliases: a@example.org)\n", "\(output)")
        (status, output) = try await CheckCommand.run(executable: binary, ["users", "add", "alice@example.org", "--directory", file], stdin: "x\n")
        #expect(status == 2 && output.contains("user alice@example.org exists"), "\(output)")
        (status, output) = try await CheckCommand.run(executable: binary, ["users", "add", "bob@example.org", "--directory", file], stdin: "")
        #expect(status == 2 && output.contains("no password on standard input"), "\(output)")
        (status, output) = try await CheckCommand.run(executable: binary, ["users", "list", "--format", "json", "--directory", file])
        #expect(status == 0, "\(output)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: [[String: Any]]])
        let alice = try #require(object["users"]?.first)
        #expect(alice["name"] as? String == "alice@example.org" && alice["hashMethod"] as? String == "$y$")
        #expect(alice["aliases"] as? [String] == ["a@example.org"])
        #expect(!output.contains("top secret") && !output.contains("$y$j"))   // neither the password nor its hash
        (status, output) = try await CheckCommand.run(executable: binary, ["users", "passwd", "alice@example.org", "--directory", file], stdin: "new one\n")
        #expect(status == 0, "\(output)")
        (status, output) = try await CheckCommand.run(executable: binary, ["users", "alias", "alice@example.org", "--directory", file])
        #expect(status == 0 && output.contains("aliases of alice@example.org: none"), "\(output)")
        (status, output) = try await CheckCommand.run(executable: binary, ["users", "del", "alice@example.org", "--directory", file])
        #expect(status == 0, "\(output)")
        (status, output) = try await CheckCommand.run(executable: binary, ["users", "del", "alice@example.org", "--directory", file])
        #expect(status == 2 && output.contains("no user alice@example.org"), "\(output)")
    }
}
