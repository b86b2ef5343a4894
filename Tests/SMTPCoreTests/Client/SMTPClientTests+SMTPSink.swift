import Foundation
import NIOCore
import Testing
@testable import SMTPCore

extension SMTPClientTests {
    @Suite("Against Postfix smtp-sink")
    struct PostfixSink {
        /// smtp-sink writes its dump when the transaction ends; wait until it is complete.
        func dump(of peer: ClientTestPeer, containing marker: String) async throws -> String {
            for _ in 0..<100 {
                for url in peer.files(withSuffix: "") where !url.lastPathComponent.hasPrefix(".")
                    && url.lastPathComponent != "peer.log" {
                    if let text = try? String(contentsOf: url, encoding: .utf8), text.contains(marker) { return text }
                }
                try await Task.sleep(for: .milliseconds(50))
            }
            throw ClientInterop.SetupError(description: "no smtp-sink dump containing \(marker): \(peer.log)")
        }

        @Test("pipelined delivery with DSN parameters; smtp-sink offers no CHUNKING, so DATA is used")
        func deliveryWithDSN() async throws {
            let peer = try await ClientTestPeer.smtpSink()
            defer { peer.stop() }
            var envelope = OutboundEnvelope(
                sender: .mailbox(ClientFixtures.mailbox("a@example.org")),
                recipients: [OutboundRecipient(.mailbox(ClientFixtures.mailbox("b@example.net")),
                                               notify: .on(success: true, failure: true, delay: false),
                                               originalRecipient: OriginalRecipient(addressType: "rfc822",
                                                                                    address: "b@example.net"))])
            envelope.dsnReturn = .headers
            envelope.envelopeID = "QQ314159"
            let connection = try await SMTPClientConnection.connect(host: "127.0.0.1", port: peer.port,
                                                                    configuration: ClientFixtures.configuration())
            let capabilities = await connection.capabilities
            #expect(capabilities.pipelining)
            #expect(capabilities.dsn)
            #expect(capabilities.eightBitMIME)
            #expect(capabilities.authMechanisms == ["PLAIN", "LOGIN"])
            #expect(!capabilities.chunking)
            let result = await connection.send(
                envelope: envelope, message: ClientFixtures.bytes("Subject: sink\r\n\r\n.dot\nmarker-body-line\r\n"))
            try await connection.quit()
            #expect(result.isDelivered, "\(result)")

            let dump = try await dump(of: peer, containing: "marker-body-line")
            #expect(dump.contains("X-Mail-Args: <a@example.org> RET=HDRS ENVID=QQ314159\n"))
            #expect(dump.contains("X-Rcpt-Args: <b@example.net> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;b@example.net\n"))
            #expect(dump.contains("\n.dot\n"))
        }

        @Test("DSN parameters are dropped for a server without DSN")
        func noDSNWithoutOffer() async throws {
            let peer = try await ClientTestPeer.smtpSink(["-N"])
            defer { peer.stop() }
            var envelope = OutboundEnvelope(
                sender: .mailbox(ClientFixtures.mailbox("a@example.org")),
                recipients: [OutboundRecipient(.mailbox(ClientFixtures.mailbox("b@example.net")), notify: .never)])
            envelope.envelopeID = "ID1"
            let result = await SMTPClient.deliver(envelope: envelope,
                                                  message: ClientFixtures.bytes("Subject: x\r\n\r\nmarker-nodsn\r\n"),
                                                  host: "127.0.0.1", port: peer.port,
                                                  configuration: ClientFixtures.configuration())
            #expect(result.isDelivered, "\(result)")
            let dump = try await dump(of: peer, containing: "marker-nodsn")
            #expect(dump.contains("X-Mail-Args: <a@example.org>\n"))
            #expect(dump.contains("X-Rcpt-Args: <b@example.net>\n"))
        }

        @Test("LMTP (smtp-sink -L): a reply per recipient")
        func lmtp() async throws {
            let peer = try await ClientTestPeer.smtpSink(["-L"])
            defer { peer.stop() }
            var configuration = ClientFixtures.configuration()
            configuration.mode = .lmtp
            let result = await SMTPClient.deliver(
                envelope: ClientFixtures.envelope(from: "a@example.org", to: ["b@example.net", "c@example.net"]),
                message: ClientFixtures.bytes("Subject: lmtp\r\n\r\nmarker-lmtp\r\n"),
                host: "127.0.0.1", port: peer.port, configuration: configuration)
            #expect(result.isDelivered, "\(result)")
            #expect(result.recipients.map(\.isAccepted) == [true, true])
            let dump = try await dump(of: peer, containing: "marker-lmtp")
            #expect(dump.contains("X-Client-Proto: LMTP"))
        }

