import Foundation
import Testing

/// A real `mailnode --role outbound` process delivering by MX (Tests/interop/dns_server.py on
/// loopback) to Postfix's `smtp-sink` as the recipient domains' mail exchanger (issue 9, the
/// loopback Internet): a message arrives byte for byte; a sink answering 4xx to RCPT keeps the
/// message queued with that reply in `mailnode queue list` until `mailnode queue flush` after the
/// exchanger recovered; a sink answering 5xx makes exactly one bounce to the sender's own exchanger.
/// Skips only when `/usr/sbin/smtp-sink` is missing (`.ci/install-deps` installs postfix).
@Suite(.timeLimit(.minutes(3)),
       .enabled(if: LoopbackInternet.hasSMTPSink, "/usr/sbin/smtp-sink is missing: apt-get install -y postfix (.ci/install-deps does)"))
struct OutboundSMTPSinkTests {
    static let origin = "sink.lo.test"

    static func configuration(spool: String, dnsPort: UInt16, remotePort: Int, initialRetry: Int) -> String {
        LoopbackInternet.outboundConfiguration(origin: origin, spool: spool, dnsPort: dnsPort, remotePort: remotePort, retry: initialRetry)
    }

    /// A message whose body has a dot-stuffed line, a long line and bytes that a sloppy relay mangles.
    static func message(_ token: String, to recipient: String) -> String {
        let long = String(repeating: "0123456789", count: 90)
        return "From: s@src.\(origin)\r\nTo: \(recipient)\r\nSubject: loopback \(token)\r\nMessage-ID: <\(token)@src.\(origin)>\r\n\r\n"
            + "first line \(token)\r\n.a line that starts with a dot\r\n\(long)\r\n\ttabbed; last line\r\n"
    }

    /// The sink's dump of a message: our message with LF line ends, then the empty line it appends.
    static func dumped(_ message: String) -> String {
        message.replacingOccurrences(of: "\r\n", with: "\n") + "\n"
    }

    @Test func aMessageArrivesAtTheSMTPSinkMX() async throws {
        let scratch = try LoopbackInternet.scratch("sink1", zone: LoopbackInternet.zone(origin: Self.origin, exchangers: [("d1", "127.0.3.11")]))
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        try await withDNSTestServer(zones: URL(fileURLWithPath: scratch + "/zones")) { dns in
            let port = try await LoopbackInternet.freePort(on: ["127.0.3.11"])
            let sink = try await SMTPSinkProcess.start(address: "127.0.3.11", port: port, scratch: scratch, name: "sink-d1")
            defer { sink.child.signal(SIGKILL) }
            let spool = scratch + "/spool"
            let node = try await MailnodeProcess.start(
                role: "outbound", config: Self.configuration(spool: spool, dnsPort: dns.port, remotePort: port, initialRetry: 1),
                spool: spool, scratch: scratch, name: "outbound")
            defer { node.child.signal(SIGKILL) }

            let token = UUID().uuidString
            let message = Self.message(token, to: "u@d1.\(Self.origin)")
            _ = try await LoopbackInternet.handOver(message, from: "s@src.\(Self.origin)", to: ["u@d1.\(Self.origin)"], port: node.port)
            let drained = await LoopbackInternet.eventually {
                LoopbackInternet.queued(spool).isEmpty && sink.dumps().contains { $0.hasSuffix(Self.dumped(message)) }
            }
            #expect(drained, "not delivered within 60 s:\n\(node.log)")
            let dumps = sink.dumps()
            #expect(dumps.count == 1, "\(dumps)")
            let dump = try #require(dumps.first)
            #expect(dump.contains("X-Mail-Args: <s@src.\(Self.origin)>\n"), "\(dump)")
            #expect(dump.contains("X-Rcpt-Args: <u@d1.\(Self.origin)>\n"), "\(dump)")
            // The bytes we handed over, after what the outbound stage prepends (Received, Mailnode-Id).
            #expect(dump.hasSuffix(Self.dumped(message)), "\(dump)")
            #expect(!dns.queries("d1.\(Self.origin)", "MX").isEmpty)
            #expect(await node.stop() == 0, "\(node.log)")
            await sink.stop()
        }
    }

