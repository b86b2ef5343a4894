import Foundation
import NIOCore
import SMTPCore
import Testing

/// Two real mailnode processes on the loopback Internet (issue 9): `--role outbound` delivers by MX
/// (Tests/interop/dns_server.py) to a second node, `--role mx` for the recipient domain, listening on
/// 127.0.3.31 where the domain's MX points. The mx knows one local recipient (`[mx.recipients]`):
/// the message for her is stored in its spool byte for byte; the unknown recipient beside her is
/// refused at RCPT, and the outbound stage's bounce travels the same way back to the sender's
/// domain, whose MX is that mx too (a catch-all there).
@Suite(.timeLimit(.minutes(3)))
struct OutboundToSecondMailnodeTests {
    static let origin = "mn.lo.test"
    static let exchanger = "127.0.3.31"

    static func mxConfiguration(spool: String) -> String {
        """
        [node]
        hostname = "mx.d4.\(origin)"
        spool = "\(spool)"

        [mx]
        listen = ["\(exchanger):0"]
        domains = ["d4.\(origin)", "src4.\(origin)"]

        [mx.recipients]
        addresses = ["alice@d4.\(origin)", "@src4.\(origin)"]
        """
    }

    static func outboundConfiguration(spool: String, dnsPort: UInt16, remotePort: Int) -> String {
        LoopbackInternet.outboundConfiguration(origin: origin, spool: spool, dnsPort: dnsPort, remotePort: remotePort, retry: 1)
    }

    /// Every committed entry of a (stopped) node's spool with its stored message bytes.
    static func stored(_ spool: String) async throws -> [(entry: SpoolEntry, message: [UInt8])] {
        let store = try SpoolStore(directory: spool)
        var result: [(entry: SpoolEntry, message: [UInt8])] = []
        for id in try store.committedIDs() {
            let entry = try store.committedEntry(id)
            var bytes: [UInt8] = []
            for try await chunk in store.message(of: entry) { bytes += chunk.readableBytesView }
            result.append((entry, bytes))
        }
        return result
    }

    @Test func outboundDeliversToASecondMailnodeAndBouncesItsRefusalBack() async throws {
        let zone = LoopbackInternet.zone(origin: Self.origin, exchangers: [("d4", Self.exchanger), ("src4", Self.exchanger)])
        let scratch = try LoopbackInternet.scratch("second-mailnode", zone: zone)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        try await withDNSTestServer(zones: URL(fileURLWithPath: scratch + "/zones")) { dns in
            let mxSpool = scratch + "/mx-spool"
            let mx = try await MailnodeProcess.start(role: "mx", config: Self.mxConfiguration(spool: mxSpool), spool: mxSpool,
                                                     scratch: scratch, name: "mx")
            defer { mx.child.signal(SIGKILL) }
            let outSpool = scratch + "/out-spool"
            let outbound = try await MailnodeProcess.start(
                role: "outbound", config: Self.outboundConfiguration(spool: outSpool, dnsPort: dns.port, remotePort: mx.port),
                spool: outSpool, scratch: scratch, name: "outbound")
            defer { outbound.child.signal(SIGKILL) }

            let token = UUID().uuidString
            let sender = "s@src4.\(Self.origin)"
            let alice = "alice@d4.\(Self.origin)", stranger = "nobody@d4.\(Self.origin)"
            let message = "From: \(sender)\r\nTo: \(alice), \(stranger)\r\nSubject: second node \(token)\r\n"
                + "Message-ID: <\(token)@src4.\(Self.origin)>\r\n\r\nHello \(token)\r\n.dot-stuffed\r\nbye\r\n"
            _ = try await LoopbackInternet.handOver(message, from: sender, to: [alice, stranger], port: outbound.port)

            // Alice's copy and the bounce for the stranger, both at the mx; nothing left at the outbound stage.
            let settled = await LoopbackInternet.eventually {
                LoopbackInternet.queued(outSpool).isEmpty && LoopbackInternet.queued(mxSpool).count >= 2
            }
            let queues = "outbound queue \(LoopbackInternet.queued(outSpool)), mx queue \(LoopbackInternet.queued(mxSpool))"
            #expect(settled, "\(queues)\n--- outbound ---\n\(outbound.log)\n--- mx ---\n\(mx.log)")
            #expect(await outbound.stop() == 0, "\(outbound.log)")
            #expect(await mx.stop() == 0, "\(mx.log)")

            let entries = try await Self.stored(mxSpool)
            #expect(entries.count == 2, "\(entries.map { String(decoding: $0.message, as: UTF8.self) })")
            let delivered = try #require(entries.first { $0.entry.record.envelope.reversePath != .null }, "no delivery at the mx")
            #expect(delivered.entry.record.envelope.reversePath.description == "<\(sender)>")
            #expect(delivered.entry.record.envelope.recipients.map(\.path.description) == ["<\(alice)>"])
            // What we handed over is the tail of what the mx stored; above it only trace fields.
            let sent = Array(message.utf8)
            #expect(delivered.message.count > sent.count && Array(delivered.message.suffix(sent.count)) == sent,
                    "\(String(decoding: delivered.message, as: UTF8.self))")
            let added = String(decoding: delivered.message.prefix(delivered.message.count - sent.count), as: UTF8.self)
            #expect(added.hasPrefix("Received: from out.\(Self.origin)"), "\(added)")
            #expect(added.contains("by mx.d4.\(Self.origin)"), "\(added)")

            let bounce = try #require(entries.first { $0.entry.record.envelope.reversePath == .null }, "no bounce at the mx")
            #expect(bounce.entry.record.envelope.recipients.map(\.path.description) == ["<\(sender)>"])
            let report = String(decoding: bounce.message, as: UTF8.self)
            #expect(report.contains("Final-Recipient: rfc822; \(stranger)"), "\(report)")
            #expect(report.contains("Status: 5.1.1"), "\(report)")
            #expect(!report.contains("Final-Recipient: rfc822; \(alice)"), "\(report)")
            #expect(report.contains(token), "\(report)")
            #expect(!dns.queries("d4.\(Self.origin)", "MX").isEmpty)
        }
    }
}
