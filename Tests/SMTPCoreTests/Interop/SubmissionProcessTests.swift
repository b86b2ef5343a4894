import Foundation
import Testing
@testable import SMTPCore

/// `mailnode --role submission` as a process with swaks as the user's mail program: STARTTLS and
/// AUTH required, the user's own addresses only, any destination; the user made with
/// `mailnode users add` (password on stdin).
@Suite(.timeLimit(.minutes(2)))
struct SubmissionProcessTests {
    /// A `mailnode --role submission` process with user alice@example.test (alias info@…, password
    /// "s3cret pw", made with `mailnode users add`) relaying to an in-process next hop.
    final class Node {
        let next: LiveServer
        let scratch: TemporaryDirectory
        let process: RunningProcess
        let port: Int
        private var stopped = false

        /// `submission` is appended to the `[submission]` table (more keys, sub-tables).
        init(_ label: String, submission: String) async throws {
            next = try await LiveServer(session: SMTPSessionConfiguration(hostname: "antivirus.test"))
            scratch = try TemporaryDirectory(label)
            let mailnode = try InteropTools.mailnodeBinary()
            let added = try await ExternalProcess.run(mailnode, ["users", "add", "alice@example.test", "--alias", "info@example.test",
                                                                 "--directory", scratch.path + "/spool/defenses/users.sqlite"],
                                                      stdin: Array("s3cret pw\n".utf8))
            #expect(added.status == 0, "\(added)")
            let config = """
                [node]
                hostname = "submit.example.test"
                spool = "\(scratch.path)/spool"
                [tls]
                certificate = "\(FixturePaths.serverCertificate)"
                key = "\(FixturePaths.serverKey)"
                [hops.antivirus]
                address = "127.0.0.1:\(next.port)"
                tls = "none"
                [routes]
                "*" = "antivirus"
                [submission]
                listen = ["127.0.0.1:0"]
                \(submission)
                """
            let file = try scratch.write("mailnode.toml", Array(config.utf8))
            process = try RunningProcess(mailnode, ["--role", "submission", "--config", file], in: scratch)
            let bound = await process.waitForOutput(timeout: .seconds(15), MailnodeProcessInteropTests.Node.boundPort)
            guard let bound else {
                process.signal(SIGKILL)
                scratch.remove()
                Issue.record("the submission node did not start: \(process.result())")
                throw TestTimeout()
            }
            port = bound
        }

        /// SIGTERM, expecting a clean exit, then the next hop and the directory go.
        func stop() async {
            stopped = true
            process.signal(SIGTERM)
            #expect(await process.waitForExit(timeout: .seconds(10)))
            await next.stop()
            scratch.remove()
        }

        /// For `defer`: nothing is left running if the test failed half-way.
        func kill() {
            guard !stopped else { return }
            process.signal(SIGKILL)
            scratch.remove()
        }
    }

