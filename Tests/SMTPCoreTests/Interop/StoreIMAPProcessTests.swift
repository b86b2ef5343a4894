import Foundation
import Testing
@testable import SMTPCore

/// `mailnode --role store` as a process, read with Python's imaplib (Tests/interop/imap_client.py)
/// over implicit TLS and STARTTLS with the test CA verified, mail delivered with smtplib.LMTP:
/// login, LIST with SPECIAL-USE, SELECT, FETCH BODYSTRUCTURE of a multipart message, whole,
/// partial and section fetches byte-identical, flags, SEARCH, APPEND, COPY/MOVE with UIDPLUS,
/// EXPUNGE, RENAME, GETQUOTAROOT, IDLE receiving EXISTS when LMTP delivers; and on the plain
/// port no credentials before STARTTLS and malformed commands answered BAD on a session that goes on;
/// curl's IMAP client as a second one.
@Suite(.timeLimit(.minutes(3)))
struct StoreIMAPProcessTests {
    /// The ports of the start-up line `... listen=A:1,B:2,C:3 ... mailnode up`: LMTP, IMAP (STARTTLS), IMAPS.
    static func boundPorts(_ log: String) -> [Int]? {
        for line in log.split(separator: "\n") where line.hasSuffix("mailnode up") {
            guard let field = line.split(separator: " ").first(where: { $0.hasPrefix("listen=") }) else { continue }
            let ports = field.dropFirst("listen=".count).split(separator: ",").compactMap { address in
                address.lastIndex(of: ":").flatMap { Int(address[address.index(after: $0)...]) }
            }
            return ports.count == 3 ? ports : nil
        }
        return nil
    }

    static let multipart = """
        From: "Sender, S." <sender@example.net>\r
        To: alice@example.test\r
        Subject: multipart test\r
        Message-ID: <m1@example.net>\r
        MIME-Version: 1.0\r
        Content-Type: multipart/mixed; boundary="XYZ"\r
        \r
        preamble\r
        --XYZ\r
        Content-Type: text/plain; charset=utf-8\r
        \r
        Hello Alice,\r
        .a line with a leading dot\r
        --XYZ\r
        Content-Type: application/octet-stream; name="a.bin"\r
        Content-Disposition: attachment; filename="a.bin"\r
        Content-Transfer-Encoding: base64\r
        \r
        YXR0YWNobWVudC1tYXJrZXI=\r
        --XYZ--\r

        """

    static func decoded(_ value: Any?) -> [UInt8] { [UInt8](Data(base64Encoded: value as? String ?? "") ?? Data()) }