    @Test func aTemporaryRefusalKeepsTheMessageQueuedWithTheReplyUntilAFlush() async throws {
        let scratch = try LoopbackInternet.scratch("sink2", zone: LoopbackInternet.zone(origin: Self.origin, exchangers: [("d2", "127.0.3.12")]))
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        try await withDNSTestServer(zones: URL(fileURLWithPath: scratch + "/zones")) { dns in
            let port = try await LoopbackInternet.freePort(on: ["127.0.3.12"])
            let refusing = try await SMTPSinkProcess.start(address: "127.0.3.12", port: port,
                                                           options: ["-r", "RCPT", "-b", "451 4.7.1 Come back later, says the loopback sink"],
                                                           scratch: scratch, name: "sink-d2-4xx")
            defer { refusing.child.signal(SIGKILL) }
            let spool = scratch + "/spool"
            // One attempt only: the next would be an hour away.
            let node = try await MailnodeProcess.start(
                role: "outbound", config: Self.configuration(spool: spool, dnsPort: dns.port, remotePort: port, initialRetry: 3600),
                spool: spool, scratch: scratch, name: "outbound")
            defer { node.child.signal(SIGKILL) }

            let token = UUID().uuidString
            let recipient = "u@d2.\(Self.origin)"
            let message = Self.message(token, to: recipient)
            let id = try await LoopbackInternet.handOver(message, from: "s@src.\(Self.origin)", to: [recipient], port: node.port)
            var listing = ""
            let deferred = try await LoopbackInternet.eventually {
                // The state file is written after the attempt; only then is the listing worth a process.
                guard FileManager.default.fileExists(atPath: spool + "/state/" + id) else { return false }
                listing = try await CheckCommand.run(["queue", "list", "--spool", spool]).output
                return listing.contains("451 4.7.1")
            }
            #expect(deferred, "no deferral in the queue listing within 60 s:\n\(listing)\n\(node.log)")
            #expect(listing.contains(id), "\(listing)")
            #expect(listing.contains("1 attempt,"), "\(listing)")
            #expect(listing.contains("<\(recipient)>  pending  (451 4.7.1 Come back later, says the loopback sink)"), "\(listing)")
            #expect(listing.contains("last error: 451 4.7.1 Come back later, says the loopback sink"), "\(listing)")
            #expect(LoopbackInternet.queued(spool) == [id])
            #expect(refusing.dumps().allSatisfy { !$0.contains(token) })

            // The exchanger recovers; the operator does not wait the hour.
            await refusing.stop()
            let accepting = try await SMTPSinkProcess.start(address: "127.0.3.12", port: port, scratch: scratch, name: "sink-d2")
            defer { accepting.child.signal(SIGKILL) }
            let flush = try await CheckCommand.run(["queue", "flush", "--spool", spool])
            #expect(flush.status == 0, "\(flush.output)")
            let delivered = await LoopbackInternet.eventually {
                LoopbackInternet.queued(spool).isEmpty && accepting.dumps().contains { $0.hasSuffix(Self.dumped(message)) }
            }
            #expect(delivered, "not delivered within 60 s of the flush:\n\(node.log)")
            let dumps = accepting.dumps()
            #expect(dumps.count == 1 && dumps.first?.hasSuffix(Self.dumped(message)) == true, "\(dumps)")
            #expect(await node.stop() == 0, "\(node.log)")
            await accepting.stop()
        }
    }

    @Test func aPermanentRefusalBouncesOnceToTheSendersExchanger() async throws {
        let zone = LoopbackInternet.zone(origin: Self.origin, exchangers: [("d3", "127.0.3.21"), ("src3", "127.0.3.22")])
        let scratch = try LoopbackInternet.scratch("sink3", zone: zone)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        try await withDNSTestServer(zones: URL(fileURLWithPath: scratch + "/zones")) { dns in
            let port = try await LoopbackInternet.freePort(on: ["127.0.3.21", "127.0.3.22"])
            let refusing = try await SMTPSinkProcess.start(address: "127.0.3.21", port: port,
                                                           options: ["-f", "RCPT", "-B", "550 5.1.1 No such user at the loopback sink"],
                                                           scratch: scratch, name: "sink-d3-5xx")
            defer { refusing.child.signal(SIGKILL) }
            let senders = try await SMTPSinkProcess.start(address: "127.0.3.22", port: port, scratch: scratch, name: "sink-src3")
            defer { senders.child.signal(SIGKILL) }
            let spool = scratch + "/spool"
            let node = try await MailnodeProcess.start(
                role: "outbound", config: Self.configuration(spool: spool, dnsPort: dns.port, remotePort: port, initialRetry: 1),
                spool: spool, scratch: scratch, name: "outbound")
            defer { node.child.signal(SIGKILL) }

            let token = UUID().uuidString
            let sender = "s@src3.\(Self.origin)"
            let recipient = "u@d3.\(Self.origin)"
            _ = try await LoopbackInternet.handOver(Self.message(token, to: recipient), from: sender, to: [recipient], port: node.port)
            let bounced = await LoopbackInternet.eventually {
                LoopbackInternet.queued(spool).isEmpty && senders.dumps().contains { $0.hasSuffix("\n\n") }
            }
            #expect(bounced, "no bounce within 60 s:\n\(node.log)")
            let bounces = senders.dumps()
            #expect(bounces.count == 1, "\(bounces)")
            let bounce = try #require(bounces.first)
            #expect(bounce.contains("X-Mail-Args: <>"), "\(bounce)")   // RFC 5321 §4.5.5: null reverse path
            #expect(bounce.contains("X-Rcpt-Args: <\(sender)>\n"), "\(bounce)")
            #expect(bounce.contains("Final-Recipient: rfc822; \(recipient)"), "\(bounce)")
            #expect(bounce.contains("Status: 5.1.1"), "\(bounce)")
            #expect(bounce.contains("550 5.1.1 No such user at the loopback sink"), "\(bounce)")
            #expect(bounce.contains(token), "the bounce does not return the message: \(bounce)")
            #expect(refusing.dumps().allSatisfy { !$0.contains("first line \(token)") })
            #expect(!dns.queries("src3.\(Self.origin)", "MX").isEmpty)
            #expect(await node.stop() == 0, "\(node.log)")
            await refusing.stop()
            await senders.stop()
        }
    }
}
