import Foundation
import NIOCore
import Testing
@testable import SMTPCore

/// The SMTP/LMTP client against real peers on loopback: Python aiosmtpd (with the small
/// extensions in `Tests/interop/client_sink.py`) and Postfix's `smtp-sink`.
/// Serialized: each test starts its own peer process, and the machine has two cores.
@Suite("SMTPClientTests", .serialized, .timeLimit(.minutes(2)))
struct SMTPClientTests {}

extension SMTPClientTests {
    @Suite("Delivery against aiosmtpd")
    struct Delivery {
        @Test("content arrives byte-exact: dot-stuffing, bare LF and bare CR repaired",
              arguments: [(true, true), (true, false), (false, true)])
        func byteExactDelivery(serverPipelining: Bool, clientPipelining: Bool) async throws {
            let peer = try await ClientTestPeer.aiosmtpd(serverPipelining ? ["--pipelining"] : [])
            defer { peer.stop() }
            let message = "Subject: test\r\nFrom: <a@example.org>\r\n\r\n.leading dot\nbare LF\r\nbare\rCR\r\n"
                + "..two dots\r\n.\r\n\r\n.\nlast line without CRLF"
            let expected = "Subject: test\r\nFrom: <a@example.org>\r\n\r\n.leading dot\r\nbare LF\r\nbare\r\nCR\r\n"
                + "..two dots\r\n.\r\n\r\n.\r\nlast line without CRLF\r\n"
            var configuration = ClientFixtures.configuration()
            configuration.usePipelining = clientPipelining

            let connection = try await SMTPClientConnection.connect(host: "127.0.0.1", port: peer.port,
                                                                    configuration: configuration)
            #expect(await connection.capabilities.pipelining == serverPipelining)
            #expect(await connection.capabilities.isExtended)
            let result = await connection.send(
                envelope: ClientFixtures.envelope(from: "a@example.org", to: ["b@example.net"]),
                message: ClientFixtures.bytes(message))
            try await connection.quit()

            #expect(result.isDelivered, "\(result)")
            #expect(result.recipients.map(\.reply.code) == [.ok])
            let received = try peer.receivedMessages()
            try #require(received.count == 1)
            #expect(String(decoding: received[0].content, as: UTF8.self) == expected)
            #expect(received[0].facts["mail_from"] as? String == "a@example.org")
            #expect(received[0].facts["rcpt_tos"] as? [String] == ["b@example.net"])
            // aiosmtpd announces SIZE; the client declares the source size (RFC 1870).
            #expect(received[0].facts["mail_options"] as? [String] == ["SIZE=\(message.utf8.count)"])
            #expect(received[0].facts["helo"] as? String == "client.test")
        }

        @Test("per-recipient results: accepted, 550, 450", arguments: [true, false])
        func perRecipientResults(pipelining: Bool) async throws {
            let peer = try await ClientTestPeer.aiosmtpd([
                "--pipelining", "--reject", "bad@example.net", "--tempfail", "busy@example.net",
            ])
            defer { peer.stop() }
            var configuration = ClientFixtures.configuration()
            configuration.usePipelining = pipelining
            let result = await SMTPClient.deliver(
                envelope: ClientFixtures.envelope(from: "a@example.org",
                                                  to: ["one@example.net", "bad@example.net", "busy@example.net", "two@example.net"]),
                message: ClientFixtures.bytes("Subject: x\r\n\r\nhello\r\n"),
                host: "127.0.0.1", port: peer.port, configuration: configuration)

            #expect(result.isDelivered, "\(result)")
            let statuses = result.recipients
            try #require(statuses.count == 4)
            #expect(statuses[0].isAccepted)
            guard case .permanentFailure(.rejected(let bad, stage: .rcpt)) = statuses[1].status else {
                Issue.record("bad@ should fail permanently at RCPT: \(statuses[1])")
                return
            }
            #expect(bad.code == .mailboxUnavailable)
            #expect(bad.enhancedCode == .badDestinationMailbox)
            guard case .temporaryFailure(.rejected(let busy, stage: .rcpt)) = statuses[2].status else {
                Issue.record("busy@ should fail temporarily at RCPT: \(statuses[2])")
                return
            }
            #expect(busy.code == .mailboxBusy)
            #expect(statuses[3].isAccepted)
            let received = try peer.receivedMessages()
            try #require(received.count == 1)
            #expect(received[0].facts["rcpt_tos"] as? [String] == ["one@example.net", "two@example.net"])
        }

