import NIOCore
import NIOSSL
import Testing
@testable import SMTPCore

extension SMTPClientTests {
    @Suite("STARTTLS and AUTH against aiosmtpd")
    struct Security {
        func tlsPeer(_ extra: [String] = []) async throws -> ClientTestPeer {
            let files = try await ClientFixtures.tlsFiles()
            return try await ClientTestPeer.aiosmtpd(["--tls-cert", files.certificate, "--tls-key", files.key] + extra)
        }

        @Test("opportunistic and required STARTTLS upgrade, then EHLO again", arguments: [ClientTLSPolicy.opportunistic, .required])
        func startTLS(policy: ClientTLSPolicy) async throws {
            let peer = try await tlsPeer()
            defer { peer.stop() }
            let connection = try await SMTPClientConnection.connect(host: "127.0.0.1", port: peer.port,
                                                                    configuration: ClientFixtures.configuration(tls: policy))
            #expect(await connection.isTLS)
            // RFC 3207 §4.2: the post-TLS EHLO no longer offers STARTTLS.
            #expect(await !connection.capabilities.startTLS)
            let result = await connection.send(
                envelope: ClientFixtures.envelope(from: "a@example.org", to: ["b@example.net"]),
                message: ClientFixtures.bytes("Subject: tls\r\n\r\nsecret\r\n"))
            try await connection.quit()
            #expect(result.isDelivered, "\(result)")
            let received = try peer.receivedMessages()
            try #require(received.count == 1)
            #expect(received[0].facts["tls"] as? Bool == true)
        }

        @Test("opportunistic without STARTTLS on offer stays in plaintext")
        func opportunisticWithoutOffer() async throws {
            let peer = try await ClientTestPeer.aiosmtpd()
            defer { peer.stop() }
            let connection = try await SMTPClientConnection.connect(host: "127.0.0.1", port: peer.port,
                                                                    configuration: ClientFixtures.configuration(tls: .opportunistic))
            #expect(await !connection.isTLS)
            try await connection.quit()
        }

        @Test("required STARTTLS not offered is a temporary failure before any mail")
        func requiredWithoutOffer() async throws {
            let peer = try await ClientTestPeer.aiosmtpd()
            defer { peer.stop() }
            let result = await SMTPClient.deliver(
                envelope: ClientFixtures.envelope(from: "a@example.org", to: ["b@example.net"]),
                message: ClientFixtures.bytes("x\r\n"), host: "127.0.0.1", port: peer.port,
                configuration: ClientFixtures.configuration(tls: .required))
            guard case .temporaryFailure(.localPolicy(_, stage: .startTLS), let recipients) = result else {
                Issue.record("expected a temporary STARTTLS policy failure, got \(result)")
                return
            }
            #expect(recipients.count == 1)
            #expect(try peer.receivedMessages().isEmpty)
        }

        @Test("verified TLS: trusted certificate and matching name succeed")
        func verifiedTLS() async throws {
            let files = try await ClientFixtures.tlsFiles()
            let peer = try await tlsPeer()
            defer { peer.stop() }
            let roots = NIOSSLTrustRoots.certificates(try NIOSSLCertificate.fromPEMFile(files.certificate))
            let connection = try await SMTPClientConnection.connect(
                host: "127.0.0.1", port: peer.port,
                configuration: ClientFixtures.configuration(tls: .verify(serverName: "localhost", trustRoots: roots)))
            #expect(await connection.isTLS)
            try await connection.quit()
        }

        @Test("verified TLS: a wrong name or an untrusted certificate fails the attempt, temporarily",
              arguments: ["wrong-name", "untrusted"])
        func verificationFailure(kind: String) async throws {
            let files = try await ClientFixtures.tlsFiles()
            let peer = try await tlsPeer()
            defer { peer.stop() }
            let policy: ClientTLSPolicy = kind == "wrong-name"
                ? .verify(serverName: "mx.wrong.example",
                          trustRoots: .certificates(try NIOSSLCertificate.fromPEMFile(files.certificate)))
                : .verify(serverName: "localhost", trustRoots: .certificates([]))
            do {
                let connection = try await SMTPClientConnection.connect(host: "127.0.0.1", port: peer.port,
                                                                        configuration: ClientFixtures.configuration(tls: policy))
                await connection.close()
                Issue.record("the handshake should have failed")
            } catch {
                guard case .tlsFailed = error else {
                    Issue.record("expected tlsFailed, got \(error)")
                    return
                }
                #expect(!error.isPermanent)
            }
        }

