import Foundation
import Testing
@testable import SMTPCore

/// Python's `smtplib` (through `Tests/interop/server_smtplib.py`) against an in-process listener.
@Suite struct SmtplibInteropTests {
    /// Runs one mode of the script; its last stdout line is a JSON summary.
    static func smtplib(_ mode: String, port: Int, _ arguments: [String] = []) async throws -> (ProcessResult, [String: Any]) {
        let python = try await InteropTools.pythonWithAiosmtpd()
        let script = InteropTools.scriptsDirectory.appendingPathComponent("server_smtplib.py").path
        let run = try await ExternalProcess.run(python, [script, mode, "--port", String(port)] + arguments,
                                                timeout: .seconds(20))
        let last = run.stdout.split(separator: "\n").last.map(String.init) ?? ""
        let summary = (try? JSONSerialization.jsonObject(with: Data(last.utf8))) as? [String: Any] ?? [:]
        return (run, summary)
    }

    @Test func plainSendmail() async throws {
        let server = try await LiveServer()
        let scratch = try TemporaryDirectory("smtplib")
        defer { scratch.remove() }
        let message = Array("From: alice@src.test\r\nTo: bob@mx.test\r\nSubject: smtplib\r\n\r\nbody line\r\n".utf8)
        let (run, summary) = try await Self.smtplib("plain", port: server.port,
                                                    ["--message", try scratch.write("m.eml", message)])
        #expect(run.status == 0, "\(run)")
        let received = try #require(server.receiver.messages.first, "\(run)")
        #expect(server.receiver.messages.count == 1)
        #expect(received.sender == "<alice@src.test>")
        #expect(received.recipients == ["<bob@mx.test>"])
        #expect(received.bytes == message, "received:\n\(received.text)")
        let features = summary["features"] as? [String] ?? []
        for wanted in ["8bitmime", "pipelining", "size", "enhancedstatuscodes", "chunking", "smtputf8"] {
            #expect(features.contains(wanted), "EHLO lacks \(wanted): \(features)")
        }
        await server.stop()
    }

    /// Lines that start with "." survive stuffing by smtplib and unstuffing by the server,
    /// byte for byte, including a line that is only "." and one that is "..".
    @Test func dotStuffingRoundTrip() async throws {
        let server = try await LiveServer()
        let scratch = try TemporaryDirectory("smtplib")
        defer { scratch.remove() }
        let message = Array("Subject: dots\r\n\r\n.\r\n..\r\n.hidden\r\n...three\r\n. space\r\nend.\r\n.".utf8) + Array("\r\n".utf8)
        let (run, _) = try await Self.smtplib("plain", port: server.port, ["--message", try scratch.write("m.eml", message)])
        #expect(run.status == 0, "\(run)")
        #expect(run.stderr.contains("..hidden"), "smtplib did not stuff the dots:\n\(run)")
        let received = try #require(server.receiver.messages.first, "\(run)")
        #expect(received.bytes == message, "received:\n\(received.text.debugDescription)")
        await server.stop()
    }

    @Test(arguments: [nil, "PLAIN", "LOGIN"])
    func startTLSAndLogin(mechanism: String?) async throws {
        var session = SMTPSessionConfiguration(hostname: "mx.test")
        session.authMechanisms = ["PLAIN", "LOGIN"]
        let authenticator = OneUserAuthenticator()
        let server = try await LiveServer(session: session, tls: .startTLS, authenticator: authenticator)
        let scratch = try TemporaryDirectory("smtplib")
        defer { scratch.remove() }
        let message = Array("Subject: tls\r\n\r\nover TLS\r\n".utf8)
        var arguments = ["--message", try scratch.write("m.eml", message),
                         "--user", authenticator.username, "--password", authenticator.password]
        if let mechanism { arguments += ["--mechanism", mechanism] }
        let (run, summary) = try await Self.smtplib("starttls", port: server.port, arguments)
        #expect(run.status == 0, "\(run)")
        #expect(summary["starttls"] as? Int == 220, "\(run)")
        #expect(summary["auth"] as? Int == 235, "\(run)")
        #expect((summary["before"] as? [String])?.contains("starttls") == true, "\(run)")
        #expect((summary["after"] as? [String])?.contains("starttls") == false, "STARTTLS offered again after TLS:\n\(run)")
        let received = try #require(server.receiver.messages.first, "\(run)")
        #expect(received.bytes == message)
        #expect(received.session.tls != nil)
        #expect(received.session.authenticatedUser == authenticator.username)
        #expect(authenticator.attempts == [.init(username: authenticator.username, accepted: true, overTLS: true)])
        await server.stop()
    }

