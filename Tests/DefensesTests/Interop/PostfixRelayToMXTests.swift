import Foundation
import Testing

@testable import Defenses

/// Issue 7, "Show": a real Postfix relays to our `mx`, and the mx's sender authentication sees through
/// the hop. A throwaway Postfix instance (its own config, queue and data directories in a temporary
/// directory, `postfix -c DIR`; never /etc/postfix, never the system service) listens on a free
/// loopback port and relays everything to `[127.0.0.1]:<mx port>`; `mailnode --role mx` with `[mx.spf]`
/// and `[mx.authentication]` resolves over the dnslib loopback DNS server:
/// - sender.test: SPF `ip4:127.0.0.1 -all` (Postfix connects from 127.0.0.1), an RSA-2048 key at
///   `pf2048._domainkey` (dkimpy's 2048_testkey), DMARC `p=reject`. A message signed in the test with
///   ``DKIMSigner`` arrives byte for byte as it was sent (below the two Received fields) and gets
///   `spf=pass`, `dkim=pass header.d=sender.test`, `dmarc=pass`.
/// - unlisted.test: SPF `ip4:192.0.2.0/24 -all`, DMARC `p=none`, no key. An unsigned message is
///   accepted (`[mx.spf] on_fail = "tag"`, so the fail is recorded rather than refused at MAIL) and
///   gets `spf=fail`, `dkim=none`, `dmarc=fail`.
/// Needs root (Postfix's master) and the Debian `postfix` package; fails (never skips) without them.
@Suite(.timeLimit(.minutes(3)))
struct PostfixRelayToMXTests {
    static let signedSender = "sender.test"
    static let unlistedSender = "unlisted.test"
    static let selector = "pf2048"
    static let keyFile = "2048_testkey.key"

    static func zones(in directory: URL) throws {
        let key = try DKIMSigningKey(pem: try DKIMFixtures.text(keyFile))
        func soa(_ origin: String) -> [String] {
            ["$ORIGIN \(origin).", "$TTL 300", "@ 3600 IN SOA ns.\(origin). hostmaster.\(origin). 1 3600 600 86400 60", "@ NS ns.\(origin)."]
        }
        let sender = soa(signedSender) + [
            "@ TXT \"v=spf1 ip4:127.0.0.1 -all\"",
            "_dmarc TXT \"v=DMARC1; p=reject\"",
            "\(selector)._domainkey TXT \(DKIMFixtures.zoneTXT(key.keyRecord))",
        ]
        let unlisted = soa(unlistedSender) + [
            "@ TXT \"v=spf1 ip4:192.0.2.0/24 -all\"",
            "_dmarc TXT \"v=DMARC1; p=none\"",
        ]
        try (sender.joined(separator: "\n") + "\n").write(to: directory.appendingPathComponent("sender.zone"), atomically: true, encoding: .utf8)
        try (unlisted.joined(separator: "\n") + "\n").write(to: directory.appendingPathComponent("unlisted.zone"), atomically: true, encoding: .utf8)
    }

    /// CRLF throughout, the body ending in one CRLF; a body line starting with a dot is stuffed and
    /// unstuffed on both hops.
    static func message(from: String, id: String, subject: String) -> [UInt8] {
        let lines = [
            "From: Sender <\(from)>", "To: <u@d.test>", "Subject: \(subject)", "Date: Mon, 1 Jan 2024 00:00:00 +0000",
            "Message-ID: <\(id)>", "MIME-Version: 1.0", "Content-Type: text/plain; charset=us-ascii", "",
            "Relayed by Postfix to the mx.", ".a line that starts with a dot", "",
        ]
        return Array(lines.joined(separator: "\r\n").utf8)
    }

