import Foundation
import NIOCore
import NIOPosix
import SMTPCore
import Testing

/// Issue 9's "loopback Internet": Tests/interop/dns_server.py publishes MX records for test
/// domains pointing at 127.0.3.x addresses, where Postfix's `smtp-sink` or a second `mailnode`
/// listens on one port (port 25 is one port on the Internet: `outbound.port`). The processes start
/// through ``OutboundKillNineTests/Child`` (signal-mask shim, output in a file, polling waits).
enum LoopbackInternet {
    /// Postfix's test server (Debian `postfix`; `.ci/install-deps` installs it).
    static let smtpSink = "/usr/sbin/smtp-sink"

    /// False where Postfix is not installed: the smtp-sink suites are then skipped, saying so.
    static var hasSMTPSink: Bool { FileManager.default.isExecutableFile(atPath: smtpSink) }

    static var mailnodeBinary: String { DNSFixtures.root.appendingPathComponent(".build/debug/mailnode").path }

    /// A `mailnode --role outbound` configuration for the loopback Internet: mail exchangers found
    /// through the loopback DNS at `dnsPort`, on `remotePort`, plaintext, no MTA-STS or TLS-RPT
    /// records, a fixed retry delay and no delay warnings.
    static func outboundConfiguration(origin: String, spool: String, dnsPort: UInt16, remotePort: Int, retry: Int) -> String {
        """
        [node]
        hostname = "out.\(origin)"
        spool = "\(spool)"

        [dns]
        servers = ["127.0.0.1:\(dnsPort)"]

        [outbound]
        listen = ["127.0.0.1:0"]
        port = \(remotePort)
        tls = "none"
        mta_sts = false
        tls_reports = ""

        [retry]
        initial_delay = \(retry)
        max_delay = \(retry)
        jitter_percent = 0
        delay_warning = 0
        """
    }

    /// A zone file for `origin` with one mail exchanger per label: `label MX 10 mx.label`,
    /// `mx.label A address`.
    static func zone(origin: String, exchangers: [(label: String, address: String)]) -> String {
        var lines = ["$ORIGIN \(origin).", "$TTL 300", "@ 3600 IN SOA ns.\(origin). hostmaster.\(origin). 1 3600 600 86400 60"]
        for (label, address) in exchangers { lines += ["\(label) MX 10 mx.\(label)", "mx.\(label) A \(address)"] }
        return lines.joined(separator: "\n") + "\n"
    }

    /// A scratch directory holding `zones/<name>.zone`; the caller removes it.
    static func scratch(_ name: String, zone: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("mailnode-\(name)-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path + "/zones", withIntermediateDirectories: true)
        try zone.write(toFile: path + "/zones/\(name).zone", atomically: true, encoding: .utf8)
        return path
    }

    /// A port below the ephemeral range that is free on every address (the exchangers share it).
    static func freePort(on addresses: [String]) async throws -> Int {
        for _ in 0..<50 {
            let candidate = Int.random(in: 20_000..<32_000)
            var free = true
            for address in addresses {
                guard let channel = try? await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                    .bind(host: address, port: candidate).get() else { free = false; break }
                try await channel.close()
            }
            if free { return candidate }
        }
        throw DNSTestServerUnavailable(description: "no port between 20000 and 32000 free on \(addresses)")
    }

    /// True once something accepts TCP connections at `address:port`.
    static func isListening(_ address: String, _ port: Int) async -> Bool {
        guard let channel = try? await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: address, port: port).get() else { return false }
        try? await channel.close()
        return true
    }

    /// Polls `condition` every 20 ms; false after `timeout` (a hang bound, not a timing bound).
    static func eventually(timeout: Duration = .seconds(60), _ condition: () async throws -> Bool) async rethrows -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try await condition() { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return try await condition()
    }

    static func mailbox(_ address: String) -> Mailbox {
        let parts = address.split(separator: "@", maxSplits: 1)
        return Mailbox(localPart: String(parts[0]), host: .domain(String(parts[1])))
    }

    /// Hands one message to a stage's SMTP listener on 127.0.0.1, as the stage in front would;
    /// returns the queue id from its `250 … Queued as ID` reply.
    static func handOver(_ message: String, from sender: String, to recipients: [String], port: Int) async throws -> String {
        var client = SMTPClientConfiguration()
        client.tls = .none
        client.timeouts = .uniform(.seconds(60))
        let envelope = OutboundEnvelope(sender: .mailbox(mailbox(sender)),
                                        recipients: recipients.map { OutboundRecipient(.mailbox(mailbox($0))) })
        let result = await SMTPClient.deliver(envelope: envelope, message: ByteBuffer(string: message),
                                              host: "127.0.0.1", port: port, configuration: client)
        let outcome = try #require(result.recipients.first, "no reply from the stage: \(result)")
        let refused = result.recipients.filter { !$0.isAccepted }
        try #require(refused.isEmpty, "the stage refused the hand-off: \(result)")
        return try #require(outcome.reply.text.split(separator: " ").last.map(String.init), "\(outcome.reply)")
    }

