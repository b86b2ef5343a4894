import NIOCore
import Testing
@testable import SMTPCore

@Suite struct SMTPSessionTests {
    static let transaction = "EHLO client.test\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@mx.test>\r\nDATA\r\n"

    @Test func greetingNamesHostButNoSoftware() {
        let harness = SessionHarness()
        #expect(harness.replies.count == 1)
        let greeting = harness.replies[0]
        #expect(greeting.code == .serviceReady)
        #expect(greeting.text == "mx.test ESMTP ready")
        #expect(!greeting.text.lowercased().contains("mailnode"))
    }

    @Test func ehloAdvertisesExtensionsAndLimits() {
        var harness = SessionHarness(.test { $0.limits.maxMessageSize = 12_345; $0.startTLSAvailable = true; $0.authMechanisms = ["PLAIN", "LOGIN"] })
        let reply = harness.send("EHLO client.test\r\n")[0]
        #expect(reply.code == .ok)
        for keyword in ["PIPELINING", "SIZE 12345", "8BITMIME", "ENHANCEDSTATUSCODES", "CHUNKING", "BINARYMIME", "SMTPUTF8", "DSN", "STARTTLS"] {
            #expect(reply.lines.contains(keyword), "missing \(keyword)")
        }
        // AUTH is not offered before TLS (RFC 4954 §4), REQUIRETLS neither (RFC 8689 §4).
        #expect(!reply.lines.contains { $0.hasPrefix("AUTH") })
        #expect(!reply.lines.contains("REQUIRETLS"))
        harness.send("STARTTLS\r\n")
        #expect(harness.tlsStarted)
        harness.establishTLS()
        let afterTLS = harness.send("EHLO client.test\r\n")[0]
        #expect(afterTLS.lines.contains("AUTH PLAIN LOGIN"))
        #expect(!afterTLS.lines.contains("STARTTLS"))
        #expect(afterTLS.lines.contains("REQUIRETLS"))
    }

    @Test func requireTLSIsNotOfferedNorAcceptedWhenTheNodeCannotCarryIt() {
        var harness = SessionHarness(.test { $0.startTLSAvailable = true; $0.requireTLSOffered = false })
        harness.send("EHLO client.test\r\n")
        harness.send("STARTTLS\r\n")
        harness.establishTLS()
        let afterTLS = harness.send("EHLO client.test\r\n")[0]
        #expect(!afterTLS.lines.contains("REQUIRETLS"))
        let refused = harness.send("MAIL FROM:<a@example.org> REQUIRETLS\r\n")[0]
        #expect(refused.code == .parametersNotRecognized && refused.text.contains("REQUIRETLS not supported"))
        #expect(harness.send("MAIL FROM:<a@example.org>\r\n")[0].code == .ok)
    }

    @Test func requireTLSWithoutTLSOnlyFromThisHost() throws {
        // Loopback (the chained stages of one node): offered and accepted in plaintext.
        for address in ["127.0.0.1", "::1", "127.8.9.10"] {
            var local = SessionHarness(remoteAddress: try SocketAddress(ipAddress: address, port: 40000))
            #expect(local.send("EHLO client.test\r\n")[0].lines.contains("REQUIRETLS"), "\(address)")
            #expect(local.send("MAIL FROM:<a@example.org> REQUIRETLS\r\n")[0].code == .ok, "\(address)")
        }
        // Another host: only after STARTTLS.
        var remote = SessionHarness(remoteAddress: try SocketAddress(ipAddress: "192.0.2.7", port: 40000))
        #expect(!remote.send("EHLO client.test\r\n")[0].lines.contains("REQUIRETLS"))
        let refused = remote.send("MAIL FROM:<a@example.org> REQUIRETLS\r\n")[0]
        #expect(refused.code == .authenticationRequired && refused.text.contains("REQUIRETLS needs a TLS connection"))
        // Switched off: loopback is no exception.
        var strict = SessionHarness(.test { $0.requireTLSOverLoopback = false }, remoteAddress: try SocketAddress(ipAddress: "127.0.0.1", port: 40000))
        #expect(!strict.send("EHLO client.test\r\n")[0].lines.contains("REQUIRETLS"))
        #expect(strict.send("MAIL FROM:<a@example.org> REQUIRETLS\r\n")[0].code == .authenticationRequired)
        #expect(LoopbackAddress.contains("localhost") && LoopbackAddress.contains("[::1]") && LoopbackAddress.contains("::ffff:127.0.0.1"))
        #expect(!LoopbackAddress.contains("128.0.0.1") && !LoopbackAddress.contains("::2") && !LoopbackAddress.contains("127.0.0"))
    }