    @Test func postfixRelaysToTheMXAndTheResultsSurviveTheHop() async throws {
        try CheckCommand.requireBinary()
        let postfixBinary = try PostfixInstance.binary()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mailnode-pfrelay-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let zoneDirectory = directory.appendingPathComponent("zones")
        try FileManager.default.createDirectory(at: zoneDirectory, withIntermediateDirectories: true)
        try Self.zones(in: zoneDirectory)

        let signer = DKIMSigner(domain: Self.signedSender, selector: Self.selector,
                                key: try DKIMSigningKey(pem: try DKIMFixtures.text(Self.keyFile)))
        let signedID = "signed-\(UUID().uuidString)@\(Self.signedSender)"
        let unsignedID = "unsigned-\(UUID().uuidString)@\(Self.unlistedSender)"
        let plain = Self.message(from: "alice@\(Self.signedSender)", id: signedID, subject: "signed, via Postfix")
        let signed = try signer.sign(message: plain).wireBytes + plain
        let unsigned = Self.message(from: "bob@\(Self.unlistedSender)", id: unsignedID, subject: "unsigned, via Postfix")

        try await withDNSTestServer(zones: zoneDirectory) { server in
            let spool = directory.appendingPathComponent("spool")
            let node = try await MXDNSDefensesProcessTests.start(config: """
                [node]
                hostname = "mx.d.test"
                spool = "\(spool.path)"
                [dns]
                servers = ["127.0.0.1:\(server.port)"]
                [mx]
                domains = ["d.test"]
                listen = ["127.0.0.1:0"]
                [mx.spf]
                on_fail = "tag"
                [mx.authentication]
                """, in: directory)
            let outcome: Result<Void, any Error>
            do {
                let postfix = try await PostfixInstance.start(binary: postfixBinary, in: directory.appendingPathComponent("postfix"),
                                                              relayTo: node.port)
                let relayed: Result<Void, any Error>
                do {
                    let first = try await Self.send(signed, sender: "bounce@\(Self.signedSender)", helo: "mail.\(Self.signedSender)",
                                                    port: postfix.port, in: directory)
                    try #require(first.hasPrefix("250"), "Postfix's smtpd: \(first)\n\(postfix.log)")
                    let second = try await Self.send(unsigned, sender: "bounce@\(Self.unlistedSender)", helo: "mail.\(Self.unlistedSender)",
                                                     port: postfix.port, in: directory)
                    try #require(second.hasPrefix("250"), "Postfix's smtpd: \(second)\n\(postfix.log)")
                    try await Self.waitForEntries(2, in: spool, postfix: postfix, node: node)
                    let sent = postfix.log.split(separator: "\n").filter { $0.contains("status=sent") }
                    #expect(sent.count == 2, "\(postfix.log)")
                    #expect(sent.allSatisfy { $0.contains("relay=127.0.0.1[127.0.0.1]:\(node.port)") }, "\(postfix.log)")
                    relayed = .success(())
                } catch {
                    relayed = .failure(error)
                }
                await postfix.stop()
                try relayed.get()
                outcome = .success(())
            } catch {
                outcome = .failure(error)
            }
            await node.stop()
            try outcome.get()

            let entries = try Self.stored(spool)
            #expect(entries.count == 2, "\(entries.map(\.text))")
            let first = try #require(entries.first { $0.text.contains(signedID) }, "\(entries.map(\.text))\n\(node.log)")
            let second = try #require(entries.first { $0.text.contains(unsignedID) }, "\(entries.map(\.text))\n\(node.log)")

            // The signed message passed through Postfix untouched: everything we sent, DKIM-Signature first,
            // is the tail of the stored message; above it only the two hops' trace fields.
            #expect(first.message.count > signed.count && Array(first.message.suffix(signed.count)) == signed,
                    "Postfix changed the signed message:\n\(first.text)")
            #expect(second.message.count > unsigned.count && Array(second.message.suffix(unsigned.count)) == unsigned,
                    "Postfix changed the message:\n\(second.text)")
            for (entry, sent, helo, spf) in [(first, signed, "mail.\(Self.signedSender)", "pass"),
                                             (second, unsigned, "mail.\(Self.unlistedSender)", "fail")] {
                let added = Self.fields(Array(entry.message.prefix(max(0, entry.message.count - sent.count))))
                #expect(added.map(\.name) == ["Received", "Mailnode-Id", "Received"], "\(entry.text)")
                // Ours on top: from Postfix's EHLO name and address; Postfix's below it: from our smtplib client.
                #expect(added.first?.value.hasPrefix(" from relay.postfix.test (127.0.0.1)") == true, "\(entry.text)")
                #expect(added.first?.value.contains("by mx.d.test with ESMTP") == true, "\(entry.text)")
                #expect(added.last?.value.hasPrefix(" from \(helo) (unknown [127.0.0.1])") == true, "\(entry.text)")
                #expect(added.last?.value.contains("by relay.postfix.test (Postfix) with ESMTP id") == true, "\(entry.text)")
                // Received-SPF (RFC 7208 §9.1) on top, then our Authentication-Results.
                #expect(entry.prepended.hasPrefix("Received-SPF: \(spf) (mx.d.test: domain of bounce@"), "\(entry.text)")
                #expect(entry.prepended.contains("\r\n\tclient-ip=127.0.0.1;\r\n"), "\(entry.text)")
                #expect(entry.prepended.contains("\r\nAuthentication-Results: mx.d.test;\r\n"), "\(entry.text)")
            }
            // (a) SPF passes for 127.0.0.1, the RSA-2048 signature verifies after the hop, DMARC passes under p=reject.
            #expect(first.prepended.contains("spf=pass smtp.mailfrom=\(Self.signedSender)"), "\(first.prepended)")
            #expect(first.prepended.contains("dkim=pass header.d=\(Self.signedSender) header.i=@\(Self.signedSender) header.s=\(Self.selector) header.a=rsa-sha256"),
                    "\(first.prepended)")
            #expect(first.prepended.contains("dmarc=pass (p=reject"), "\(first.prepended)")
            #expect(first.prepended.contains("header.from=\(Self.signedSender)"), "\(first.prepended)")
            // (b) 127.0.0.1 is not in unlisted.test's SPF record, there is no signature, DMARC fails (p=none: accepted).
            #expect(second.prepended.contains("spf=fail smtp.mailfrom=\(Self.unlistedSender)"), "\(second.prepended)")
            #expect(second.prepended.contains("dkim=none"), "\(second.prepended)")
            #expect(second.prepended.contains("dmarc=fail (p=none"), "\(second.prepended)")
            #expect(second.prepended.contains("header.from=\(Self.unlistedSender)"), "\(second.prepended)")
            // The mx asked the loopback server (Postfix itself resolves nothing: bracketed relayhost, no lookups).
            #expect(server.queries("\(Self.selector)._domainkey.\(Self.signedSender)", "TXT").count >= 1)
            #expect(server.queries("_dmarc.\(Self.signedSender)", "TXT").count >= 1)
            #expect(server.queries("_dmarc.\(Self.unlistedSender)", "TXT").count >= 1)
            #expect(server.queries(Self.unlistedSender, "TXT").count >= 1)
        }
    }

    /// One message into Postfix's smtpd through smtplib (Tests/interop/smtp_send.py); returns the DATA reply.
    static func send(_ message: [UInt8], sender: String, helo: String, port: Int, in directory: URL) async throws -> String {
        let file = directory.appendingPathComponent("message-\(UUID().uuidString).eml")
        try Data(message).write(to: file)
        let script = DNSFixtures.root.appendingPathComponent("Tests/interop/smtp_send.py").path
        let (status, output) = try await CheckCommand.run(executable: "/usr/bin/python3",
                                                          [script, String(port), helo, sender, "u@d.test", file.path])
        try #require(status == 0, "smtp_send failed: \(output)")
        let reply = try JSONDecoder().decode(MXAuthenticationProcessTests.Sent.self, from: Data(output.utf8))
        return "\(reply.code.map(String.init) ?? "?") \(reply.text)"
    }

    /// Polls the mx's spool until `count` entries are committed; fails early when Postfix reports a
    /// deferral or a bounce (the mx refused), and after 90 s (hang detector) with both logs.
    static func waitForEntries(_ count: Int, in spool: URL, postfix: PostfixInstance, node: MXDNSDefensesProcessTests.Node) async throws {
        let queue = spool.appendingPathComponent("queue")
        let deadline = ContinuousClock.now + .seconds(90)
        while true {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: queue.path)) ?? []
            let log = postfix.log
            // Both sides done: the mx committed the entries and Postfix logged its 250s (it may log
            // a moment after the mx's reply, so the spool alone is not enough).
            if names.count >= count, log.split(separator: "\n").filter({ $0.contains("status=sent") }).count >= count { return }
            if log.contains("status=deferred") || log.contains("status=bounced") || ContinuousClock.now >= deadline {
                throw PostfixInstance.Failure(description: """
                    \(names.count) of \(count) messages reached the mx's spool
                    --- Postfix maillog ---
                    \(log)
                    --- mailnode log ---
                    \(node.log)
                    """)
            }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    /// A spool entry in format 2 (docs/spool.md): `MAILNODE-SPOOL 2 <n>\n`, n octets of JSON, `\n`, the
    /// stored message, the prepended fields, and the 33-octet footer `MAILNODE-PREPEND <15 digits>\n`.
    struct Entry {
        var message: [UInt8]
        var prepended: String
        var text: String

        init(_ bytes: [UInt8]) throws {
            text = String(decoding: bytes, as: UTF8.self)
            let newline = try #require(bytes.firstIndex(of: 0x0A))
            let record = String(decoding: bytes[..<newline], as: UTF8.self).split(separator: " ")
            try #require(record.count == 3 && record[0] == "MAILNODE-SPOOL" && record[1] == "2", "\(text)")
            let json = try #require(Int(record[2]))
            let start = newline + 1 + json + 1
            try #require(bytes.count >= start + 33, "\(text)")
            let footer = String(decoding: bytes[(bytes.count - 33)...], as: UTF8.self)
            try #require(footer.hasPrefix("MAILNODE-PREPEND "), "\(text)")
            let length = try #require(Int(footer.dropFirst(17).dropLast()))
            let end = bytes.count - 33 - length
            try #require(end >= start, "\(text)")
            message = Array(bytes[start..<end])
            prepended = String(decoding: bytes[end..<(bytes.count - 33)], as: UTF8.self)
        }
    }

    static func stored(_ spool: URL) throws -> [Entry] {
        let queue = spool.appendingPathComponent("queue")
        return try FileManager.default.contentsOfDirectory(atPath: queue.path).sorted().map {
            try Entry(Array(try Data(contentsOf: queue.appendingPathComponent($0))))
        }
    }

    /// Header fields (name, unfolded value) of a block of CRLF-terminated field lines.
    static func fields(_ bytes: [UInt8]) -> [(name: String, value: String)] {
        var result: [(name: String, value: String)] = []
        for line in String(decoding: bytes, as: UTF8.self).components(separatedBy: "\r\n") where !line.isEmpty {
            if line.first == " " || line.first == "\t", !result.isEmpty {
                result[result.count - 1].value += " " + line.trimmingCharacters(in: .whitespaces)
            } else if let colon = line.firstIndex(of: ":") {
                result.append((String(line[..<colon]), String(line[line.index(after: colon)...])))
            } else {
                result.append((line, ""))
            }
        }
        return result
    }
}

