import Foundation
import NIOCore
import NIOPosix
import SMTPCore
import Testing

@testable import Defenses

/// The antivirus stage in real SMTP sessions over a socket, with a real clamd: the verdict is
/// the reply to the end of DATA (or the last BDAT chunk), nothing refused reaches the receiver
/// behind, and what is accepted arrives byte-identical under one trace header.
@Suite("antivirus stage in live SMTP sessions", .serialized)
struct AntivirusSessionTests {
    static func server(_ configuration: AntivirusConfiguration, receiver: MemoryMessageReceiver) -> SMTPServer {
        let listener = SMTPListenerConfiguration(name: "antivirus", port: 0, session: SMTPSessionConfiguration(hostname: "av.test"))
        let stage = AntivirusReceiver(next: receiver, configuration: configuration)
        return SMTPServer(listeners: [listener], services: SMTPServerServices(receiver: stage),
                          group: MultiThreadedEventLoopGroup.singleton)
    }

    static func scanner(_ endpoints: [ClamdEndpoint]) -> ClamdClient {
        ClamdClient(configuration: ClamdConfiguration(endpoints: endpoints, connectTimeout: .seconds(2)))
    }

    /// One transaction; returns the reply to the end of data. `message` is dot-stuffed here.
    static func send(_ port: Int, _ message: String) async throws -> Reply? {
        let client = try await DefenseTestClient.connect(port: port)
        #expect(try await client.reply()?.code == .serviceReady)
        #expect(try await client.command("EHLO upstream.test")?.code == .ok)
        #expect(try await client.command("MAIL FROM:<sender@example.org>")?.code == .ok)
        #expect(try await client.command("RCPT TO:<user@example.net>")?.code == .ok)
        #expect(try await client.command("DATA")?.code == .startMailInput)
        let stuffed = message.replacingOccurrences(of: "\r\n.", with: "\r\n..")
        let reply = try await client.command(stuffed + ".")
        _ = try await client.command("QUIT")
        await client.close()
        return reply
    }