    @Test func authExternalPassesTheVerifiedCertificateNamesAndTheAuthzid() {
        let configuration = SMTPSessionConfiguration.test { $0.startTLSAvailable = true; $0.authMechanisms = ["PLAIN", "EXTERNAL"] }
        var harness = SessionHarness(configuration)
        harness.send("EHLO client.test\r\n")
        harness.send("STARTTLS\r\n")
        harness.establishTLS(clientCertificateNames: ["alice@example.org"])
        #expect(harness.send("EHLO client.test\r\n")[0].lines.contains("AUTH PLAIN EXTERNAL"))
        // Without an initial response: an empty challenge, then the authzid.
        #expect(harness.send("AUTH EXTERNAL\r\n")[0].code == .authContinue)
        harness.send(Base64.encode("info@example.org") + "\r\n")
        #expect(harness.credentialsSeen == [.external(certificateNames: ["alice@example.org"], authorizationID: "info@example.org")])
        #expect(harness.credentialsSeen.first?.description == "Credentials(certificate: alice@example.org)")
        // No certificate: refused before any authenticator is asked.
        var anonymous = SessionHarness(configuration)
        anonymous.send("EHLO client.test\r\n")
        anonymous.send("STARTTLS\r\n")
        anonymous.establishTLS()
        anonymous.send("EHLO client.test\r\n")
        let refused = anonymous.send("AUTH EXTERNAL =\r\n")[0]
        #expect(refused.code == .authenticationFailed && refused.text == "No verified client certificate")
        #expect(anonymous.credentialsSeen.isEmpty)
    }

    @Test func fullTransactionDeliversUnstuffedData() {
        var harness = SessionHarness()
        let codes = harness.codes(Self.transaction)
        #expect(codes == [250, 250, 250, 354])
        let end = harness.send("Subject: hi\r\n\r\n..leading dot\r\nbody\r\n.\r\n")
        #expect(end.map(\.code) == [.ok])
        #expect(harness.messages.count == 1)
        #expect(harness.messages[0].data == "Subject: hi\r\n\r\n.leading dot\r\nbody\r\n")
        #expect(harness.messages[0].envelope.reversePath.mailbox?.localPart == "a")
        #expect(harness.messages[0].envelope.recipients.map(\.path.description) == ["<b@mx.test>"])
        // The session is ready for another transaction.
        #expect(harness.codes("MAIL FROM:<>\r\n") == [250])
    }

    @Test func pipelinedCommandsAreAnsweredInOrder() {
        var harness = SessionHarness()
        let codes = harness.codes("EHLO c\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<b@mx.test>\r\nRCPT TO:<c@mx.test>\r\nDATA\r\nhello\r\n.\r\nQUIT\r\n")
        #expect(codes == [250, 250, 250, 250, 354, 250, 221])
        #expect(harness.closed)
        #expect(harness.messages.first?.envelope.recipients.count == 2)
    }

    @Test(arguments: [
        ("RCPT TO:<b@mx.test>\r\n", 503),
        ("DATA\r\n", 503),
        ("BDAT 0 LAST\r\n", 503),
        ("MAIL FROM:<a@x.test>\r\nMAIL FROM:<a@x.test>\r\n", 503),
        ("MAIL FROM:<a@x.test> FOO=BAR\r\n", 555),
        ("MAIL FROM:<a@x.test> SIZE=999999999999\r\n", 552),
        ("MAIL FROM:<ü@x.test>\r\n", 553),
        ("XYZZY\r\n", 500),
        ("EXPN staff\r\n", 502),
        ("STARTTLS\r\n", 502),
        ("AUTH PLAIN\r\n", 502),
    ])
    func badInputGetsTheRightCode(input: String, code: Int) {
        var harness = SessionHarness()
        harness.send("EHLO c\r\n")
        let replies = harness.send(input)
        #expect(replies.last?.code.rawValue == code, "\(input.debugDescription) → \(replies)")
        #expect(!harness.closed)
        #expect(harness.codes("NOOP\r\n") == [250])
    }

    @Test func mailBeforeHeloIsRefused() {
        var harness = SessionHarness()
        #expect(harness.codes("MAIL FROM:<a@x.test>\r\n") == [503])
    }

