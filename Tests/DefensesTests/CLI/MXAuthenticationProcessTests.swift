import Foundation
import Testing

@testable import Defenses

/// `mailnode --role mx` with `[mx.authentication]` against the dnslib server (DMARCLiveTests'
/// dmarc.test zone: SPF `ip4:192.0.2.0/24 -all`, an Ed25519 key at `ed._domainkey`, `p=reject`):
/// from 127.0.0.1 SPF fails, so a message signed by dmarc.test passes DMARC through DKIM and is
/// stored with our Authentication-Results on top (a forged one removed), while an unsigned one
/// gets 550 5.7.1 at the end of DATA and nothing is stored.
@Suite(.timeLimit(.minutes(2)))
struct MXAuthenticationProcessTests {
    struct Sent: Decodable {
        var data: [Code]
        enum Code: Decodable {
            case number(Int), text(String)
            init(from decoder: any Decoder) throws {
                let container = try decoder.singleValueContainer()
                if let number = try? container.decode(Int.self) { self = .number(number) } else { self = .text(try container.decode(String.self)) }
            }
        }
        var code: Int? { if case .number(let value) = data.first { value } else { nil } }
        var text: String { if data.count > 1, case .text(let value) = data[1] { value } else { "" } }
    }

    static func send(_ message: [UInt8], port: Int, in directory: URL) async throws -> Sent {
        let file = directory.appendingPathComponent("message-\(UUID().uuidString).eml")
        try Data(message).write(to: file)
        let script = DNSFixtures.root.appendingPathComponent("Tests/interop/smtp_send.py").path
        let (status, output) = try await CheckCommand.run(
            executable: "/usr/bin/python3", [script, String(port), "mail.dmarc.test", "bounce@dmarc.test", "u@d.test", file.path])
        try #require(status == 0, "smtp_send failed: \(output)")
        return try JSONDecoder().decode(Sent.self, from: Data(output.utf8))
    }

    /// The stored messages (spool entries in format 2), oldest first.
    static func stored(_ spool: URL) throws -> [String] {
        let queue = spool.appendingPathComponent("queue")
        return try FileManager.default.contentsOfDirectory(atPath: queue.path).sorted().map {
            try String(contentsOf: queue.appendingPathComponent($0), encoding: .utf8)
        }
    }

    @Test func dmarcDecidesAtTheEndOfDataAndOurFieldGoesOnTop() async throws {
        try CheckCommand.requireBinary()
        try await DMARCLiveTests.withServer { server in
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mailnode-mxauth-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: directory) }
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
                [mx.authentication]
                """, in: directory)
            let forged = "Authentication-Results: mx.d.test; dkim=pass header.d=bank.example\r\n"
            let signed = try await Self.send(try DMARCLiveTests.signed(DMARCLiveTests.message(from: "a@dmarc.test", extra: forged)),
                                             port: node.port, in: directory)
            #expect(signed.code == 250, "\(signed.text)\n\(node.log)")
            let unsigned = try await Self.send(DMARCLiveTests.message(from: "a@dmarc.test"), port: node.port, in: directory)
            #expect(unsigned.code == 550, "\(node.log)")
            #expect(unsigned.text.contains("5.7.1"), "\(unsigned.text)")
            await node.stop()

            let entries = try Self.stored(spool)
            #expect(entries.count == 1, "\(entries)")
            let entry = try #require(entries.first)
            #expect(entry.hasPrefix("MAILNODE-SPOOL 2 "))
            // Format 2: our field follows the stored message, ahead of the footer; it is read first.
            let field = try #require(entry.components(separatedBy: "Authentication-Results: mx.d.test;\r\n").last)
            #expect(field.contains("spf=fail smtp.mailfrom=dmarc.test"), "\(entry)")
            #expect(field.contains("dkim=pass header.d=dmarc.test"), "\(entry)")
            #expect(field.contains("dmarc=pass (p=reject"), "\(entry)")
            #expect(!entry.contains("bank.example"), "the forged field claiming mx.d.test stays out")
            #expect(node.log.contains("message refused by DMARC policy"), "\(node.log)")
            #expect(server.queries("_dmarc.dmarc.test", "TXT").count >= 1)
            #expect(server.queries("ed._domainkey.dmarc.test", "TXT").count >= 1)
        }
    }
}
