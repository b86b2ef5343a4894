import Foundation
import Testing
@testable import SMTPCore

/// Postfix's load generator `smtp-source` against an in-process listener: every message it
/// sends must arrive, both with a connection per message and with reused connections (`-d`).
@Suite struct SMTPSourceInteropTests {
    static let messages = 200
    static let sessions = 10
    static let payload = 2048

    @Test(arguments: [false, true])
    func allMessagesArrive(reuseConnections: Bool) async throws {
        let smtpSource = try InteropTools.smtpSource()
        let server = try await LiveServer()
        var arguments = ["-c", "-l", String(Self.payload), "-m", String(Self.messages), "-s", String(Self.sessions),
                         "-M", "client.test", "-f", "a@src.test", "-t", "b@mx.test"]
        if reuseConnections { arguments.append("-d") }
        arguments.append("127.0.0.1:\(server.port)")
        let run = try await ExternalProcess.run(smtpSource, arguments, timeout: .seconds(120))
        #expect(run.status == 0 && !run.timedOut, "\(run)")
        #expect(!run.stderr.contains("fatal") && !run.stderr.contains("warning"), "\(run)")
        let received = server.receiver.messages
        #expect(received.count == Self.messages, "received \(received.count) of \(Self.messages):\n\(run)")
        #expect(received.allSatisfy { $0.sender == "<a@src.test>" && $0.recipients == ["<b@mx.test>"] })
        #expect(received.allSatisfy { $0.data.readableBytes >= Self.payload },
                "short messages: \(received.map(\.data.readableBytes).filter { $0 < Self.payload })")
        #expect(received.allSatisfy { $0.session.heloName == .domain("client.test") })
        let connections = Set(received.map(\.session.sessionID)).count
        if reuseConnections {
            #expect(connections <= Self.sessions, "-d should reuse \(Self.sessions) connections, saw \(connections)")
        } else {
            #expect(connections == Self.messages, "one connection per message expected, saw \(connections)")
        }
        await server.stop()
    }
}