    @Test func dataWithoutAcceptedRecipientsFails() {
        var harness = SessionHarness()
        harness.hook = { call in
            if case .rcptTo = call { return .reply(Reply(.mailboxUnavailable, .badDestinationMailbox, "No such user")) }
            return .continue
        }
        #expect(harness.codes("EHLO c\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<nobody@mx.test>\r\nDATA\r\n") == [250, 250, 550, 554])
    }

    @Test func heloSessionRefusesESMTPParameters() {
        var harness = SessionHarness()
        #expect(harness.codes("HELO c\r\nMAIL FROM:<a@x.test> SIZE=10\r\n") == [250, 555])
        #expect(harness.codes("MAIL FROM:<a@x.test>\r\n") == [250])
    }

    @Test func vrfyRevealsNothingAndHelpIsGeneric() {
        var harness = SessionHarness()
        let vrfy = harness.send("VRFY root\r\n")[0]
        #expect(vrfy.code == .cannotVerify)
        #expect(!vrfy.text.contains("root"))
        #expect(harness.codes("HELP\r\n") == [214])
    }

    @Test func tooManyRecipientsGets452() {
        var harness = SessionHarness(.test { $0.limits.maxRecipients = 2 })
        let codes = harness.codes("EHLO c\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<1@mx.test>\r\nRCPT TO:<2@mx.test>\r\nRCPT TO:<3@mx.test>\r\n")
        #expect(codes == [250, 250, 250, 250, 452])
        #expect(harness.replies.last?.enhancedCode == .tooManyRecipients)
    }

    @Test func recipientsBeyondTheLimitGet452WithoutClosing() {
        var harness = SessionHarness(.test { $0.limits.maxRecipients = 10; $0.limits.maxErrorsPerSession = 5 })
        var input = "EHLO c\r\nMAIL FROM:<a@x.test>\r\n"
        for index in 0..<50 { input += "RCPT TO:<user\(index)@mx.test>\r\n" }
        let replies = harness.send(input + "DATA\r\nx\r\n.\r\n")
        #expect(replies.filter { $0.code == .insufficientStorage }.count == 40)
        #expect(replies.last?.code == .ok)
        #expect(!harness.closed)
    }

    @Test func tenThousandPipelinedRecipients() {
        var harness = SessionHarness(.test { $0.limits.maxRecipients = 20_000; $0.limits.maxCommandsPerSession = 20_000 })
        var input = "EHLO c\r\nMAIL FROM:<a@x.test>\r\n"
        for index in 0..<10_000 { input += "RCPT TO:<user\(index)@mx.test>\r\n" }
        input += "DATA\r\nx\r\n.\r\n"
        let replies = harness.send(input)
        #expect(replies.count == 10_004)
        #expect(replies.allSatisfy { $0.code == .ok || $0.code == .startMailInput })
        #expect(harness.messages.first?.envelope.recipients.count == 10_000)
    }

    @Test func errorLimitCloses() {
        var harness = SessionHarness(.test { $0.limits.maxErrorsPerSession = 3 })
        let replies = harness.send("BAD1\r\nBAD2\r\nBAD3\r\nNOOP\r\n")
        #expect(replies.map(\.code.rawValue) == [500, 500, 500, 421])
        #expect(harness.closed)
    }

    @Test func commandLimitCloses() {
        var harness = SessionHarness(.test { $0.limits.maxCommandsPerSession = 3 })
        let replies = harness.send("NOOP\r\nNOOP\r\nNOOP\r\nNOOP\r\n")
        #expect(replies.map(\.code.rawValue) == [250, 250, 250, 421])
        #expect(harness.closed)
    }

    @Test func overLongCommandLineIsRejectedAndSessionContinues() {
        var harness = SessionHarness()
        let long = "NOOP " + String(repeating: "x", count: 600) + "\r\n"
        #expect(harness.codes(long + "NOOP\r\n") == [500, 250])
    }

    // MARK: SMTP smuggling (bare LF / bare CR never end DATA)

    static let smugglingVariants = ["\n.\n", "\r.\r", "\r\n.\n", "\n.\r\n", "\r.\r\n", "\r\n.\r"]

