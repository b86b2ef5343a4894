import NIOCore
import Testing
@testable import SMTPCore

extension SMTPClientTests {
    @Suite("Client pieces without sockets")
    struct Units {
        @Test("EHLO keywords parse into capabilities")
        func capabilities() {
            let reply = Reply(.ok, lines: [
                "mx.example.org greets client.test", "PIPELINING", "SIZE 10240000", "8BITMIME",
                "AUTH=PLAIN LOGIN", "auth plain login CRAM-MD5", "starttls", "ENHANCEDSTATUSCODES",
                "CHUNKING", "BINARYMIME", "DSN", "SMTPUTF8", "REQUIRETLS", "-bad keyword",
            ])
            let capabilities = ServerCapabilities(ehloReply: reply)
            #expect(capabilities.isExtended)
            #expect(capabilities.serverName == "mx.example.org")
            #expect(capabilities.pipelining && capabilities.eightBitMIME && capabilities.startTLS)
            #expect(capabilities.chunking && capabilities.binaryMIME && capabilities.dsn)
            #expect(capabilities.smtpUTF8 && capabilities.requireTLS && capabilities.enhancedStatusCodes)
            #expect(capabilities.maxMessageSize == 10_240_000)
            #expect(capabilities.authMechanisms == ["PLAIN", "LOGIN", "PLAIN", "LOGIN", "CRAM-MD5"])
            #expect(!capabilities.supports("-BAD"))

            let unlimited = ServerCapabilities(ehloReply: Reply(.ok, lines: ["mx", "SIZE 0"]))
            #expect(unlimited.size)
            #expect(unlimited.maxMessageSize == nil)
            #expect(!ServerCapabilities(ehloReply: Reply(.ok, lines: ["mx"])).size)
        }

        @Test("bare CR and bare LF become CRLF at every split point")
        func lineEndingNormalizer() {
            let input = Array("a\r\nb\nc\rd\r\r\n\n\re\r".utf8)
            let expected = Array("a\r\nb\r\nc\r\nd\r\n\r\n\r\n\r\ne\r\n".utf8)
            for split in 0...input.count {
                for second in split...input.count {
                    var normalizer = ClientLineEndingNormalizer()
                    var out = ByteBuffer()
                    for part in [input[..<split], input[split..<second], input[second...]] {
                        normalizer.normalize(ByteBuffer(bytes: part), into: &out)
                    }
                    normalizer.finish(into: &out)
                    #expect(Array(out.readableBytesView) == expected, "split at \(split), \(second)")
                }
            }
        }

        @Test("base64 (RFC 4648 §10 vectors, RFC 4616 §4 PLAIN example)")
        func base64() {
            let vectors = ["": "", "f": "Zg==", "fo": "Zm8=", "foo": "Zm9v", "foob": "Zm9vYg==",
                           "fooba": "Zm9vYmE=", "foobar": "Zm9vYmFy"]
            for (plain, encoded) in vectors {
                #expect(ClientBase64.encode(plain.utf8) == encoded)
            }
            #expect(ClientBase64.encode(Array("\0tim\0tanstaaftanstaaf".utf8)) == "AHRpbQB0YW5zdGFhZnRhbnN0YWFm")
        }

        @Test("classification: temporary beats permanent when nothing was accepted")
        func classification() {
            let bad = SMTPClientError.rejected(Reply(.mailboxUnavailable, nil, "no"), stage: .rcpt)
            let busy = SMTPClientError.rejected(Reply(.mailboxBusy, nil, "later"), stage: .rcpt)
            let b = ForwardPath.mailbox(ClientFixtures.mailbox("b@example.net"))
            let c = ForwardPath.mailbox(ClientFixtures.mailbox("c@example.net"))
            let mixed = DeliveryResult.classify(
                [RecipientResult(recipient: b, failure: bad), RecipientResult(recipient: c, failure: busy)],
                messageError: nil)
            #expect(mixed == .temporaryFailure(busy, mixed.recipients))
            let allBad = DeliveryResult.classify([RecipientResult(recipient: b, failure: bad)], messageError: nil)
            #expect(allBad == .permanentFailure(bad, allBad.recipients))
            #expect(bad.isPermanent)
            #expect(!busy.isPermanent)
            #expect(!SMTPClientError.rejected(Reply(.authenticationFailed, nil, "no"), stage: .auth).isPermanent)
            #expect(!SMTPClientError.timeout(.dataTermination).isPermanent)
            #expect(SMTPClientError.timeout(.rcpt).reply.enhancedCode == .timeout)
        }

        @Test("credentials never print their password")
        func credentialsRedacted() {
            let credentials = SMTPClientCredentials(username: "alice", password: "hunter2")
            #expect(!"\(credentials)".contains("hunter2"))
            #expect(!String(reflecting: credentials).contains("hunter2"))
            #expect(Command.auth(mechanism: "PLAIN", initialResponse: "AGFsaWNlAGh1bnRlcjI=").redactedLine == "AUTH PLAIN ***")
        }
    }
}