    @Test func transcripts() async throws {
        let eicar = try AntivirusFixtures.eicar()
        try await withClamd { clamd in
            let receiver = MemoryMessageReceiver()
            let server = Self.server(AntivirusConfiguration(scanner: Self.scanner([clamd.tcp])), receiver: receiver)
            let port = try await server.start()[0].port!

            // S: 250 for a clean message, which arrives byte-identical below one header.
            let clean = try await Self.send(port, AntivirusMessages.clean)
            #expect(clean?.code == .ok, "\(String(describing: clean))")
            #expect(receiver.messages.count == 1)
            let stored = String(buffer: try #require(receiver.messages.first).data)
            #expect(stored == "X-Virus-Scanned: clean (ClamAV) by mailnode; attachments=checked\r\n" + AntivirusMessages.clean)

            // S: 554 5.7.0 for EICAR base64 inside a MIME part; the reply names no virus.
            let infected = try await Self.send(port, AntivirusMessages.withAttachment(eicar, name: "notes.txt", type: "text/plain"))
            #expect(infected?.description == "554 5.7.0 Message content rejected")
            // ... inside a ZIP, and inside a message/rfc822 inside a multipart.
            let zipped = AntivirusMessages.withAttachment(TestZip.make([("notes.txt", eicar)]), name: "notes.zip", type: "application/zip")
            #expect(try await Self.send(port, zipped)?.description == "554 5.7.0 Message content rejected")
            let forwarded = AntivirusMessages.forwarding(AntivirusMessages.withAttachment(eicar, name: "notes.txt"))
            #expect(try await Self.send(port, forwarded)?.description == "554 5.7.0 Message content rejected")

            // S: 554 5.7.0 for a blocked attachment (the policy, before clamd).
            let blocked = AntivirusMessages.withAttachment(Array("harmless".utf8), name: "invoice.pdf.exe")
            #expect(try await Self.send(port, blocked)?.description == "554 5.7.0 Message content rejected")

            // Only the clean message got through.
            #expect(receiver.messages.count == 1)

            // clamd stopped: 451 4.3.0, the message stays with the previous stage (nothing stored).
            await clamd.terminate()
            let deferred = try await Self.send(port, AntivirusMessages.clean)
            #expect(deferred?.description == "451 4.3.0 Message could not be checked, try again later")
            #expect(receiver.messages.count == 1)

            // clamd restarted on the same port: the retried message flows again.
            let again = try await clamd.relaunched()
            #expect(try await Self.send(port, AntivirusMessages.clean)?.code == .ok)
            #expect(receiver.messages.count == 2)
            await again.stop()
            await server.shutdown(gracePeriod: .seconds(1))
        }
    }

    /// `blocked_attachments = "strip"`: the blocked part becomes a note and the rest arrives —
    /// also inside a forwarded message/rfc822 — while a virus is still refused, and a message
    /// that *is* the attachment (nothing to keep) is refused too.
    @Test func blockedAttachmentsStrippedTheRestDelivered() async throws {
        let eicar = try AntivirusFixtures.eicar()
        try await withClamd { clamd in
            let receiver = MemoryMessageReceiver()
            var configuration = AntivirusConfiguration(scanner: Self.scanner([clamd.tcp]))
            configuration.stripBlockedAttachments = true
            let server = Self.server(configuration, receiver: receiver)
            let port = try await server.start()[0].port!

            let blocked = AntivirusMessages.withAttachment(Array("MZ pretend program".utf8), name: "invoice.pdf.exe")
            #expect(try await Self.send(port, blocked)?.code == .ok)
            let stored = String(buffer: try #require(receiver.messages.last).data)
            #expect(stored.hasPrefix("X-Virus-Scanned: clean (ClamAV) by mailnode; attachments=checked; removed=invoice.pdf.exe\r\n"))
            #expect(stored.contains("Please find the file attached."))
            #expect(stored.contains("The attachment \"invoice.pdf.exe\" was removed by the mail system: this file type is not accepted."))
            #expect(!stored.contains(Data("MZ pretend program".utf8).base64EncodedString()))
            #expect(stored.contains("--XyZ--"))
            // The result is a well-formed message whose parts the walker reads again, with no blocked part left.
            let parts = try MIMEWalker().parts(of: Array(stored.utf8))
            #expect(AttachmentPolicy.default.evaluate(parts) == nil)
            #expect(parts.count == 2)

            // Inside a forwarded message (7bit message/rfc822): stripped there too.
            let forwarded = AntivirusMessages.forwarding(blocked)
            #expect(try await Self.send(port, forwarded)?.code == .ok)
            let storedForward = String(buffer: try #require(receiver.messages.last).data)
            #expect(storedForward.contains("see below") && storedForward.contains("was removed by the mail system"))

            // A virus is never stripped: 554 as before.
            let infected = AntivirusMessages.withAttachment(eicar, name: "notes.txt", type: "text/plain")
            #expect(try await Self.send(port, infected)?.description == "554 5.7.0 Message content rejected")
            // A message that is only the blocked file cannot be stripped: 554.
            let bare = "From: a@example.org\r\nTo: b@example.net\r\nContent-Type: application/octet-stream; name=\"run.exe\"\r\n\r\nMZ\r\n"
            #expect(try await Self.send(port, bare)?.description == "554 5.7.0 Message content rejected")
            #expect(receiver.messages.count == 2)
            await server.shutdown(gracePeriod: .seconds(1))
        }
    }

    @Test func eicarSplitAcrossBDATChunks() async throws {
        let eicar = try AntivirusFixtures.eicar()
        try await withClamd { clamd in
            let receiver = MemoryMessageReceiver()
            let server = Self.server(AntivirusConfiguration(scanner: Self.scanner([clamd.unix])), receiver: receiver)
            let port = try await server.start()[0].port!
            let message = Array(AntivirusMessages.withAttachment(eicar, name: "notes.txt", type: "text/plain").utf8)
            let middle = message.count / 2
            let client = try await DefenseTestClient.connect(port: port)
            #expect(try await client.reply()?.code == .serviceReady)
            #expect(try await client.command("EHLO upstream.test")?.code == .ok)
            #expect(try await client.command("MAIL FROM:<sender@example.org>")?.code == .ok)
            #expect(try await client.command("RCPT TO:<user@example.net>")?.code == .ok)
            try await client.send("BDAT \(middle)\r\n" + String(decoding: message[..<middle], as: UTF8.self))
            #expect(try await client.reply()?.code == .ok)
            try await client.send("BDAT \(message.count - middle) LAST\r\n" + String(decoding: message[middle...], as: UTF8.self))
            #expect(try await client.reply()?.description == "554 5.7.0 Message content rejected")
            _ = try await client.command("QUIT")
            await client.close()
            #expect(receiver.messages.isEmpty)
            await server.shutdown(gracePeriod: .seconds(1))
        }
    }

    @Test func passWithHeaderWhenOptedIn() async throws {
        let port = try await ClamdProcess.freePort()
        let receiver = MemoryMessageReceiver()
        let configuration = AntivirusConfiguration(
            scanner: Self.scanner([.tcp(host: "127.0.0.1", port: port)]), failurePolicy: .passWithHeader)
        let server = Self.server(configuration, receiver: receiver)
        let smtpPort = try await server.start()[0].port!
        // A sender's own "clean" verdict is removed; ours, honest, goes on top.
        let forged = "X-Virus-Scanned: clean\r\n" + AntivirusMessages.clean.replacingOccurrences(
            of: "Subject: hello\r\n", with: "Subject: hello\r\nx-virus-scanned: clean,\r\n really\r\n")
        #expect(try await Self.send(smtpPort, forged)?.code == .ok)
        let stored = String(buffer: try #require(receiver.messages.first).data)
        #expect(stored == "X-Virus-Scanned: unscanned (scanner unavailable) by mailnode; attachments=checked\r\n"
            + AntivirusMessages.clean)
        await server.shutdown(gracePeriod: .seconds(1))
    }

    @Test func nestedZipBeyondClamdsRecursionIsRefused() async throws {
        // Ten ZIPs, each stored inside the next, around a harmless text: our policy sees only
        // names (4 levels) and lets it pass; clamd stops at MaxRecursion and, with
        // AlertExceedsMax, reports it instead of answering OK half-scanned.
        var zip = TestZip.make([("a.txt", Array("harmless".utf8))])
        for level in 0..<10 { zip = TestZip.make([("level\(level).zip", zip)]) }
        try await withClamd(extraConfiguration: ["AlertExceedsMax yes", "MaxRecursion 5"]) { clamd in
            let outcome = await Self.scanner([clamd.tcp]).scan(ByteBuffer(bytes: zip))
            guard case .infected(let signature) = outcome.result else {
                Issue.record("expected a limits heuristic, got \(outcome.result)")
                return
            }
            #expect(signature.hasPrefix("Heuristics.Limits.Exceeded"), "\(signature)")
            let receiver = MemoryMessageReceiver()
            let server = Self.server(AntivirusConfiguration(scanner: Self.scanner([clamd.tcp])), receiver: receiver)
            let port = try await server.start()[0].port!
            let message = AntivirusMessages.withAttachment(zip, name: "photos.zip", type: "application/zip")
            #expect(try await Self.send(port, message)?.description == "554 5.7.0 Message content rejected")
            #expect(receiver.messages.isEmpty)
            await server.shutdown(gracePeriod: .seconds(1))
        }
    }

    @Test func mimeBombIsRefusedAndTheStageKeepsServing() async throws {
        try await withClamd { clamd in
            let receiver = MemoryMessageReceiver()
            let server = Self.server(AntivirusConfiguration(scanner: Self.scanner([clamd.tcp])), receiver: receiver)
            let port = try await server.start()[0].port!
            var bomb = "Subject: many parts\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
            for index in 0..<10_000 { bomb += "--b\r\n\r\n\(index)\r\n" }
            bomb += "--b--\r\n"
            #expect(try await Self.send(port, bomb)?.description == "554 5.7.0 Message content rejected")
            #expect(try await Self.send(port, AntivirusMessages.clean)?.code == .ok)
            #expect(receiver.messages.count == 1)
            await server.shutdown(gracePeriod: .seconds(1))
        }
    }
}