    @Test func authenticatedUsersSendAsThemselvesOnlyOverTLS() async throws {
        let node = try await Node("submission", submission: """
            hide_client_address = true
            [submission.rules]
            reject_body = ["(?i)project nightshade"]
            """)
        defer { node.kill() }
        let (next, port) = (node.next, node.port)
        func swaks(_ options: [String]) async throws -> ProcessResult {
            try await ExternalProcess.run(try InteropTools.swaks(), [
                "--server", "127.0.0.1", "--port", String(port), "--helo", "laptop.example", "--to", "bob@elsewhere.test",
                "--timeout", "30",
            ] + options, timeout: .seconds(40))
        }
        // The user's own address, authenticated over STARTTLS: accepted and relayed to another domain.
        let sent = try await swaks(["--tls", "--auth", "PLAIN", "--auth-user", "alice@example.test", "--auth-password", "s3cret pw",
                                    "--from", "info@example.test"])
        #expect(sent.status == 0, "\(sent)")
        // Without TLS nothing goes: MAIL is refused (and AUTH is not even offered).
        let plaintext = try await swaks(["--from", "alice@example.test"])
        #expect(plaintext.status != 0 && plaintext.stdout.contains("530 5.7.0"), "\(plaintext)")
        #expect(!plaintext.stdout.contains("AUTH PLAIN LOGIN"), "\(plaintext)")
        // TLS but no AUTH: 530 too.
        let anonymous = try await swaks(["--tls", "--from", "alice@example.test"])
        #expect(anonymous.status != 0 && anonymous.stdout.contains("530"), "\(anonymous)")
        // A wrong password: 535.
        let wrong = try await swaks(["--tls", "--auth", "PLAIN", "--auth-user", "alice@example.test", "--auth-password", "guess",
                                     "--from", "alice@example.test"])
        #expect(wrong.status != 0 && wrong.stdout.contains("535 5.7.8"), "\(wrong)")
        // Someone else's address after a good login: 553 5.7.1.
        let forged = try await swaks(["--tls", "--auth", "LOGIN", "--auth-user", "alice@example.test", "--auth-password", "s3cret pw",
                                      "--from", "ceo@example.test"])
        #expect(forged.status != 0 && forged.stdout.contains("553 5.7.1"), "\(forged)")
        // Her own envelope sender but someone else's From: header: refused at the end of DATA, nothing relayed.
        let forgedHeader = try await swaks(["--tls", "--auth", "PLAIN", "--auth-user", "alice@example.test", "--auth-password", "s3cret pw",
                                            "--from", "alice@example.test", "--header", "From: The CEO <ceo@example.test>"])
        #expect(forgedHeader.status != 0 && forgedHeader.stdout.contains("550 5.7.1"), "\(forgedHeader)")
        // DM23 on the users' own mail ([submission.rules]): a forbidden phrase is refused at the end of DATA.
        let ruled = try await swaks(["--tls", "--auth", "PLAIN", "--auth-user", "alice@example.test", "--auth-password", "s3cret pw",
                                     "--from", "alice@example.test", "--header", "From: alice@example.test",
                                     "--body", "About Project Nightshade: see attached"])
        #expect(ruled.status != 0 && ruled.stdout.contains("550 5.7.1"), "\(ruled)")

        let deadline = ContinuousClock.now + .seconds(20)
        while next.receiver.messages.isEmpty, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
        let message = try #require(next.receiver.messages.first, "\(node.process.result())")
        #expect(next.receiver.messages.count == 1)
        #expect(message.envelope.reversePath.description == "<info@example.test>")
        #expect(String(buffer: message.data).contains("with ESMTPSA"))   // TLS and AUTH in the Received field
        #expect(String(buffer: message.data).hasPrefix("Received: from laptop.example (authenticated user)\r\n"))
        #expect(!String(buffer: message.data).contains("127.0.0.1"))   // hide_client_address
        #expect(!node.process.result().description.contains("s3cret"))          // the password is never logged
        await node.stop()
    }

