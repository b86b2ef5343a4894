import Foundation
import NIOCore
import NIOPosix
import Testing
@testable import SMTPCore

extension SMTPClientTests {
    @Suite("Failures are classified results, never hangs")
    struct Failures {
        @Test("a declared size above the server's SIZE fails early and permanently")
        func sizeTooLarge() async throws {
            let peer = try await ClientTestPeer.aiosmtpd(["--size", "1000"])
            defer { peer.stop() }
            let connection = try await SMTPClientConnection.connect(host: "127.0.0.1", port: peer.port,
                                                                    configuration: ClientFixtures.configuration())
            #expect(await connection.capabilities.maxMessageSize == 1000)
            let big = ClientFixtures.bytes("Subject: big\r\n\r\n" + String(repeating: "0123456789\r\n", count: 200))
            let result = await connection.send(
                envelope: ClientFixtures.envelope(from: "a@example.org", to: ["b@example.net"]), message: big)
            guard case .permanentFailure(.localPolicy(let reply, stage: .mail), let recipients) = result else {
                Issue.record("expected an early permanent SIZE failure, got \(result)")
                return
            }
            #expect(reply.code == .exceededStorage)
            #expect(reply.enhancedCode == .messageTooBig)
            #expect(recipients.allSatisfy { if case .permanentFailure = $0.status { true } else { false } })
            // The connection is still good for a message that fits.
            let small = await connection.send(
                envelope: ClientFixtures.envelope(from: "a@example.org", to: ["b@example.net"]),
                message: ClientFixtures.bytes("Subject: small\r\n\r\nok\r\n"))
            #expect(small.isDelivered, "\(small)")
            try await connection.quit()
            #expect(try peer.receivedMessages().count == 1)
        }

        @Test("SMTPUTF8: required and missing → permanent 5.6.7; offered → declared")
        func smtpUTF8() async throws {
            let envelope = ClientFixtures.envelope(from: "j\u{F6}ran@example.org", to: ["b@example.net"])
            let message = ClientFixtures.bytes("Subject: utf8\r\n\r\nhej\r\n")

            let plain = try await ClientTestPeer.aiosmtpd()
            defer { plain.stop() }
            let refused = await SMTPClient.deliver(envelope: envelope, message: message, host: "127.0.0.1",
                                                   port: plain.port, configuration: ClientFixtures.configuration())
            guard case .permanentFailure(.localPolicy(let reply, stage: .mail), _) = refused else {
                Issue.record("expected a permanent SMTPUTF8 failure, got \(refused)")
                return
            }
            #expect(reply.enhancedCode == .utf8AddressNotPermitted)

            let capable = try await ClientTestPeer.aiosmtpd(["--smtputf8"])
            defer { capable.stop() }
            let delivered = await SMTPClient.deliver(envelope: envelope, message: message, host: "127.0.0.1",
                                                     port: capable.port, configuration: ClientFixtures.configuration())
            #expect(delivered.isDelivered, "\(delivered)")
            let received = try capable.receivedMessages()
            try #require(received.count == 1)
            #expect((received[0].facts["mail_options"] as? [String] ?? []).contains("SMTPUTF8"))
            #expect(received[0].facts["mail_from"] as? String == "j\u{F6}ran@example.org")
        }

        @Test("an internationalised domain alone goes out as A-labels without SMTPUTF8")
        func idnDomainWithoutSMTPUTF8() async throws {
            let peer = try await ClientTestPeer.aiosmtpd()
            defer { peer.stop() }
            let result = await SMTPClient.deliver(
                envelope: ClientFixtures.envelope(from: "a@example.org", to: ["b@b\u{FC}cher.example"]),
                message: ClientFixtures.bytes("Subject: idn\r\n\r\nx\r\n"), host: "127.0.0.1", port: peer.port,
                configuration: ClientFixtures.configuration())
            #expect(result.isDelivered, "\(result)")
            let received = try peer.receivedMessages()
            try #require(received.count == 1)
            #expect(received[0].facts["rcpt_tos"] as? [String] == ["b@xn--bcher-kva.example"])
        }

        @Test("a port nobody listens on is a temporary failure")
        func deadPort() async throws {
            let (port, reserved) = try ClientInterop.deadPort()
            defer { close(reserved) }
            let result = await SMTPClient.deliver(
                envelope: ClientFixtures.envelope(from: "a@example.org", to: ["b@example.net", "c@example.net"]),
                message: ClientFixtures.bytes("x\r\n"), host: "127.0.0.1", port: port,
                configuration: ClientFixtures.configuration())
            guard case .temporaryFailure(.connectionFailed, let recipients) = result else {
                Issue.record("expected a temporary connection failure, got \(result)")
                return
            }
            #expect(recipients.count == 2)
            #expect(recipients.allSatisfy { if case .temporaryFailure = $0.status { true } else { false } })
        }

        @Test("a server that never greets times out within the configured time")
        func silentServer() async throws {
            let server = try await ClientSilentServer()
            let start = ContinuousClock.now
            let result = await SMTPClient.deliver(
                envelope: ClientFixtures.envelope(from: "a@example.org", to: ["b@example.net"]),
                message: ClientFixtures.bytes("x\r\n"), host: "127.0.0.1", port: server.port,
                configuration: ClientFixtures.configuration(timeout: .seconds(1)))
            let elapsed = ContinuousClock.now - start
            await server.stop()
            guard case .temporaryFailure(.timeout(.greeting), _) = result else {
                Issue.record("expected a greeting timeout, got \(result)")
                return
            }
            #expect(elapsed < .seconds(5))
            #expect(elapsed >= .milliseconds(900))
        }

        @Test("a server that greets and then goes silent times out at EHLO")
        func silentAfterGreeting() async throws {
            let server = try await ClientSilentServer(greeting: "220 quiet.test ESMTP\r\n")
            let start = ContinuousClock.now
            do {
                let connection = try await SMTPClientConnection.connect(
                    host: "127.0.0.1", port: server.port,
                    configuration: ClientFixtures.configuration(timeout: .seconds(1)))
                await connection.close()
                Issue.record("connect should have timed out")
            } catch {
                #expect(error == .timeout(.hello))
                #expect(!error.isPermanent)
            }
            #expect(ContinuousClock.now - start < .seconds(5))
            await server.stop()
        }
    }
}
