import Foundation
import Testing
@testable import SMTPCore

/// swaks (a real, independent SMTP client) against an in-process listener.
///
/// The swaks on Debian 12 (20201014.0) has no BDAT; CHUNKING is exercised with Python in
/// ``SmtplibInteropTests/bdatChunks()``.
@Suite struct SwaksInteropTests {
    /// What swaks is given. swaks always sends CRLF "." CRLF after the data, so a file that
    /// ends in CRLF would gain an empty line: the file has no final line break, and the server
    /// must receive ``expected``.
    static let message = Array("From: alice@src.test\r\nTo: bob@mx.test\r\nSubject: swaks interop\r\n\r\nHello from swaks.\r\nSecond line.".utf8)
    static let expected = message + Array("\r\n".utf8)

    /// Runs swaks against `port` with the message above and the given extra options.
    /// swaks takes the last of repeated options, so `options` go last and may override.
    static func swaks(port: Int, _ options: [String], message: [UInt8] = message) async throws -> ProcessResult {
        let swaks = try InteropTools.swaks()
        let scratch = try TemporaryDirectory("swaks")
        defer { scratch.remove() }
        let dataFile = try scratch.write("message.eml", message)
        return try await ExternalProcess.run(swaks, [
            "--server", "127.0.0.1", "--port", String(port), "--helo", "client.test",
            "--from", "alice@src.test", "--to", "bob@mx.test", "--timeout", "60",
            "--data", "@" + dataFile,
        ] + options, timeout: .seconds(90))   // hang detectors: a loaded CI run can take tens of seconds
    }

    /// The one message swaks delivered, byte-exact, with the envelope it gave.
    static func expectDelivered(_ server: LiveServer, _ run: ProcessResult) throws -> ReceivedMessage {
        #expect(run.status == 0, "swaks failed:\n\(run)")
        let messages = server.receiver.messages
        try #require(messages.count == 1, "expected one message, got \(messages.count):\n\(run)")
        let received = messages[0]
        #expect(received.sender == "<alice@src.test>")
        #expect(received.recipients == ["<bob@mx.test>"])
        #expect(received.bytes == expected, "received:\n\(received.text)")
        #expect(received.session.heloName == .domain("client.test"))
        return received
    }

    /// swaks's transcript, one trimmed line each (it ends DATA lines with CRLF, others with LF).
    static func transcriptLines(_ output: String) -> [String] {
        output.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
    }

    static func startTLSServer(auth: Bool = false) async throws -> (LiveServer, OneUserAuthenticator) {
        var session = SMTPSessionConfiguration(hostname: "mx.test")
        if auth { session.authMechanisms = ["PLAIN", "LOGIN"] }
        let authenticator = OneUserAuthenticator()
        let server = try await LiveServer(session: session, tls: .startTLS, authenticator: authenticator)
        return (server, authenticator)
    }

    @Test func plain() async throws {
        let server = try await LiveServer()
        let run = try await Self.swaks(port: server.port, [])
        let received = try Self.expectDelivered(server, run)
        #expect(received.session.tls == nil)
        #expect(run.stdout.contains("<-  250 2.0.0"), "\(run)")
        await server.stop()
    }

    @Test func startTLS() async throws {
        let (server, _) = try await Self.startTLSServer()
        let run = try await Self.swaks(port: server.port, ["--tls"])
        let received = try Self.expectDelivered(server, run)
        #expect(received.session.tls != nil, "message was not received over TLS")
        #expect(received.session.tls?.implicit == false)
        #expect(run.stdout.contains(" -> STARTTLS\n<-  220") && run.stdout.contains("=== TLS started"), "\(run)")
        #expect(run.stdout.contains(" ~> EHLO client.test"), "no EHLO after TLS:\n\(run)")
        await server.stop()
    }

    @Test(arguments: ["PLAIN", "LOGIN"])
    func authOverStartTLS(mechanism: String) async throws {
        let (server, authenticator) = try await Self.startTLSServer(auth: true)
        let run = try await Self.swaks(port: server.port, [
            "--tls", "--auth", mechanism, "--auth-user", authenticator.username,
            "--auth-password", authenticator.password,
        ])
        let received = try Self.expectDelivered(server, run)
        #expect(received.session.authenticatedUser == authenticator.username)
        #expect(authenticator.attempts == [.init(username: authenticator.username, accepted: true, overTLS: true)])
        // "~>" / "<~" mark lines swaks sent / read inside TLS.
        #expect(run.stdout.contains(" ~> AUTH \(mechanism)"), "\(run)")
        #expect(run.stdout.contains("<~  235 2.7.0"), "\(run)")
        await server.stop()
    }