    /// Committed entries in a spool's `queue/` (dot files are writes in progress).
    static func queued(_ spool: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: spool + "/queue")) ?? []).filter { !$0.hasPrefix(".") }.sorted()
    }
}

/// One `/usr/sbin/smtp-sink` process on `address:port` that dumps every transaction into a file of
/// its own (`-d DIR/msg.`: X-Mail-Args/X-Rcpt-Args lines, its Received header, then the message with
/// LF line ends and the dot-stuffing removed, then an empty line). `options` add the error modes
/// (`-r RCPT` soft, `-f RCPT` hard, `-b`/`-B` the reply texts).
final class SMTPSinkProcess {
    let child: OutboundKillNineTests.Child
    let address: String
    let port: Int
    let dumpDirectory: String

    private init(child: OutboundKillNineTests.Child, address: String, port: Int, dumpDirectory: String) {
        self.child = child
        self.address = address
        self.port = port
        self.dumpDirectory = dumpDirectory
    }

    /// Starts the sink and waits (≤ 60 s) until it accepts connections.
    static func start(address: String, port: Int, options: [String] = [], scratch: String, name: String) async throws -> SMTPSinkProcess {
        let dumps = scratch + "/" + name
        try FileManager.default.createDirectory(atPath: dumps, withIntermediateDirectories: true)
        // As root smtp-sink must drop privileges (-u), and then writes its dumps as that user.
        try FileManager.default.setAttributes([.posixPermissions: 0o777], ofItemAtPath: dumps)
        let user = getuid() == 0 ? ["-u", "nobody"] : []
        let child = try OutboundKillNineTests.Child(LoopbackInternet.smtpSink,
                                                    user + options + ["-h", "sink.\(name)", "-d", dumps + "/msg.", "\(address):\(port)", "64"],
                                                    output: scratch + "/\(name).log")
        let sink = SMTPSinkProcess(child: child, address: address, port: port, dumpDirectory: dumps)
        let up = await LoopbackInternet.eventually { await LoopbackInternet.isListening(address, port) || !child.isRunning }
        guard up, child.isRunning else {
            child.signal(SIGKILL)
            throw DNSTestServerUnavailable(description: "smtp-sink on \(address):\(port) did not start:\n\(child.output)")
        }
        return sink
    }

    /// The dumped transactions so far, oldest first by name (a transaction in progress may be partial).
    func dumps() -> [String] {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: dumpDirectory)) ?? []).sorted()
        return names.compactMap { try? String(contentsOfFile: dumpDirectory + "/" + $0, encoding: .utf8) }
    }

    func stop() async {
        child.signal(SIGTERM)
        if !(await child.waitForExit(timeout: .seconds(5))) { child.signal(SIGKILL) }
    }
}

/// One `mailnode --role ROLE --config FILE` process (the debug build), started and listening: its
/// first listener's port is read from its `listening … address=` log line.
final class MailnodeProcess {
    let child: OutboundKillNineTests.Child
    let port: Int
    let spool: String

    private init(child: OutboundKillNineTests.Child, port: Int, spool: String) {
        self.child = child
        self.port = port
        self.spool = spool
    }

    static func start(role: String, config: String, spool: String, scratch: String, name: String) async throws -> MailnodeProcess {
        try #require(FileManager.default.isExecutableFile(atPath: LoopbackInternet.mailnodeBinary),
                     "build the mailnode binary first (swift build --build-tests)")
        let path = scratch + "/\(name).toml"
        try config.write(toFile: path, atomically: true, encoding: .utf8)
        let child = try OutboundKillNineTests.Child(LoopbackInternet.mailnodeBinary,
                                                    ["--role", role, "--config", path, "--log-level", "info"],
                                                    output: scratch + "/\(name).log")
        // address=[IPv4]127.0.0.1/127.0.0.1:39981 ... listening
        let port = await child.waitFor(timeout: .seconds(60)) { text -> Int? in
            guard text.contains("mailnode up"),
                  let line = text.split(separator: "\n").first(where: { $0.contains("listening") && $0.contains("address=") }),
                  let token = line.split(separator: " ").first(where: { $0.hasPrefix("address=") }) else { return nil }
            return Int(token.split(separator: ":").last ?? "")
        }
        guard let port, child.isRunning else {
            child.signal(SIGKILL)
            _ = await child.waitForExit(timeout: .seconds(5))
            throw DNSTestServerUnavailable(description: "mailnode --role \(role) did not start:\n\(child.output)")
        }
        return MailnodeProcess(child: child, port: port, spool: spool)
    }

    var log: String { child.output }

    /// SIGTERM (graceful), SIGKILL after 60 s (a hang bound); returns the exit status (-1 if it had to be killed).
    @discardableResult
    func stop() async -> Int32 {
        child.signal(SIGTERM)
        guard await child.waitForExit(timeout: .seconds(60)) else {
            child.signal(SIGKILL)
            _ = await child.waitForExit(timeout: .seconds(5))
            return -1
        }
        return child.status
    }
}