/// A throwaway Postfix instance under one directory: `etc/` (main.cf, master.cf), `spool/` (the queue),
/// `data/`, and `maillog` (through postlogd: no syslog here). Configured like bench/relay.sh's instance
/// (no chroot, no DNS, loopback only), but as a relay of everything to one bracketed next hop.
struct PostfixInstance {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    let binary: String
    let root: URL
    let port: Int

    var configDirectory: String { root.appendingPathComponent("etc").path }
    var log: String { (try? String(contentsOf: root.appendingPathComponent("maillog"), encoding: .utf8)) ?? "" }

    /// `postfix` on PATH or in /usr/sbin; missing is a failure, not a skip.
    static func binary() throws -> String {
        guard getuid() == 0 else {
            throw Failure(description: "this test starts a private Postfix instance (postfix -c DIR start) and must run as root")
        }
        let path = ProcessInfo.processInfo.environment["PATH"]?.split(separator: ":").map(String.init) ?? []
        for directory in path + ["/usr/sbin", "/usr/local/sbin", "/sbin"] {
            let candidate = directory + "/postfix"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        throw Failure(description: """
            Postfix is not installed (no postfix on PATH or in /usr/sbin): \
            echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections; \
            apt-get install -y postfix (.ci/install-deps does)
            """)
    }

    /// The settings that matter for the interop (the rest keeps the instance private and DNS-free):
    /// - `relayhost = [127.0.0.1]:PORT`: bracketed, so no MX lookup and no "loops back to myself" check;
    /// - `local_header_rewrite_clients` stays at its default, `permit_inet_interfaces`, which covers our
    ///   client on 127.0.0.1: cleanup may then qualify bare addresses and add a missing Date, Message-ID
    ///   or From (`always_add_missing_headers`). The test messages have all of them, fully qualified, so
    ///   nothing changes (the byte-for-byte check below holds with the default). Per Postfix's docs (not
    ///   exercised here) a message without Message-ID would get one, and DKIMSigner over-signs message-id,
    ///   so that signature would break; `local_header_rewrite_clients =` on the relay avoids it;
    /// - `smtp_tls_security_level =` and no milters/filters: the message goes out as it came in.
    static func mainCF(root: URL, relayPort: Int) -> String {
        let path = root.path
        return """
            compatibility_level = 3.6
            queue_directory = \(path)/spool
            data_directory = \(path)/data
            mail_owner = postfix
            setgid_group = postdrop
            maillog_file_prefixes = \(path)
            maillog_file = \(path)/maillog
            myhostname = relay.postfix.test
            mydomain = postfix.test
            myorigin = $myhostname
            smtpd_banner = $myhostname ESMTP
            biff = no
            inet_interfaces = 127.0.0.1
            inet_protocols = ipv4
            mynetworks = 127.0.0.0/8
            mydestination =
            local_recipient_maps =
            alias_maps =
            alias_database =
            relayhost = [127.0.0.1]:\(relayPort)
            smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
            smtpd_recipient_restrictions =
            smtpd_peername_lookup = no
            smtp_dns_support_level = disabled
            smtp_host_lookup = native
            content_filter =
            smtpd_milters =
            non_smtpd_milters =
            header_checks =
            body_checks =
            smtpd_tls_security_level =
            smtp_tls_security_level =

            """
    }

    static func masterCF(port: Int) -> String {
        """
        \(port)      inet  n       -       n       -       -       smtpd
        pickup    unix  n       -       n       60      1       pickup
        cleanup   unix  n       -       n       -       0       cleanup
        qmgr      unix  n       -       n       300     1       qmgr
        rewrite   unix  -       -       n       -       -       trivial-rewrite
        bounce    unix  -       -       n       -       0       bounce
        defer     unix  -       -       n       -       0       bounce
        trace     unix  -       -       n       -       0       bounce
        verify    unix  -       -       n       -       1       verify
        flush     unix  n       -       n       1000?   0       flush
        proxymap  unix  -       -       n       -       -       proxymap
        proxywrite unix -       -       n       -       1       proxymap
        smtp      unix  -       -       n       -       -       smtp
        relay     unix  -       -       n       -       -       smtp
        showq     unix  n       -       n       -       -       showq
        error     unix  -       -       n       -       -       error
        retry     unix  -       -       n       -       -       error
        discard   unix  -       -       n       -       -       discard
        anvil     unix  -       -       n       -       1       anvil
        scache    unix  -       -       n       -       1       scache
        postlog   unix-dgram n  -       n       -       1       postlogd

        """
    }

    /// Writes the configuration, starts the instance and waits (≤ 60 s) until its smtpd accepts connections.
    /// Stops it again when it does not come up.
    static func start(binary: String, in root: URL, relayTo relayPort: Int) async throws -> PostfixInstance {
        let files = FileManager.default
        for name in ["etc", "spool", "data"] {
            try files.createDirectory(at: root.appendingPathComponent(name), withIntermediateDirectories: true)
        }
        try files.setAttributes([.ownerAccountName: "postfix"], ofItemAtPath: root.appendingPathComponent("data").path)
        _ = files.createFile(atPath: root.appendingPathComponent("maillog").path, contents: nil)
        let port = try freePort()
        try mainCF(root: root, relayPort: relayPort).write(to: root.appendingPathComponent("etc/main.cf"), atomically: true, encoding: .utf8)
        try masterCF(port: port).write(to: root.appendingPathComponent("etc/master.cf"), atomically: true, encoding: .utf8)
        let instance = PostfixInstance(binary: binary, root: root, port: port)
        _ = await instance.command("set-permissions")
        let check = await instance.command("check")
        guard check.status == 0 else {
            throw Failure(description: "postfix check failed (\(check.status)):\n\(check.output)\n\(instance.log)")
        }
        let started = await instance.command("start")
        guard started.status == 0 else {
            await instance.stop()
            throw Failure(description: "postfix start failed (\(started.status)):\n\(started.output)\n\(instance.log)")
        }
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            if canConnect(port: port) { return instance }
            do {
                try await Task.sleep(for: .milliseconds(100))
            } catch {   // cancelled (the time limit): the master must not outlive the test
                await instance.stop()
                throw error
            }
        }
        await instance.stop()
        throw Failure(description: "Postfix's smtpd did not listen on 127.0.0.1:\(port) within 60 s:\n\(instance.log)")
    }

