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

    @Test func theConfigurationFileNamesTheDirectory() async throws {
        try CheckCommand.requireBinary()
        let directory = NSTemporaryDirectory() + "mailnode-users-config-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let binary = CheckCommand.binary
        let base = "[node]\nhostname = \"mx.test\"\nspool = \"\(directory)/spool\"\n[mx]\ndomains = [\"example.org\"]\n"
        let plain = directory + "/plain.toml"
        try base.write(toFile: plain, atomically: true, encoding: .utf8)
        // Without a users key: <node.spool>/defenses/users.sqlite, the file the roles open.
        var (status, output) = try await CheckCommand.run(executable: binary, ["users", "add", "carol@example.org", "--config", plain], stdin: "pw\n")
        #expect(status == 0, "\(output)")
        #expect(FileManager.default.fileExists(atPath: directory + "/spool/defenses/users.sqlite"))
        // store.users names another file: that one (the --config=FILE spelling too).
        let store = directory + "/store.toml"
        try (base + "[store]\npop3_listen = []\npop3s_listen = []\nusers = \"\(directory)/store-users.sqlite\"\n").write(toFile: store, atomically: true, encoding: .utf8)
        (status, output) = try await CheckCommand.run(executable: binary, ["users", "add", "dave@example.org", "--config=\(store)"], stdin: "pw\n")
        #expect(status == 0, "\(output)")
        (status, output) = try await CheckCommand.run(executable: binary, ["users", "list", "--directory", directory + "/store-users.sqlite"])
        #expect(output.contains("dave@example.org") && !output.contains("carol"), "\(output)")
        // A broken file stops with its file:line message, exit 2.
        let broken = directory + "/broken.toml"
        try (base + "[mx.nonsense]\nx = 1\n").write(toFile: broken, atomically: true, encoding: .utf8)
        (status, output) = try await CheckCommand.run(executable: binary, ["users", "list", "--config", broken])
        #expect(status == 2 && output.contains("broken.toml:"), "\(output)")
    }
}