        @Test("no accepted recipient: no data; the connection carries on with RSET")
        func severalMessagesOnOneConnection() async throws {
            let peer = try await ClientTestPeer.aiosmtpd([
                "--pipelining", "--reject", "bad@example.net", "--tempfail", "busy@example.net",
            ])
            defer { peer.stop() }
            let connection = try await SMTPClientConnection.connect(host: "127.0.0.1", port: peer.port,
                                                                    configuration: ClientFixtures.configuration())
            let message = ClientFixtures.bytes("Subject: x\r\n\r\nbody\r\n")

            let allRejected = await connection.send(
                envelope: ClientFixtures.envelope(from: "a@example.org", to: ["bad@example.net"]), message: message)
            guard case .permanentFailure(.rejected(let reply, stage: .rcpt), _) = allRejected else {
                Issue.record("expected a permanent RCPT failure, got \(allRejected)")
                return
            }
            #expect(reply.code == .mailboxUnavailable)
            #expect(try peer.receivedMessages().isEmpty)

            let mixed = await connection.send(
                envelope: ClientFixtures.envelope(from: "a@example.org", to: ["bad@example.net", "busy@example.net"]),
                message: message)
            guard case .temporaryFailure(.rejected(let busy, stage: .rcpt), _) = mixed else {
                Issue.record("a temporary RCPT failure should make the message temporary: \(mixed)")
                return
            }
            #expect(busy.code == .mailboxBusy)

            for index in 1...3 {
                let result = await connection.send(
                    envelope: ClientFixtures.envelope(from: "a@example.org", to: ["rcpt\(index)@example.net"]),
                    message: ClientFixtures.bytes("Subject: \(index)\r\n\r\nbody \(index)\r\n"))
                #expect(result.isDelivered, "\(result)")
            }
            #expect(await connection.isUsable)
            try await connection.quit()
            #expect(await !connection.isUsable)

            let received = try peer.receivedMessages()
            #expect(received.map { $0.facts["rcpt_tos"] as? [String] ?? [] }
                    == [["rcpt1@example.net"], ["rcpt2@example.net"], ["rcpt3@example.net"]])
            #expect(received.map { String(decoding: $0.content, as: UTF8.self) }
                    == (1...3).map { "Subject: \($0)\r\n\r\nbody \($0)\r\n" })
        }

        @Test("a 4 MiB message streams through in chunks")
        func streamsLargeMessage() async throws {
            let peer = try await ClientTestPeer.aiosmtpd(["--pipelining"])
            defer { peer.stop() }
            let stream = ClientGeneratedLines(lines: 64 * 1024, linesPerChunk: 1000)
            let total = stream.totalSize
            let lines = stream.lines
            let result = await SMTPClient.deliver(
                envelope: ClientFixtures.envelope(from: "a@example.org", to: ["b@example.net"]),
                message: stream, size: total,
                host: "127.0.0.1", port: peer.port, configuration: ClientFixtures.configuration())
            #expect(result.isDelivered, "\(result)")
            let received = try peer.receivedMessages()
            try #require(received.count == 1)
            // Every bare LF became CRLF on the way.
            #expect(received[0].content.count == total + lines)
            #expect(received[0].content.starts(with: Array(ClientGeneratedLines.line(0).replacingOccurrences(of: "\n", with: "\r\n").utf8)))
        }

        @Test("BDAT when CHUNKING is offered and preferred, DATA otherwise", arguments: [true, false])
        func chunking(preferChunking: Bool) async throws {
            let peer = try await ClientTestPeer.aiosmtpd(["--chunking", "--pipelining"])
            defer { peer.stop() }
            var configuration = ClientFixtures.configuration()
            configuration.preferChunking = preferChunking
            configuration.chunkSize = 1000
            var message = "Subject: chunks\r\n\r\n"
            for number in 0..<120 { message += (number % 7 == 0 ? "." : "") + "line \(number) of the chunked message\n" }
            let expected = message.replacingOccurrences(of: "\n", with: "\r\n").replacingOccurrences(of: "\r\r\n", with: "\r\n")

            let connection = try await SMTPClientConnection.connect(host: "127.0.0.1", port: peer.port,
                                                                    configuration: configuration)
            #expect(await connection.capabilities.chunking)
            let result = await connection.send(
                envelope: ClientFixtures.envelope(from: "a@example.org", to: ["b@example.net", "c@example.net"]),
                message: ClientFixtures.bytes(message))
            try await connection.quit()
            #expect(result.isDelivered, "\(result)")
            let received = try peer.receivedMessages()
            try #require(received.count == 1)
            #expect(received[0].facts["bdat"] as? Bool == preferChunking)
            #expect(String(decoding: received[0].content, as: UTF8.self) == expected)
        }

        @Test("LMTP: one reply per accepted recipient after the data", arguments: [false, true])
        func lmtp(chunking: Bool) async throws {
            let peer = try await ClientTestPeer.aiosmtpd(
                ["--lmtp", "--pipelining", "--lmtp-fail", "full@example.net", "--reject", "bad@example.net"]
                    + (chunking ? ["--chunking"] : []))
            defer { peer.stop() }
            var configuration = ClientFixtures.configuration()
            configuration.mode = .lmtp
            let result = await SMTPClient.deliver(
                envelope: ClientFixtures.envelope(from: "a@example.org",
                                                  to: ["one@example.net", "full@example.net", "bad@example.net", "two@example.net"]),
                message: ClientFixtures.bytes("Subject: lmtp\r\n\r\nhi\r\n"),
                host: "127.0.0.1", port: peer.port, configuration: configuration)
            #expect(result.isDelivered, "\(result)")
            let statuses = result.recipients
            try #require(statuses.count == 4)
            #expect(statuses[0].isAccepted)
            #expect(statuses[0].reply.text.contains("one@example.net"))
            guard case .permanentFailure(.rejected(let full, stage: .dataTermination)) = statuses[1].status else {
                Issue.record("full@ should fail after the data: \(statuses[1])")
                return
            }
            #expect(full.code == .exceededStorage)
            guard case .permanentFailure(.rejected(_, stage: .rcpt)) = statuses[2].status else {
                Issue.record("bad@ should fail at RCPT: \(statuses[2])")
                return
            }
            #expect(statuses[3].isAccepted)
            #expect(statuses[3].reply.text.contains("two@example.net"))
            let received = try peer.receivedMessages()
            try #require(received.count == 1)
            #expect(received[0].facts["bdat"] as? Bool == chunking)
        }

        @Test("BODY=8BITMIME is declared when asked for and offered")
        func eightBitMIME() async throws {
            let peer = try await ClientTestPeer.aiosmtpd()
            defer { peer.stop() }
            var envelope = ClientFixtures.envelope(from: "a@example.org", to: ["b@example.net"])
            envelope.body = .eightBitMIME
            let message = "Subject: caf\u{E9}\r\n\r\nd\u{E9}j\u{E0} vu\r\n"
            let result = await SMTPClient.deliver(envelope: envelope, message: ClientFixtures.bytes(message),
                                                  host: "127.0.0.1", port: peer.port,
                                                  configuration: ClientFixtures.configuration())
            #expect(result.isDelivered, "\(result)")
            let received = try peer.receivedMessages()
            try #require(received.count == 1)
            #expect((received[0].facts["mail_options"] as? [String] ?? []).contains("BODY=8BITMIME"))
            #expect(received[0].content == Array(message.utf8))
        }
    }
}

/// Lines of text ending in bare LF, produced on demand in chunks (never the whole message).
struct ClientGeneratedLines: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let lines: Int
    let linesPerChunk: Int

    static func line(_ number: Int) -> String {
        "line \(String(number).leftPadded(to: 6)) " + String(repeating: "x", count: 50) + "\n"
    }

    var totalSize: Int { (0..<lines).reduce(0) { $0 + Self.line($1).utf8.count } }

    struct AsyncIterator: AsyncIteratorProtocol {
        let lines: Int
        let linesPerChunk: Int
        var position = 0

        mutating func next() async -> ByteBuffer? {
            guard position < lines else { return nil }
            var buffer = ByteBuffer()
            for number in position..<Swift.min(position + linesPerChunk, lines) { buffer.writeString(ClientGeneratedLines.line(number)) }
            position += linesPerChunk
            return buffer
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(lines: lines, linesPerChunk: linesPerChunk) }
}