    /// `postfix stop`, then waits for the master to go (SIGKILL after 30 s). Works from a cancelled task.
    func stop() async {
        let pidFile = root.appendingPathComponent("spool/pid/master.pid").path
        let master = (try? String(contentsOfFile: pidFile, encoding: .utf8)).flatMap { pid_t($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        _ = await command("stop")
        guard let master, master > 0 else { return }
        _ = try? await offThePool {
            let deadline = Date().addingTimeInterval(30)
            while kill(master, 0) == 0, Date() < deadline { usleep(50_000) }
            if kill(master, 0) == 0 { kill(master, SIGKILL) }
        }
    }

    /// `postfix -c etc <verb>`, under script(1) (postfix prints its fatals only to a terminal; without
    /// syslog they would vanish) and the signal-mask shim, waited for on a thread of its own.
    func command(_ verb: String) async -> (status: Int32, output: String) {
        let line = "\(binary) -c \(configDirectory) \(verb)"
        let useScript = FileManager.default.isExecutableFile(atPath: "/usr/bin/script")
        let arguments = useScript ? ["/usr/bin/script", "-qec", line, "/dev/null"] : [binary, "-c", configDirectory, verb]
        let result = try? await offThePool { try Self.runBlocking(arguments, timeout: 60) }
        return result ?? (-1, "could not run \(arguments)")
    }

    /// Runs `arguments` through a Perl shim that clears the signal mask the test runner blocks (SIGTERM,
    /// SIGALRM…) — Postfix's master would otherwise inherit it and never see `postfix stop`'s SIGTERM.
    /// Blocks: call it through ``offThePool(_:)``.
    static func runBlocking(_ arguments: [String], timeout: TimeInterval) throws -> (status: Int32, output: String) {
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("mailnode-postfix-cmd-\(UUID().uuidString)")
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: output) }
        let process = Process()
        let perl = "/usr/bin/perl"
        if FileManager.default.isExecutableFile(atPath: perl) {
            process.executableURL = URL(fileURLWithPath: perl)
            process.arguments = ["-MPOSIX", "-e",
                                 #"sigprocmask(SIG_SETMASK, POSIX::SigSet->new) or die "sigprocmask: $!"; exec { $ARGV[0] } @ARGV or die "exec $ARGV[0]: $!";"#]
                + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: arguments[0])
            process.arguments = Array(arguments.dropFirst())
        }
        let handle = try FileHandle(forWritingTo: output)
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning, Date() < deadline { usleep(20_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        try handle.close()
        return (process.terminationStatus, (try? String(contentsOf: output, encoding: .utf8)) ?? "")
    }

    /// A loopback TCP port that was free a moment ago (bound to port 0, then closed).
    static func freePort() throws -> Int {
        let socketFD = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socketFD >= 0 else { throw Failure(description: "socket: errno \(errno)") }
        defer { close(socketFD) }
        var address = loopback(port: 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socketFD, $0, length) }
        }
        guard bound == 0 else { throw Failure(description: "bind: errno \(errno)") }
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socketFD, $0, &length) }
        }
        guard named == 0 else { throw Failure(description: "getsockname: errno \(errno)") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Whether something accepts TCP connections on 127.0.0.1:`port` (a loopback connect returns at once).
    static func canConnect(port: Int) -> Bool {
        let socketFD = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socketFD >= 0 else { return false }
        defer { close(socketFD) }
        var address = loopback(port: UInt16(port))
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(socketFD, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        return connected == 0
    }

    static func loopback(port: UInt16) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        return address
    }
}
