import Foundation
import Testing

@testable import Defenses

/// `mailnode --role mx` with `[mx.rules]` header and body patterns, over smtplib: a message whose
/// body matches gets 550 5.7.1 at the end of DATA (the log names DM23, the list and the rule
/// index), a header match likewise, a clean one is stored — without the `X-Mailnode-` field it
/// came with.
@Suite(.timeLimit(.minutes(2)))
struct MXRulesProcessTests {
    @Test func headerAndBodyRulesRefuseAtTheEndOfData() async throws {
        try CheckCommand.requireBinary()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mailnode-mxrules-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let spool = directory.appendingPathComponent("spool")
        let node = try await MXDNSDefensesProcessTests.start(config: """
            [node]
            hostname = "mx.d.test"
            spool = "\(spool.path)"
            [mx]
            domains = ["d.test"]
            listen = ["127.0.0.1:0"]
            [mx.rules]
            reject_header = ['^Subject:.*viagra']
            reject_body = ['^never$', 'claim your prize']
            """, in: directory)
        func message(subject: String, body: String, extra: String = "") -> [UInt8] {
            Array("From: a@dmarc.test\r\nTo: u@d.test\r\nSubject: \(subject)\r\n\(extra)\r\n\(body)".utf8)
        }
        let filler = String(repeating: "a line of filler text to spread the body over several reads\r\n", count: 2000)
        let body = try await MXAuthenticationProcessTests.send(
            message(subject: "hello", body: filler + "Please CLAIM YOUR PRIZE today\r\n"), port: node.port, in: directory)
        #expect(body.code == 550, "\(node.log)")
        #expect(body.text.contains("5.7.1") && !body.text.lowercased().contains("prize"), "\(body.text)")
        let header = try await MXAuthenticationProcessTests.send(message(subject: "cheap\r\n Viagra", body: "hi\r\n"),
                                                                  port: node.port, in: directory)
        #expect(header.code == 550, "\(node.log)")
        let clean = try await MXAuthenticationProcessTests.send(
            message(subject: "hello", body: filler + "see you\r\n", extra: "X-Mailnode-Spam: ham\r\n"), port: node.port, in: directory)
        #expect(clean.code == 250, "\(clean.text)\n\(node.log)")
        await node.stop()

        let entries = try MXAuthenticationProcessTests.stored(spool)
        #expect(entries.count == 1, "\(entries.count)")
        let entry = try #require(entries.first)
        #expect(entry.contains("see you") && !entry.contains("X-Mailnode-Spam"))
        let log = node.log
        #expect(log.contains("content rule matched") && log.contains("defense=DM23") && log.contains("list=reject_body")
                && log.contains("rule=1") && log.contains("list=reject_header"), "\(log)")
        #expect(!log.contains("today"), "never the message in the log")
        #expect(log.contains("internal header field removed"), "\(log)")
    }
}