    /// DM19 and DM36 on submission: a logged-in user's recipients at the local domain must exist
    /// (550 5.1.1 now instead of a bounce later); an account that keeps probing local addresses
    /// is cut off (421) — Python's smtplib as the mail program.
    @Test func unknownLocalRecipientsAreRefusedAndProbingIsCutOff() async throws {
        let node = try await Node("submission-rcpt", submission: """
            local_domains = ["example.test"]
            [submission.bad_rcpt]
            free = 1
            delay_step = 0
            disconnect_after = 3
            """)
        defer { node.kill() }
        let port = node.port
        let script = """
            import smtplib, ssl, sys
            s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=30)
            s.ehlo("laptop.example")
            context = ssl.create_default_context(); context.check_hostname = False; context.verify_mode = ssl.CERT_NONE
            s.starttls(context=context); s.ehlo("laptop.example")
            s.login("alice@example.test", "s3cret pw")
            print("MAIL", s.mail("alice@example.test")[0])
            for r in ["info@example.test", "bob@elsewhere.test", "nobody1@example.test", "nobody2@example.test",
                      "nobody3@example.test", "carol@elsewhere.test"]:
                try:
                    code, text = s.rcpt(r)
                    print(r, code, text.decode().split(" ")[0])
                except smtplib.SMTPServerDisconnected:
                    print(r, "disconnected")
                    break
            """
        let result = try await ExternalProcess.run(try InteropTools.python3(), ["-c", script, String(port)], timeout: .seconds(60))
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout == """
            MAIL 250
            info@example.test 250 2.1.5
            bob@elsewhere.test 250 2.1.5
            nobody1@example.test 550 5.1.1
            nobody2@example.test 550 5.1.1
            nobody3@example.test 421 4.7.0
            carol@elsewhere.test disconnected

            """, "\(result)\n\(node.process.result())")
        #expect(node.process.result().description.contains("defense=DM36"))
        await node.stop()
    }

    /// DM05: a client certificate from the users' CA (`submission.client_ca_file`) logs its user in
    /// with AUTH EXTERNAL — no password — and the mail goes; another identity asked for, no
    /// certificate, or a certificate from no trusted CA: refused. Python's smtplib and ssl.
    @Test func clientCertificatesLogInWithAuthExternal() async throws {
        let tls = FixturePaths.root.appendingPathComponent("tls").path
        let node = try await Node("submission-cert", submission: "client_ca_file = \"\(tls)/ca.pem\"")
        defer { node.kill() }
        let (next, port) = (node.next, node.port)
        let script = """
            import base64, smtplib, ssl, sys
            port, tls = int(sys.argv[1]), sys.argv[2]
            def session(name=None):
                s = smtplib.SMTP("127.0.0.1", port, timeout=30)
                s.ehlo("laptop.example")
                context = ssl.create_default_context(); context.check_hostname = False; context.verify_mode = ssl.CERT_NONE
                if name: context.load_cert_chain(tls + "/" + name + ".pem", tls + "/" + name + ".key")
                s.starttls(context=context); s.ehlo("laptop.example")
                return s
            s = session("client-alice")
            print("offered", "EXTERNAL" in s.esmtp_features.get("auth", "").split())
            print("external", s.docmd("AUTH", "EXTERNAL =")[0])
            print("mail", s.mail("info@example.test")[0], s.rcpt("bob@elsewhere.test")[0],
                  s.data(b"Subject: by certificate\\r\\nFrom: alice@example.test\\r\\n\\r\\nhi\\r\\n")[0])
            s.quit()
            s = session("client-alice")
            print("other authzid", s.docmd("AUTH", "EXTERNAL " + base64.b64encode(b"ceo@example.test").decode())[0])
            s.quit()
            s = session()
            print("no certificate", s.docmd("AUTH", "EXTERNAL =")[0], s.mail("alice@example.test")[0])
            s.quit()
            try:
                s = session("client-stranger")
                print("stranger", s.docmd("AUTH", "EXTERNAL =")[0])
            except (ssl.SSLError, smtplib.SMTPServerDisconnected, OSError):
                print("stranger refused")
            """
        let result = try await ExternalProcess.run(try InteropTools.python3(), ["-c", script, String(port), tls], timeout: .seconds(60))
        #expect(result.stdout == """
            offered True
            external 235
            mail 250 250 250
            other authzid 535
            no certificate 535 530
            stranger refused

            """, "\(result)\n\(node.process.result())")
        let deadline = ContinuousClock.now + .seconds(20)
        while next.receiver.messages.isEmpty, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
        #expect(next.receiver.messages.map(\.envelope.reversePath.description) == ["<info@example.test>"])
        #expect(node.process.result().description.contains("result=success") && node.process.result().description.contains("defense=DM05"))
        await node.stop()
    }
}