        @Test("AUTH over TLS", arguments: ClientAuthMechanism.allCases)
        func authenticateOverTLS(mechanism: ClientAuthMechanism) async throws {
            let peer = try await tlsPeer(["--auth", "alice:s3cret pass"])
            defer { peer.stop() }
            var configuration = ClientFixtures.configuration(tls: .required)
            configuration.credentials = SMTPClientCredentials(username: "alice", password: "s3cret pass")
            configuration.authenticationMechanisms = [mechanism]
            let connection = try await SMTPClientConnection.connect(host: "127.0.0.1", port: peer.port,
                                                                    configuration: configuration)
            #expect(await connection.isAuthenticated)
            let result = await connection.send(
                envelope: ClientFixtures.envelope(from: "alice@example.org", to: ["b@example.net"]),
                message: ClientFixtures.bytes("Subject: auth\r\n\r\nhi\r\n"))
            try await connection.quit()
            #expect(result.isDelivered, "\(result)")
            let received = try peer.receivedMessages()
            try #require(received.count == 1)
            #expect(received[0].facts["authenticated"] as? Bool == true)
            #expect(received[0].facts["login"] as? String == "alice")
        }

        @Test("a wrong password is a temporary failure (soft bounce)")
        func wrongPassword() async throws {
            let peer = try await tlsPeer(["--auth", "alice:right"])
            defer { peer.stop() }
            var configuration = ClientFixtures.configuration(tls: .required)
            configuration.credentials = SMTPClientCredentials(username: "alice", password: "wrong")
            do {
                let connection = try await SMTPClientConnection.connect(host: "127.0.0.1", port: peer.port,
                                                                        configuration: configuration)
                await connection.close()
                Issue.record("AUTH should have failed")
            } catch {
                guard case .rejected(let reply, stage: .auth) = error else {
                    Issue.record("expected an AUTH rejection, got \(error)")
                    return
                }
                #expect(reply.code == .authenticationFailed)
                #expect(!error.isPermanent)
            }
        }

        @Test("credentials never go over plaintext unless explicitly allowed", arguments: [false, true])
        func refusesPlaintextAuth(allowPlaintext: Bool) async throws {
            // This sink offers AUTH without TLS.
            let peer = try await ClientTestPeer.aiosmtpd(["--auth", "alice:s3cret", "--auth-plaintext"])
            defer { peer.stop() }
            var configuration = ClientFixtures.configuration(tls: .none)
            configuration.credentials = SMTPClientCredentials(username: "alice", password: "s3cret")
            configuration.allowPlaintextAuthentication = allowPlaintext
            do {
                let connection = try await SMTPClientConnection.connect(host: "127.0.0.1", port: peer.port,
                                                                        configuration: configuration)
                #expect(allowPlaintext, "connect must fail without the opt-in")
                #expect(await connection.isAuthenticated)
                try await connection.quit()
            } catch {
                #expect(!allowPlaintext, "unexpected failure: \(error)")
                guard case .localPolicy(let reply, stage: .auth) = error else {
                    Issue.record("expected a local AUTH refusal, got \(error)")
                    return
                }
                #expect(reply.enhancedCode == EnhancedStatusCode(4, 7, 11))
                #expect(!error.isPermanent)
            }
        }

        @Test("plaintext pipelined after the 220 to STARTTLS is refused (response injection, RFC 3207 §6)")
        func injectionAfterStartTLS() async throws {
            let server = try await ClientSilentServer(greeting: "220 evil.test ESMTP\r\n", script: [
                ("EHLO", "250-evil.test\r\n250 STARTTLS\r\n"),
                ("STARTTLS", "220 2.0.0 Ready\r\n250 injected\r\n"),
            ])
            do {
                let connection = try await SMTPClientConnection.connect(
                    host: "127.0.0.1", port: server.port,
                    configuration: ClientFixtures.configuration(tls: .opportunistic, timeout: .seconds(2)))
                await connection.close()
                Issue.record("connect should have failed")
            } catch {
                if case .protocolViolation = error {} else {
                    Issue.record("expected a protocol violation, got \(error)")
                }
                #expect(!error.isPermanent)
            }
            await server.stop()
        }

        @Test("REQUIRETLS that the server does not offer fails permanently with 5.7.30")
        func requireTLSNotOffered() async throws {
            let peer = try await tlsPeer()
            defer { peer.stop() }
            var envelope = ClientFixtures.envelope(from: "a@example.org", to: ["b@example.net"])
            envelope.requireTLS = true
            let result = await SMTPClient.deliver(envelope: envelope, message: ClientFixtures.bytes("x\r\n"),
                                                  host: "127.0.0.1", port: peer.port,
                                                  configuration: ClientFixtures.configuration(tls: .required))
            guard case .permanentFailure(.localPolicy(let reply, stage: .mail), _) = result else {
                Issue.record("expected a permanent REQUIRETLS failure, got \(result)")
                return
            }
            #expect(reply.enhancedCode == .requireTLSNotSupported)
            #expect(try peer.receivedMessages().isEmpty)
        }
    }
}
