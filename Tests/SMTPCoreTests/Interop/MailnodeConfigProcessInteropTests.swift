import Foundation
import Testing
@testable import SMTPCore

/// `mailnode --role mx --config FILE` as a process: bad files stop it with exit code 2 and one
/// line naming file, line and key; a good file runs an mx that forwards to its next hop.
@Suite struct MailnodeConfigProcessInteropTests {
    @Test func badConfigurationExitsWithCode2() async throws {
        let scratch = try TemporaryDirectory("config")
        defer { scratch.remove() }
        let file = try scratch.write("mailnode.toml", Array("[node]\nhostname = \"mx.test\"\n[mx]\ndomains = [\"example.test\"]\nmax_recipients = \"many\"\n".utf8))
        let result = try await ExternalProcess.run(try InteropTools.mailnodeBinary(), ["--role", "mx", "--config", file])
        #expect(result.status == 2, "\(result)")
        #expect(result.stderr.contains("\(file):5: mx.max_recipients: expected an integer, got a string"), "\(result)")
        #expect(!result.stdout.contains("mailnode up"))
    }

    @Test func missingFileAndUnknownRoleExitWithCode2() async throws {
        let binary = try InteropTools.mailnodeBinary()
        let missing = try await ExternalProcess.run(binary, ["--role", "mx", "--config", "/nonexistent/mailnode.toml"])
        #expect(missing.status == 2, "\(missing)")
        #expect(missing.stderr.contains("/nonexistent/mailnode.toml: cannot read the file"))
        let planned = try await ExternalProcess.run(binary, ["--role", "antispam", "--config", "/nonexistent"])
        #expect(planned.status == 2, "\(planned)")
        #expect(planned.stderr.contains("role 'antispam' is not available (planned, not built yet)"))
    }

    @Test func mxFromConfigurationForwardsToItsNextHop() async throws {
        let next = try await LiveServer(session: SMTPSessionConfiguration(hostname: "antivirus.test"))
        let scratch = try TemporaryDirectory("config")
        defer { scratch.remove() }
        let config = """
        [node]
        hostname = "mx.example.test"
        spool = "\(scratch.url.path)/spool"

        [mx]
        listen = ["127.0.0.1:0"]
        domains = ["example.test"]

        [hops.antivirus]
        address = "127.0.0.1:\(next.port)"
        tls = "none"

        [routes]
        "*" = "antivirus"
        """
        let file = try scratch.write("mailnode.toml", Array(config.utf8))
        let node = try RunningProcess(try InteropTools.mailnodeBinary(), ["--role", "mx", "--config", file], in: scratch)
        defer { node.signal(SIGKILL) }
        let port = await node.waitForOutput(timeout: .seconds(15), MailnodeProcessInteropTests.Node.boundPort)
        let boundPort = try #require(port, "\(node.result())")
        let swaks = try await ExternalProcess.run(try InteropTools.swaks(), [
            "--server", "127.0.0.1", "--port", String(boundPort), "--helo", "client.test",
            "--from", "alice@src.test", "--to", "bob@example.test", "--timeout", "30",
        ], timeout: .seconds(20))
        #expect(swaks.status == 0, "\(swaks)")
        // The runner forwards at once; the next hop sees our Received header on top.
        let deadline = ContinuousClock.now + .seconds(15)
        while next.receiver.messages.isEmpty, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        let message = try #require(next.receiver.messages.first, "\(node.result())")
        #expect(message.envelope.recipients.map(\.path.description) == ["<bob@example.test>"])
        #expect(String(buffer: message.data).hasPrefix("Received: from client.test (127.0.0.1)\r\n\tby mx.example.test with ESMTP id "))
        node.signal(SIGTERM)
        #expect(await node.waitForExit(timeout: .seconds(10)))
        await next.stop()
    }
}