    @Test func imapOverTLSAndSTARTTLS() async throws {
        let scratch = try TemporaryDirectory("store-imap")
        defer { scratch.remove() }
        let mailnode = try InteropTools.mailnodeBinary()
        let users = scratch.path + "/spool/defenses/users.sqlite"
        let added = try await ExternalProcess.run(mailnode, ["users", "add", "alice@example.test", "--directory", users],
                                                  stdin: Array("imap pw 1\n".utf8))
        #expect(added.status == 0, "\(added)")
        let config = """
            [node]
            hostname = "store.example.test"
            spool = "\(scratch.path)/spool"
            [tls]
            certificate = "\(FixturePaths.serverCertificate)"
            key = "\(FixturePaths.serverKey)"
            [store]
            listen = "127.0.0.1:0"
            pop3_listen = []
            pop3s_listen = []
            imap_listen = "127.0.0.1:0"
            imaps_listen = "127.0.0.1:0"
            quota_bytes = 10485760
            quota_messages = 100
            """
        let file = try scratch.write("mailnode.toml", Array(config.utf8))
        let node = try RunningProcess(mailnode, ["--role", "store", "--config", file], in: scratch)
        defer { node.signal(SIGKILL) }
        let ports = try #require(await node.waitForOutput(timeout: .seconds(15), Self.boundPorts), "\(node.result())")
        let (lmtpPort, imapPort, imapsPort) = (ports[0], ports[1], ports[2])
        let python = try InteropTools.python3()
        let pop = StoreProcessTests.Client(python: python, script: InteropTools.scriptsDirectory.appendingPathComponent("store_client.py").path)
        let imap = StoreProcessTests.Client(python: python, script: InteropTools.scriptsDirectory.appendingPathComponent("imap_client.py").path)

        let messageFile = try scratch.write("multi.eml", Array(Self.multipart.utf8))
        let delivered = try await pop.lmtp(lmtpPort, to: ["alice@example.test"], message: messageFile)
        #expect(delivered.rcpt == [250] && delivered.data.first?.hasPrefix("250 2.0.0") == true, "\(delivered)")

        for (mode, port) in [("ssl", imapsPort), ("starttls", imapPort)] {
            let out = try await imap.run(["session", "127.0.0.1", String(port), "--mode", mode, "--cafile", FixturePaths.caCertificate,
                                          "--user", "alice@example.test", "--password", "imap pw 1",
                                          "--lmtp-port", String(lmtpPort), "--rcpt", "alice@example.test", "--message", messageFile])
            let all = "\(mode): \(out)"
            if mode == "starttls" {
                let before = out["capability_before_tls"] as? [String] ?? []
                #expect(before.contains("STARTTLS") && before.contains("LOGINDISABLED") && !before.contains("AUTH=PLAIN"), "\(all)")
            }
            let capability = out["capability"] as? [String] ?? []
            #expect(["IDLE", "UIDPLUS", "MOVE", "SPECIAL-USE", "QUOTA", "LITERAL+", "AUTH=PLAIN"].allSatisfy(capability.contains), "\(all)")
            let list = out["list"] as? [String] ?? []
            #expect(list.contains("(\\HasNoChildren \\Sent) \"/\" Sent") && list.contains("(\\HasNoChildren \\Trash) \"/\" Trash"), "\(all)")
            #expect(out["exists"] as? Int == 1, "\(all)")
            let structure = (out["bodystructure"] as? [String])?.first ?? ""
            #expect(structure.contains("(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"utf-8\") NIL NIL \"7BIT\" 40 2 NIL NIL NIL NIL)"), "\(all)")
            #expect(structure.contains("(\"ATTACHMENT\" (\"FILENAME\" \"a.bin\"))") && structure.contains("\"MIXED\" (\"BOUNDARY\" \"XYZ\")"),
                    "\(all)")
            #expect((out["envelope"] as? [String])?.first?.contains("\"multipart test\" ((\"Sender, S.\" NIL \"sender\" \"example.net\"))") == true,
                    "\(all)")
            // Byte-identical: the stored message is our trace fields plus exactly what LMTP carried.
            let body = Self.decoded(out["body"])
            let message = Array(Self.multipart.utf8)
            #expect(body.count > message.count && body.suffix(message.count).elementsEqual(message), "\(all)")
            #expect(String(decoding: body.prefix(12), as: UTF8.self) == "Return-Path:", "\(all)")
            #expect(Self.decoded(out["partial"]) == Array(body[10..<35]), "\(all)")
            #expect(Self.decoded(out["part1"]) == Array("Hello Alice,\r\n.a line with a leading dot".utf8), "\(all)")
            #expect(Self.decoded(out["part2"]) == Array("YXR0YWNobWVudC1tYXJrZXI=".utf8), "\(all)")
            #expect(String(decoding: Self.decoded(out["part2_mime"]), as: UTF8.self).hasPrefix("Content-Type: application/octet-stream"), "\(all)")
            #expect(Self.decoded(out["header_fields"]) == Array("From: \"Sender, S.\" <sender@example.net>\r\nSubject: multipart test\r\n\r\n".utf8),
                    "\(all)")
            let text = Self.decoded(out["text"])
            #expect(text.count > 0 && body.suffix(text.count).elementsEqual(text), "\(all)")
            #expect(out["flags_before"] as? [String] == ["1 (FLAGS ())"], "\(all)")
            #expect(out["flags_after_body"] as? [String] == ["1 (FLAGS (\\Seen))"], "\(all)")
            #expect(out["store"] as? [String] == ["1 (FLAGS (\\Flagged \\Seen))"], "\(all)")
            #expect(out["search_flagged"] as? [String] == ["1"] && out["search_unseen"] as? [String] == [""], "\(all)")
            #expect(out["search_subject"] as? [String] == ["1"] && out["search_body"] as? [String] == ["1"], "\(all)")
            #expect(out["search_or"] as? [String] == ["1"] && out["search_not"] as? [String] == [""], "\(all)")
            #expect((out["append"] as? [String])?.first == "OK" && (out["append_code"] as? [String])?.first?.hasSuffix(mode == "ssl" ? " 1" : " 2") == true,
                    "\(all)")
            #expect((out["list_work"] as? [String]) == ["(\\HasNoChildren) \"/\" Work/\(mode)"], "\(all)")
            #expect((out["copy"] as? [String])?.first == "OK" && (out["copy_code"] as? [String])?.first?.hasSuffix(" 1") == true, "\(all)")
            #expect((out["status_work"] as? [String]) == ["Work/\(mode) (MESSAGES 1 UIDNEXT 2 UNSEEN 0)"], "\(all)")
            #expect((out["move"] as? [String])?.first == "OK" && out["after_move"] as? [String] == [""], "\(all)")
            #expect((out["expunge"] as? [String]) == ["OK", "1"] && out["work_after_expunge"] as? [String] == ["1"], "\(all)")
            #expect(String(decoding: Self.decoded(out["work_body"]), as: UTF8.self).hasSuffix("appended by imaplib\r\n"), "\(all)")
            #expect((out["list_after_rename"] as? [String])?.contains("(\\HasNoChildren) \"/\" Archive/\(mode)") == true, "\(all)")
            #expect((out["append_big"] as? [String])?.first == "OK" && out["big_identical"] as? Bool == true, "\(all)")
            let quota = out["quotaroot"] as? [String] ?? []
            // Held then: the delivery, two appends and the copy (and the first run's five, in the second).
            let held = mode == "ssl" ? 4 : 8
            #expect(quota.count == 3 && quota[1] == "INBOX \"\"" && quota[2].hasPrefix("\"\" (STORAGE ")
                    && quota[2].hasSuffix(" 10240 MESSAGE \(held) 100)"), "\(all)")
            // IDLE: the LMTP delivery during IDLE arrives as EXISTS, DONE ends it.
            let idle = out["idle"] as? [String: Any] ?? [:]
            #expect(idle["continuation"] as? String == "+ idling" && idle["lmtp"] as? Int == 250, "\(all)")
            let idleLines = idle["lines"] as? [String] ?? []
            #expect(idleLines.first == "* 1 EXISTS" && idleLines.last?.hasSuffix(" OK IDLE terminated") == true, "\(all)")
            #expect(out["exists_after_idle"] as? [String] == ["1"] && out["logout"] as? String == "BYE", "\(all)")
        }

        // A large message (many 64 KiB chunks, lines starting with a dot) comes back byte-identical
        // (the INBOX holds it and the message IDLE saw arrive).
        var large = "From: sender@example.net\r\nSubject: large\r\n\r\n"
        for index in 0..<6000 { large += (index % 7 == 0 ? "." : "") + "line \(index) " + String(repeating: "x", count: 40) + "\r\n" }
        let largeFile = try scratch.write("large.eml", Array(large.utf8))
        let bigDelivery = try await pop.lmtp(lmtpPort, to: ["alice@example.test"], message: largeFile)
        #expect(bigDelivery.data.first?.hasPrefix("250 2.0.0") == true, "\(bigDelivery)")
        let fetched = try await imap.run(["fetch", "127.0.0.1", String(imapsPort), "--mode", "ssl", "--cafile", FixturePaths.caCertificate,
                                          "--user", "alice@example.test", "--password", "imap pw 1"])
        let bodies = (fetched["messages"] as? [String] ?? []).map { Self.decoded($0) }
        #expect(bodies.count == 2 && bodies.last.map { $0.suffix(large.utf8.count).elementsEqual(large.utf8) } == true, "\(fetched.keys)")
        #expect(bodies.first.map { $0.suffix(Self.multipart.utf8.count).elementsEqual(Self.multipart.utf8) } == true)

        // A second, independent client: libcurl's IMAP (LIST over IMAPS, UID SEARCH, a UID fetch
        // over STARTTLS byte-identical, and no login at all without TLS).
        let curl = try InteropTools.find("curl", install: "apt-get install -y curl")
        let credentials = "alice@example.test:imap pw 1"
        let listed = try await ExternalProcess.run(curl, ["-sS", "--cacert", FixturePaths.caCertificate,
                                                          "imaps://127.0.0.1:\(imapsPort)/", "-u", credentials])
        #expect(listed.status == 0 && listed.stdout.contains("* LIST (\\HasNoChildren \\Sent) \"/\" Sent"), "\(listed)")
        let searched = try await ExternalProcess.run(curl, ["-sS", "--cacert", FixturePaths.caCertificate,
                                                            "imaps://127.0.0.1:\(imapsPort)/INBOX", "-u", credentials, "-X", "UID SEARCH SUBJECT large"])
        let uid = try #require(searched.stdout.split(whereSeparator: \.isNewline).first { $0.hasPrefix("* SEARCH ") }?.split(separator: " ").last,
                               "\(searched)")
        let output = scratch.path + "/curl.eml"
        let fetchedByCurl = try await ExternalProcess.run(curl, ["-sS", "--cacert", FixturePaths.caCertificate, "--ssl-reqd",
                                                                 "imap://127.0.0.1:\(imapPort)/INBOX;UID=\(uid)", "-u", credentials, "-o", output])
        #expect(fetchedByCurl.status == 0, "\(fetchedByCurl)")
        let curlBytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: output)))
        #expect(curlBytes.count > large.utf8.count && curlBytes.suffix(large.utf8.count).elementsEqual(large.utf8))
        let plaintext = try await ExternalProcess.run(curl, ["-sS", "imap://127.0.0.1:\(imapPort)/INBOX", "-u", credentials])
        #expect(plaintext.status == 67, "\(plaintext)")   // CURLE_LOGIN_DENIED: LOGINDISABLED before STARTTLS

        // The plain port: nothing before STARTTLS; malformed input BAD/NO, the session goes on.
        let probe = try await imap.run(["probe", "127.0.0.1", String(imapPort), "--cafile", FixturePaths.caCertificate,
                                        "--user", "alice@example.test", "--password", "imap pw 1"])
        let plain = probe["capability_plain"] as? [String] ?? []
        #expect(plain.contains("STARTTLS") && plain.contains("LOGINDISABLED"), "\(probe)")
        #expect((probe["login_plain"] as? [String])?.joined(separator: " ").contains("NO") == true, "\(probe)")
        #expect(probe["auth_plain"] as? [String] == ["NO", "[PRIVACYREQUIRED] Use STARTTLS first"], "\(probe)")
        #expect((probe["capability_tls"] as? [String])?.last?.contains("AUTH=PLAIN") == true, "\(probe)")
        #expect(probe["wrong_password"] as? [String] == ["NO", "[AUTHENTICATIONFAILED] Authentication failed"], "\(probe)")
        for (key, reply) in [
            ("unbalanced", "b1 BAD Unexpected end of command"), ("nested", "b2 BAD Nesting too deep"),
            ("bad_utf7", "b3 BAD Bad mailbox name encoding"), ("bad_utf7_create", "b4 BAD Bad mailbox name encoding"),
            ("huge_literal", "b5 NO [TOOBIG] Literal too large"), ("huge_nonsync", "b6 NO [TOOBIG] Literal too large"),
            ("long_line", "b7 BAD Command line too long"), ("unknown", "b8 BAD Unknown command"), ("no_tag", "* BAD Missing or bad tag"),
            ("literal_plus", "b9 OK [READ-WRITE] SELECT completed"), ("literal_sync", "+ Ready for literal data"),
            ("literal_sync_rest", "b10 OK STATUS completed"), ("still_alive", "b11 OK NOOP completed"),
        ] {
            #expect(probe[key] as? [String] == [reply], "\(key): \(probe)")
        }
        #expect((probe["append_nonsync"] as? [String])?.first?.hasPrefix("b12 OK [APPENDUID ") == true, "\(probe)")
        #expect(probe["logout"] as? String == "BYE", "\(probe)")
        // STARTTLS injection: the LOGIN pipelined behind it in plaintext is dropped.
        #expect(probe["injection"] as? [String] == ["s1 OK Begin TLS negotiation now", "s3 OK NOOP completed"], "\(probe)")

        let log = node.result().description
        #expect(!log.contains("imap pw 1"))   // passwords are never logged
        node.signal(SIGTERM)
        #expect(await node.waitForExit(timeout: .seconds(10)), "\(node.result())")
    }
}