        @Test("AUTH offered in plaintext: the client refuses to send credentials")
        func refusesPlaintextAuth() async throws {
            let peer = try await ClientTestPeer.smtpSink()
            defer { peer.stop() }
            var configuration = ClientFixtures.configuration(tls: .opportunistic)
            configuration.credentials = SMTPClientCredentials(username: "u", password: "p")
            let result = await SMTPClient.deliver(
                envelope: ClientFixtures.envelope(from: "a@example.org", to: ["b@example.net"]),
                message: ClientFixtures.bytes("x\r\n"), host: "127.0.0.1", port: peer.port,
                configuration: configuration)
            guard case .temporaryFailure(.localPolicy(_, stage: .auth), _) = result else {
                Issue.record("expected a local AUTH refusal, got \(result)")
                return
            }
        }

        @Test("a rejecting greeting is a permanent failure, not a crash")
        func rejectedGreeting() async throws {
            let peer = try await ClientTestPeer.smtpSink(["-f", "CONNECT"])
            defer { peer.stop() }
            let result = await SMTPClient.deliver(
                envelope: ClientFixtures.envelope(from: "a@example.org", to: ["b@example.net"]),
                message: ClientFixtures.bytes("x\r\n"), host: "127.0.0.1", port: peer.port,
                configuration: ClientFixtures.configuration())
            guard case .permanentFailure(.rejected(let reply, stage: .greeting), _) = result else {
                Issue.record("expected a permanent greeting rejection, got \(result)")
                return
            }
            #expect(reply.code.isPermanentFailure)
        }

        @Test("421 at MAIL: temporary, and the connection is done")
        func serviceNotAvailable() async throws {
            let peer = try await ClientTestPeer.smtpSink(["-Q", "MAIL"])
            defer { peer.stop() }
            let connection = try await SMTPClientConnection.connect(host: "127.0.0.1", port: peer.port,
                                                                    configuration: ClientFixtures.configuration())
            let result = await connection.send(
                envelope: ClientFixtures.envelope(from: "a@example.org", to: ["b@example.net"]),
                message: ClientFixtures.bytes("x\r\n"))
            guard case .temporaryFailure(.rejected(let reply, stage: .mail), _) = result else {
                Issue.record("expected a temporary 421 at MAIL, got \(result)")
                return
            }
            #expect(reply.code == .serviceNotAvailable)
            #expect(await !connection.isUsable)
            let again = await connection.send(
                envelope: ClientFixtures.envelope(from: "a@example.org", to: ["b@example.net"]),
                message: ClientFixtures.bytes("x\r\n"))
            #expect(again.error == .connectionUnusable)
        }

        @Test("lock-step (smtp-sink -r RCPT): every recipient 4xx → temporary, no data")
        func temporaryRecipientFailures() async throws {
            let peer = try await ClientTestPeer.smtpSink(["-r", "RCPT"])
            defer { peer.stop() }
            let result = await SMTPClient.deliver(
                envelope: ClientFixtures.envelope(from: "a@example.org", to: ["b@example.net", "c@example.net"]),
                message: ClientFixtures.bytes("x\r\n"), host: "127.0.0.1", port: peer.port,
                configuration: ClientFixtures.configuration())
            guard case .temporaryFailure(.rejected(let reply, stage: .rcpt), let recipients) = result else {
                Issue.record("expected temporary RCPT failures, got \(result)")
                return
            }
            #expect(reply.code.isTransientFailure)
            #expect(recipients.allSatisfy { if case .temporaryFailure = $0.status { true } else { false } })
        }

        @Test("the final dot rejected (smtp-sink -f .): permanent for every accepted recipient")
        func dataRejected() async throws {
            let peer = try await ClientTestPeer.smtpSink(["-f", "."])
            defer { peer.stop() }
            let result = await SMTPClient.deliver(
                envelope: ClientFixtures.envelope(from: "a@example.org", to: ["b@example.net", "c@example.net"]),
                message: ClientFixtures.bytes("Subject: x\r\n\r\nbody\r\n"), host: "127.0.0.1", port: peer.port,
                configuration: ClientFixtures.configuration())
            guard case .permanentFailure(.rejected(let reply, stage: .dataTermination), let recipients) = result else {
                Issue.record("expected a permanent end-of-data failure, got \(result)")
                return
            }
            #expect(reply.code.isPermanentFailure)
            #expect(recipients.count == 2)
            #expect(recipients.allSatisfy { if case .permanentFailure = $0.status { true } else { false } })
        }
    }
}
