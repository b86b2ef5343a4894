import Foundation
import Testing
@testable import SMTPCore

/// A real mail client's session against `mailnode --role store`: Debian's fetchmail, run
/// non-interactively, over IMAPS (keeping the mail: CAPABILITY, LOGIN, SELECT, FETCH
/// RFC822.SIZE / RFC822.HEADER / BODY.PEEK[TEXT], STORE +FLAGS) and then over POP3S (deleting it:
/// STAT, LIST, RETR, DELE, QUIT), the server certificate verified against the test CA.
///
/// Every message fetchmail hands its MDA is the stored message byte for byte, up to the line
/// ends: fetchmail gives a local MDA LF-terminated lines, so the stored CRLFs are compared as LF.
/// The messages are chosen to break careless code: a line starting with a dot, 8-bit text,
/// trailing white space, an empty body, a 998-octet line, and a message of a few hundred KiB.
@Suite(.timeLimit(.minutes(3)))
struct FetchmailProcessTests {
    static let messages: [String] = [
        "From: a@example.net\r\nTo: carol@example.test\r\nSubject: dots\r\n\r\n.a leading dot\r\n..two\r\n.\r\nend\r\n",
        "From: a@example.net\r\nTo: carol@example.test\r\nSubject: =?utf-8?q?caf=C3=A9?=\r\nContent-Type: text/plain; charset=utf-8\r\n"
            + "Content-Transfer-Encoding: 8bit\r\n\r\ncafé, naïve, 日本語\r\ntrailing white space   \t\r\n\r\n\r\n",
        "From: a@example.net\r\nTo: carol@example.test\r\nSubject: empty body\r\n\r\n",
        "From: a@example.net\r\nTo: carol@example.test\r\nSubject: long line\r\n\r\n" + String(repeating: "y", count: 998) + "\r\n",
        "From: a@example.net\r\nTo: carol@example.test\r\nSubject: large\r\n\r\n"
            + (0..<5000).map { "line \($0) " + String(repeating: "z", count: 60) + "\r\n" }.joined(),
    ]

    /// A fetchmail run control file: one server, the MDA writes each message to its own file.
    static func runControl(port: Int, protocol name: String, keep: Bool, output: String) -> String {
        """
        set no bouncemail
        set no syslog
        set invisible
        poll 127.0.0.1 service \(port) protocol \(name) timeout 30
          user "carol@example.test" there with password "fetch pw 5" is "carol" here
          ssl sslcommonname "localhost" sslcertck sslcertfile "\(FixturePaths.caCertificate)"
          mda "cat > $(mktemp \(output)/msg.XXXXXX)"
          no rewrite
          fetchall\(keep ? " keep" : "")

        """
    }

    static func run(fetchmail: String, control: String, in scratch: TemporaryDirectory, name: String) async throws -> (ProcessResult, [[UInt8]]) {
        let output = scratch.path + "/" + name
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        let file = try scratch.write(name + ".rc", Array(control.utf8))
        chmod(file, 0o600)   // fetchmail refuses a run control file others can read
        let result = try await ExternalProcess.run("/usr/bin/env", [
            "HOME=\(scratch.path)", fetchmail, "-f", file, "-i", scratch.path + "/" + name + ".ids",
            "--nodetach", "--pidfile", scratch.path + "/" + name + ".pid", "-v",
        ], timeout: .seconds(60))
        let files = try FileManager.default.contentsOfDirectory(atPath: output)
        let contents = try files.map { [UInt8](try Data(contentsOf: URL(fileURLWithPath: output + "/" + $0))) }
        return (result, contents)
    }

    /// CRLF → LF, as fetchmail delivers to a local MDA.
    static func unixLines(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        for (index, byte) in bytes.enumerated() where !(byte == 13 && index + 1 < bytes.count && bytes[index + 1] == 10) {
            out.append(byte)
        }
        return out
    }