    /// A client that sends AUTH in cleartext anyway is refused before its credentials are checked.
    @Test func authInCleartextIsRefused() async throws {
        var session = SMTPSessionConfiguration(hostname: "mx.test")
        session.authMechanisms = ["PLAIN", "LOGIN"]
        let authenticator = OneUserAuthenticator()
        let server = try await LiveServer(session: session, tls: .startTLS, authenticator: authenticator)
        let (run, summary) = try await Self.smtplib("auth-plain-text", port: server.port,
                                                    ["--user", authenticator.username, "--password", authenticator.password])
        #expect(run.status == 0, "the server did not refuse AUTH over cleartext:\n\(run)")
        let code = summary["auth"] as? Int ?? 0
        #expect((500..<600).contains(code), "AUTH over cleartext got \(code):\n\(run)")
        #expect(summary["noop"] as? Int == 250, "session unusable after the refusal:\n\(run)")
        #expect(authenticator.attempts.isEmpty, "credentials reached the authenticator: \(authenticator.attempts)")
        await server.stop()
    }

    /// `send_message` with non-ASCII local parts and domains: the server gets the UTF-8 envelope
    /// (SMTPUTF8 on MAIL) and the message bytes exactly as smtplib produced them.
    @Test func sendMessageWithSMTPUTF8() async throws {
        try await Self.sendMessageWithSMTPUTF8(explicitOption: false)
    }

    /// The same with `mail_options=["SMTPUTF8"]`, which makes smtplib (3.11) send the keyword
    /// twice (`MAIL FROM:<jörg@bücher.example> size=291 SMTPUTF8 SMTPUTF8 BODY=8BITMIME`);
    /// identical repeats are tolerated, as Postfix does.
    @Test func sendMessageWithExplicitSMTPUTF8Option() async throws {
        try await Self.sendMessageWithSMTPUTF8(explicitOption: true)
    }

    static func sendMessageWithSMTPUTF8(explicitOption: Bool) async throws {
        let server = try await LiveServer()
        defer { Task { await server.stop() } }
        let scratch = try TemporaryDirectory("smtplib")
        defer { scratch.remove() }
        let expectedPath = scratch.url.appendingPathComponent("expected.eml").path
        let (run, _) = try await Self.smtplib("smtputf8", port: server.port,
                                              ["--expected", expectedPath] + (explicitOption ? ["--explicit"] : []))
        #expect(run.status == 0, "\(run)")
        let received = try #require(server.receiver.messages.first, "\(run)")
        #expect(received.envelope.parameters.smtpUTF8, "MAIL without SMTPUTF8:\n\(run)")
        #expect(received.envelope.reversePath.mailbox == Mailbox(localPart: "jörg", host: .domain("bücher.example")),
                "reverse path: \(received.envelope.reversePath)")
        #expect(received.envelope.recipients.map(\.path.mailbox)
                == [Mailbox(localPart: "δοκιμή", host: .domain("παράδειγμα.δοκιμή"))],
                "recipients: \(received.recipients)")
        let expected = try [UInt8](Data(contentsOf: URL(fileURLWithPath: expectedPath)))
        #expect(received.bytes == expected, "received:\n\(received.text)")
        #expect(received.text.contains("Subject: Grüße aus Köln\r\n"))
        #expect(received.text.contains("\r\n.Zeile mit Punkt.\r\n"))
    }

    /// CHUNKING (RFC 3030) by hand over smtplib's socket (swaks 20201014 cannot send BDAT).
    /// BDAT data is taken literally: no dot-unstuffing, and "CRLF.CRLF" inside a chunk ends nothing.
    @Test func bdatChunks() async throws {
        let server = try await LiveServer()
        let scratch = try TemporaryDirectory("smtplib")
        defer { scratch.remove() }
        let chunks = [
            Array("Subject: chunked\r\n\r\nfirst chunk\r\n.\r\n..not stuffed\r\n".utf8),
            Array("second chunk, split mid-li".utf8),
            Array("ne\r\nlast\r\n".utf8),
        ]
        var arguments: [String] = []
        for (index, chunk) in chunks.enumerated() { arguments += ["--chunk", try scratch.write("c\(index)", chunk)] }
        let (run, summary) = try await Self.smtplib("bdat", port: server.port, arguments)
        #expect(run.status == 0, "\(run)")
        #expect((summary["bdat"] as? [[Any]])?.map { $0.first as? Int } == [250, 250, 250], "\(run)")
        #expect(server.receiver.messages.count == 1, "\(run)")
        let received = try #require(server.receiver.messages.first, "\(run)")
        #expect(received.bytes == chunks.flatMap { $0 }, "received:\n\(received.text.debugDescription)")
        await server.stop()
    }

    /// BODY=BINARYMIME over BDAT: arbitrary octets, bare CR and LF included, arrive unchanged.
    @Test func bdatBinaryMIME() async throws {
        let server = try await LiveServer()
        let scratch = try TemporaryDirectory("smtplib")
        defer { scratch.remove() }
        let header = Array("Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n".utf8)
        let body: [UInt8] = (0...255).map { UInt8($0) } + Array("\n.\n\r.\r\r\n.\r\n".utf8)
        let (run, _) = try await Self.smtplib("bdat", port: server.port, [
            "--body", "BINARYMIME", "--chunk", try scratch.write("h", header), "--chunk", try scratch.write("b", body),
        ])
        #expect(run.status == 0, "\(run)")
        let received = try #require(server.receiver.messages.first, "\(run)")
        #expect(received.envelope.parameters.body == .binaryMIME)
        #expect(received.bytes == header + body)
        await server.stop()
    }
}