    @Test(arguments: smugglingVariants)
    func smugglingVariantNeverEndsDataAndIsRejected(variant: String) {
        var harness = SessionHarness()
        harness.send(Self.transaction)
        let payload = "Subject: a\r\n\r\nfirst" + variant + "MAIL FROM:<evil@x.test>\r\nRCPT TO:<victim@mx.test>\r\nDATA\r\nsmuggled\r\n.\r\n"
        let replies = harness.send(payload)
        // Exactly one end of data: the final CRLF.CRLF, and the message is refused as a whole.
        #expect(replies.map(\.code.rawValue) == [554], "\(variant.debugDescription): \(replies)")
        #expect(replies.first?.enhancedCode == EnhancedStatusCode(5, 5, 2))
        #expect(harness.messages.isEmpty)
        #expect(harness.aborted == 1)
        #expect(harness.codes("NOOP\r\n") == [250])
    }

    @Test(arguments: smugglingVariants)
    func smugglingVariantUnderAcceptPolicyStaysOneMessage(variant: String) {
        var harness = SessionHarness(.test { $0.bareLineEndings = .accept })
        harness.send(Self.transaction)
        let replies = harness.send("first" + variant + "MAIL FROM:<evil@x.test>\r\n.\r\n")
        #expect(replies.map(\.code.rawValue) == [250])
        #expect(harness.messages.count == 1)
        #expect(harness.messages[0].data.contains("MAIL FROM:<evil@x.test>"))
    }

    @Test func longDataLineIsRejected() {
        var harness = SessionHarness()
        harness.send(Self.transaction)
        let replies = harness.send(String(repeating: "a", count: 1200) + "\r\n.\r\n")
        #expect(replies.map(\.code.rawValue) == [554])
        #expect(harness.messages.isEmpty)
    }

    @Test func oversizedMessageGets552AfterTheData() {
        var harness = SessionHarness(.test { $0.limits.maxMessageSize = 100 })
        harness.send(Self.transaction)
        let replies = harness.send(String(repeating: "0123456789\r\n", count: 20) + ".\r\nNOOP\r\n")
        #expect(replies.map(\.code.rawValue) == [552, 250])
        #expect(harness.messages.isEmpty)
    }

    @Test func receiverFailureAtOpenGives451() {
        var harness = SessionHarness()
        harness.openSucceeds = false
        #expect(harness.codes(Self.transaction) == [250, 250, 250, 451])
    }

    @Test func commitFailureGives451() {
        var harness = SessionHarness()
        harness.commit = { _, _ in nil }
        harness.send(Self.transaction)
        #expect(harness.codes("x\r\n.\r\n") == [451])
    }

    // MARK: BDAT (RFC 3030)

    @Test func bdatChunksFormOneMessage() {
        var harness = SessionHarness()
        let codes = harness.codes("EHLO c\r\nMAIL FROM:<a@x.test> BODY=BINARYMIME\r\nRCPT TO:<b@mx.test>\r\nBDAT 5\r\nhel\nlBDAT 3 LAST\r\no\r\n")
        #expect(codes == [250, 250, 250, 250, 250])
        #expect(harness.messages.first?.data == "hel\nlo\r\n")
    }

    @Test func bdatWithoutTransactionSwallowsTheChunk() {
        var harness = SessionHarness()
        harness.send("EHLO c\r\n")
        // The chunk looks like commands; it must be consumed, not executed.
        let replies = harness.send("BDAT 34 LAST\r\nMAIL FROM:<x@y.test>\r\nRSET\r\nRSET\r\nNOOP\r\n")
        #expect(replies.map(\.code.rawValue) == [503, 250])
    }

    @Test func dataWithBinaryMIMEIsRefused() {
        var harness = SessionHarness()
        #expect(harness.codes("EHLO c\r\nMAIL FROM:<a@x.test> BODY=BINARYMIME\r\nRCPT TO:<b@mx.test>\r\nDATA\r\n") == [250, 250, 250, 503])
    }

    // MARK: Timeouts (RFC 5321 §4.5.3.2) with a mock clock

    @Test func idleSessionTimesOut() {
        var harness = SessionHarness(.test { $0.limits.commandTimeout = 300 })
        #expect(harness.advance(seconds: 299).isEmpty)
        let replies = harness.advance(seconds: 2)
        #expect(replies.map(\.code) == [.serviceNotAvailable])
        #expect(replies.first?.enhancedCode == .timeout)
        #expect(harness.closed)
    }

    @Test func activityPostponesTheTimeout() {
        var harness = SessionHarness(.test { $0.limits.commandTimeout = 300 })
        _ = harness.advance(seconds: 200)
        harness.send("NOOP\r\n")
        #expect(harness.advance(seconds: 200).isEmpty)
        #expect(!harness.advance(seconds: 101).isEmpty)
    }