    @Test func fetchmailOverIMAPSAndPOP3SGetsEveryMessageIntact() async throws {
        let fetchmail = try InteropTools.find("fetchmail", install: "apt-get install -y fetchmail")
        let scratch = try TemporaryDirectory("fetchmail")
        defer { scratch.remove() }
        let mailnode = try InteropTools.mailnodeBinary()
        let added = try await ExternalProcess.run(mailnode, ["users", "add", "carol@example.test",
                                                             "--directory", scratch.path + "/spool/defenses/users.sqlite"],
                                                  stdin: Array("fetch pw 5\n".utf8))
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
            pop3s_listen = "127.0.0.1:0"
            imaps_listen = "127.0.0.1:0"
            trusted_upstreams = ["127.0.0.0/8"]
            """
        let file = try scratch.write("mailnode.toml", Array(config.utf8))
        let node = try RunningProcess(mailnode, ["--role", "store", "--config", file], in: scratch)
        defer { node.signal(SIGKILL) }
        let ports = try #require(await node.waitForOutput(timeout: .seconds(15), StoreProcessTests.boundPorts), "\(node.result())")
        let (lmtpPort, pop3sPort, imapsPort) = (ports[0], ports[1], ports[2])
        let client = StoreProcessTests.Client(python: try InteropTools.python3(),
                                              script: InteropTools.scriptsDirectory.appendingPathComponent("store_client.py").path)
        for (index, message) in Self.messages.enumerated() {
            let path = try scratch.write("m\(index).eml", Array(message.utf8))
            let delivery = try await client.lmtp(lmtpPort, to: ["carol@example.test"], message: path)
            #expect(delivery.data.first?.hasPrefix("250 2.0.0") == true, "\(delivery)")
        }
        // What the store holds, as POP3 serves it (nothing deleted).
        let stored = try await client.fetch(pop3sPort, mode: "ssl", user: "carol@example.test", password: "fetch pw 5")
        #expect(stored.messages.count == Self.messages.count, "\(stored.all)")
        for (message, held) in zip(Self.messages, stored.messages) {
            #expect(held.suffix(message.utf8.count).elementsEqual(message.utf8))
        }
        let expected = stored.messages.map(Self.unixLines).sorted { $0.lexicographicallyPrecedes($1) }

        // IMAPS, keeping the mail on the server.
        let (imap, viaIMAP) = try await Self.run(fetchmail: fetchmail, control: Self.runControl(
            port: imapsPort, protocol: "IMAP", keep: true, output: scratch.path + "/imap"), in: scratch, name: "imap")
        #expect(imap.status == 0, "\(imap)")
        #expect((imap.stdout + imap.stderr).contains("IMAP> A0002 SELECT \"INBOX\""), "\(imap)")   // it spoke IMAP, not POP3
        #expect(viaIMAP.sorted { $0.lexicographicallyPrecedes($1) } == expected,
                "IMAP: \(viaIMAP.map { String(decoding: $0.prefix(200), as: UTF8.self) })")

        // POP3S, deleting it.
        let (pop, viaPOP) = try await Self.run(fetchmail: fetchmail, control: Self.runControl(
            port: pop3sPort, protocol: "POP3", keep: false, output: scratch.path + "/pop3"), in: scratch, name: "pop3")
        #expect(pop.status == 0, "\(pop)")
        #expect(viaPOP.sorted { $0.lexicographicallyPrecedes($1) } == expected,
                "POP3: \(viaPOP.map { String(decoding: $0.prefix(200), as: UTF8.self) })")
        let after = try await client.fetch(pop3sPort, mode: "ssl", user: "carol@example.test", password: "fetch pw 5")
        #expect(after.stat == [0, 0], "\(after.all)")

        #expect(!node.result().description.contains("fetch pw"))   // passwords are never logged
        node.signal(SIGTERM)
        #expect(await node.waitForExit(timeout: .seconds(15)))
    }
}