    @Test func wrongPasswordIsRefused() async throws {
        let (server, authenticator) = try await Self.startTLSServer(auth: true)
        let run = try await Self.swaks(port: server.port, [
            "--tls", "--auth", "PLAIN", "--auth-user", authenticator.username, "--auth-password", "wrong",
        ])
        #expect(run.status == 28, "swaks should report an AUTH failure (28):\n\(run)")
        #expect(run.stdout.contains("<~* 535 5.7.8"), "\(run)")
        #expect(server.receiver.messages.isEmpty)
        #expect(authenticator.attempts.map(\.accepted) == [false])
        await server.stop()
    }

    /// Without TLS the listener does not offer AUTH; swaks gives up and nothing reaches the
    /// authenticator.
    @Test(arguments: ["PLAIN", "LOGIN"])
    func authRefusedWithoutTLS(mechanism: String) async throws {
        let (server, authenticator) = try await Self.startTLSServer(auth: true)
        let run = try await Self.swaks(port: server.port, [
            "--auth", mechanism, "--auth-user", authenticator.username, "--auth-password", authenticator.password,
        ])
        #expect(run.status != 0, "swaks must not succeed with AUTH over plaintext:\n\(run)")
        #expect(run.stderr.contains("Host did not advertise authentication"), "\(run)")
        #expect(run.stdout.contains("STARTTLS"), "\(run)")
        #expect(!run.stdout.contains("AUTH"),
                "AUTH advertised before TLS:\n\(run)")
        #expect(authenticator.attempts.isEmpty, "credentials reached the authenticator: \(authenticator.attempts)")
        #expect(server.receiver.messages.isEmpty)
        await server.stop()
    }

    @Test func pipelining() async throws {
        let server = try await LiveServer()
        let run = try await Self.swaks(port: server.port, ["--pipeline"])
        _ = try Self.expectDelivered(server, run)
        #expect(run.stdout.contains("250-PIPELINING"), "\(run)")
        // swaks sends MAIL, RCPT and DATA in one write, then reads the three replies.
        let lines = Self.transcriptLines(run.stdout)
        let mail = try #require(lines.firstIndex { $0.hasPrefix("-> MAIL FROM:") }, "\(run)")
        #expect(lines[mail + 1].hasPrefix("-> RCPT TO:"), "not pipelined:\n\(run)")
        #expect(lines[mail + 2] == "-> DATA", "not pipelined:\n\(run)")
        await server.stop()
    }

    /// Lines starting with "." are stuffed by swaks and unstuffed by the server.
    @Test func dotStuffing() async throws {
        let server = try await LiveServer()
        let message = Array("Subject: dots\r\n\r\n.leading dot\r\n..two dots\r\n.\r\nend".utf8)
        let run = try await Self.swaks(port: server.port, [], message: message)
        #expect(run.status == 0, "\(run)")
        let lines = Self.transcriptLines(run.stdout)
        let first = try #require(lines.firstIndex(of: "-> ..leading dot"), "swaks did not stuff:\n\(run)")
        #expect(Array(lines[first...].prefix(3)) == ["-> ..leading dot", "-> ...two dots", "-> .."], "\(run)")
        let received = try #require(server.receiver.messages.first, "\(run)")
        #expect(received.bytes == message + Array("\r\n".utf8), "received:\n\(received.text)")
        await server.stop()
    }

    @Test func implicitTLS() async throws {
        let server = try await LiveServer(tls: .implicit)
        let run = try await Self.swaks(port: server.port, ["--tls-on-connect"])
        let received = try Self.expectDelivered(server, run)
        #expect(received.session.tls?.implicit == true, "session TLS: \(String(describing: received.session.tls))")
        #expect(!run.stdout.contains("-> STARTTLS"), "\(run)")
        await server.stop()
    }

    /// A plaintext client on an implicit-TLS port gets nowhere, and the listener keeps working.
    @Test func plaintextClientOnImplicitTLSPort() async throws {
        let server = try await LiveServer(tls: .implicit)
        // swaks waits for a banner that never comes in cleartext: a short timeout.
        let plain = try await Self.swaks(port: server.port, ["--timeout", "2"])
        #expect(plain.status != 0, "\(plain)")
        #expect(!plain.timedOut, "swaks hung on the implicit-TLS port:\n\(plain)")
        #expect(server.receiver.messages.isEmpty)
        let run = try await Self.swaks(port: server.port, ["--tls-on-connect"])
        _ = try Self.expectDelivered(server, run)
        await server.stop()
    }
}