    @Test func sessionDurationIsBounded() {
        var harness = SessionHarness(.test { $0.limits.maxSessionDuration = 600; $0.limits.commandTimeout = 300 })
        for _ in 0..<3 {
            _ = harness.advance(seconds: 200)
            harness.send("NOOP\r\n")
        }
        #expect(harness.closed)
        #expect(harness.replies.last?.code == .serviceNotAvailable)
    }

    @Test func abortsOpenMessageOnDataTimeout() {
        var harness = SessionHarness(.test { $0.limits.dataTimeout = 60 })
        harness.send(Self.transaction + "partial")
        _ = harness.advance(seconds: 61)
        #expect(harness.aborted == 1)
        #expect(harness.closed)
    }

    // MARK: STARTTLS and AUTH

    @Test func commandsPipelinedAfterStartTLSAreDiscarded() {
        var harness = SessionHarness(.test { $0.startTLSAvailable = true })
        harness.send("EHLO c\r\n")
        let replies = harness.send("STARTTLS\r\nMAIL FROM:<injected@x.test>\r\n")
        #expect(replies.map(\.code.rawValue) == [220])
        harness.establishTLS()
        // Nothing was answered for the injected command, and the session forgot EHLO.
        #expect(harness.replies.count == 3)
        #expect(harness.codes("MAIL FROM:<a@x.test>\r\n") == [503])
    }

    @Test func authNeedsTLS() {
        var harness = SessionHarness(.test { $0.authMechanisms = ["PLAIN"] })
        harness.send("EHLO c\r\n")
        #expect(harness.codes("AUTH PLAIN AHVzZXIAcGFzcw==\r\n") == [538])
        #expect(harness.credentialsSeen.isEmpty)
    }

    @Test func authPlainWithInitialResponse() {
        var harness = SessionHarness(.test { $0.authMechanisms = ["PLAIN"]; $0.startTLSAvailable = true })
        harness.authenticate = { $0.username == "user" && $0.password == "pass" ? .success(identity: "user") : .invalidCredentials }
        harness.send("EHLO c\r\nSTARTTLS\r\n")
        harness.establishTLS()
        // "\0user\0pass"
        #expect(harness.codes("EHLO c\r\nAUTH PLAIN AHVzZXIAcGFzcw==\r\n") == [250, 235])
        #expect(harness.session.context.authenticatedUser == "user")
        #expect(harness.codes("AUTH PLAIN AHVzZXIAcGFzcw==\r\n") == [503])
    }

    @Test func authLoginExchange() {
        var harness = SessionHarness(.test { $0.authMechanisms = ["PLAIN", "LOGIN"]; $0.startTLSAvailable = true })
        harness.authenticate = { $0.username == "user" && $0.password == "pass" ? .success(identity: "user") : .invalidCredentials }
        harness.send("STARTTLS\r\n")
        harness.establishTLS()
        let replies = harness.send("EHLO c\r\nAUTH LOGIN\r\ndXNlcg==\r\ncGFzcw==\r\n")
        #expect(replies.map(\.code.rawValue) == [250, 334, 334, 235])
        #expect(replies[1].text == "VXNlcm5hbWU6")
        #expect(harness.credentialsSeen == [Credentials(username: "user", password: "pass")])
    }

    @Test func authCancelAndFailureLimit() {
        var harness = SessionHarness(.test { $0.authMechanisms = ["PLAIN"]; $0.startTLSAvailable = true; $0.limits.maxAuthFailures = 2 })
        harness.send("STARTTLS\r\n")
        harness.establishTLS()
        #expect(harness.codes("EHLO c\r\nAUTH PLAIN\r\n*\r\n") == [250, 334, 501])
        #expect(harness.codes("AUTH PLAIN AHVzZXIAYmFk\r\n") == [535])
        #expect(harness.codes("AUTH PLAIN AHVzZXIAYmFk\r\n") == [535, 421])
        #expect(harness.closed)
    }

    @Test func submissionRequiresTLSThenAuthBeforeMail() {
        var harness = SessionHarness(.test {
            $0.authMechanisms = ["PLAIN"]; $0.startTLSAvailable = true
            $0.requireTLS = true; $0.requireAuthentication = true
        })
        harness.authenticate = { _ in .success(identity: "user") }
        #expect(harness.codes("EHLO c\r\nMAIL FROM:<a@x.test>\r\n") == [250, 530])
        harness.send("STARTTLS\r\n")
        harness.establishTLS()
        #expect(harness.codes("EHLO c\r\nMAIL FROM:<a@x.test>\r\n") == [250, 530])
        #expect(harness.codes("AUTH PLAIN AHVzZXIAcGFzcw==\r\nMAIL FROM:<a@x.test>\r\n") == [235, 250])
    }

