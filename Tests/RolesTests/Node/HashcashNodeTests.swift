import Foundation
import Logging
import NIOCore
import NIOPosix
import Roles
import SMTPCore
import Testing

/// DM26 on a node built from its file (`[mx.hashcash]`, action `require`): postage minted by the
/// hashcash tool (Debian `hashcash`) lets a message in, the same stamp on another message does
/// not, and unpaid mail gets `550 5.7.1`; the spent stamp is remembered in the SQLite state file.
@Suite(.timeLimit(.minutes(2)))
struct HashcashNodeTests {
    static func mint(_ resource: String, bits: Int) async throws -> String {
        guard let tool = ["/usr/bin/hashcash", "/usr/local/bin/hashcash"].first(where: FileManager.default.isExecutableFile(atPath:)) else {
            throw ToolMissing()
        }
        return try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(with: Result {
                    let process = Process()
                    process.executableURL = URL(fileURLWithPath: tool)
                    process.arguments = ["-m", "-q", "-b", "\(bits)", "-r", resource]
                    let out = Pipe()
                    process.standardOutput = out
                    try process.run()
                    let data = out.fileHandleForReading.readDataToEndOfFile()
                    process.waitUntilExit()
                    return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
                })
            }
        }
    }

    struct ToolMissing: Error, CustomStringConvertible {
        var description: String { "hashcash is not installed (.ci/install-deps installs it)" }
    }

    /// One message to u@d.test (StatefulDefensesNodeTests' client).
    static func send(port: Int, _ message: String) async -> Reply? {
        await StatefulDefensesNodeTests.deliver(port: port, to: "u", message: message)
    }

    @Test func requiredPostageFromTheHashcashTool() async throws {
        let spool = NSTemporaryDirectory() + "mailnode-hashcash-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: spool) }
        let text = """
            [node]
            hostname = "mx.test"
            spool = "\(spool)"
            [mx]
            domains = ["d.test"]
            listen = ["127.0.0.1:0"]
            [mx.hashcash]
            bits = 16
            action = "require"
            """
        let node = try MailNode(configuration: try NodeConfiguration(toml: text, file: "node.toml"),
                                group: MultiThreadedEventLoopGroup.singleton, logger: Logger(label: "test"))
        let port = try await node.start()[0].port!
        let stamp = try await Self.mint("u@d.test", bits: 16)
        let unpaid = await Self.send(port: port, "Subject: no postage\r\n\r\nbody\r\n")
        #expect(unpaid?.code.rawValue == 550 && unpaid?.enhancedCode == EnhancedStatusCode(5, 7, 1), "\(String(describing: unpaid))")
        let cheap = try await Self.mint("u@d.test", bits: 8)
        #expect(await Self.send(port: port, "Subject: cheap\r\nX-Hashcash: \(cheap)\r\n\r\nbody\r\n")?.code.rawValue == 550,
                "8 bits where 16 are asked")
        let paid = await Self.send(port: port, "Subject: paid\r\nX-Hashcash: \(stamp)\r\n\r\nbody\r\n")
        #expect(paid?.code.rawValue == 250, "\(String(describing: paid))")
        #expect(await Self.send(port: port, "Subject: again\r\nX-Hashcash: \(stamp)\r\n\r\nbody\r\n")?.code.rawValue == 550,
                "a spent stamp")
        let ids = try node.spool.committedIDs()
        #expect(ids.count == 1)
        let id = try #require(ids.first)
        var stored: [UInt8] = []
        for try await chunk in node.spool.message(of: try node.spool.committedEntry(id)) { stored += chunk.readableBytesView }
        let message = String(decoding: stored, as: UTF8.self)
        #expect(message.contains("X-Mailnode-Hashcash: pass; paid=1/1; bits=16\r\n"), "\(message)")
        #expect(message.contains("X-Hashcash: \(stamp)\r\n"))
        await node.shutdown()
        #expect(FileManager.default.fileExists(atPath: spool + "/defenses/state.sqlite"))
    }
}