    @Test func credentialsAreRedactedInDescriptions() {
        let credentials = Credentials(username: "user", password: "hunter2")
        #expect(!"\(credentials)".contains("hunter2"))
        #expect(!Command.auth(mechanism: "PLAIN", initialResponse: "AHVzZXIAaHVudGVyMg==").redactedLine.contains("AHVz"))
    }

    // MARK: Hooks

    @Test func connectHookRefusalOnlyAllowsQuit() {
        var harness = SessionHarness(greet: false)
        harness.hook = { call in
            if case .connected = call { return .reply(Reply(.transactionFailed, .policyRejection, "Service refused")) }
            return .continue
        }
        harness.start()
        #expect(harness.replies.map(\.code.rawValue) == [554])
        #expect(harness.codes("EHLO c\r\nQUIT\r\n") == [503, 221])
        #expect(harness.closed)
    }

    @Test func hookDisconnect() {
        var harness = SessionHarness()
        harness.hook = { call in
            if case .mailFrom = call { return .disconnect(Reply(.serviceNotAvailable, .systemNotAccepting, "Go away")) }
            return .continue
        }
        #expect(harness.codes("EHLO c\r\nMAIL FROM:<a@x.test>\r\nNOOP\r\n") == [250, 421])
        #expect(harness.closed)
    }

    @Test func dataEndHookCanRejectTheMessage() {
        var harness = SessionHarness()
        harness.hook = { call in
            if case .dataEnd = call { return .reply(Reply(.transactionFailed, .policyRejection, "Rejected by policy")) }
            return .continue
        }
        harness.send(Self.transaction)
        #expect(harness.codes("x\r\n.\r\n") == [554])
        #expect(harness.messages.isEmpty)
        #expect(harness.aborted == 1)
    }

    // MARK: Shutdown

    @Test func shutdownClosesIdleSessionWith421() {
        var harness = SessionHarness()
        harness.send("EHLO c\r\n")
        let replies = harness.shutdown()
        #expect(replies.map(\.code) == [.serviceNotAvailable])
        #expect(replies.first?.enhancedCode == .systemNotAccepting)
        #expect(harness.closed)
    }

    @Test func shutdownLetsTheCurrentMessageFinish() {
        var harness = SessionHarness()
        harness.send(Self.transaction + "part one\r\n")
        #expect(harness.shutdown().isEmpty)
        #expect(!harness.closed)
        #expect(harness.codes("part two\r\n.\r\n") == [250, 421])
        #expect(harness.messages.count == 1)
        #expect(harness.closed)
    }

    // MARK: LMTP (RFC 2033)

    @Test func lmtpRepliesPerRecipient() {
        var harness = SessionHarness(.test { $0.sessionProtocol = .lmtp })
        harness.commit = { _, _ in
            CommitResult(reply: Reply(.ok, .ok, "ok"), recipientReplies: [
                Reply(.ok, .ok, "delivered"), Reply(.insufficientStorage, .mailboxFull, "over quota"),
            ])
        }
        #expect(harness.replies.first?.text.contains("LMTP") == true)
        #expect(harness.codes("EHLO c\r\n") == [500])
        let codes = harness.codes("LHLO c\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<b@mx.test>\r\nRCPT TO:<c@mx.test>\r\nDATA\r\nhi\r\n.\r\n")
        #expect(codes == [250, 250, 250, 250, 354, 250, 452])
    }
}

extension SMTPSessionTests {
    /// A client that sends STARTTLS and never completes the handshake is timed out like an
    /// idle one, not kept for the whole session duration.
    @Test func stalledStartTLSHandshakeTimesOut() {
        var harness = SessionHarness(.test { $0.startTLSAvailable = true; $0.limits.commandTimeout = 300 })
        harness.send("EHLO c\r\nSTARTTLS\r\n")
        #expect(harness.tlsStarted)
        #expect(harness.advance(seconds: 299).isEmpty)
        #expect(harness.advance(seconds: 2).map(\.code) == [.serviceNotAvailable])
        #expect(harness.closed)
    }
}
