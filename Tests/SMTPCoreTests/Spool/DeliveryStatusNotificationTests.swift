import Foundation
import Testing
@testable import SMTPCore

@Suite struct DeliveryStatusNotificationTests {
    static func recipient(_ local: String, notify: DSNNotify? = nil, orcpt: OriginalRecipient? = nil) -> EnvelopeRecipient {
        EnvelopeRecipient(path: .mailbox(Mailbox(localPart: local, host: .domain("dst.test"))),
                          parameters: RcptParameters(notify: notify, originalRecipient: orcpt))
    }

    static func failure(_ recipient: EnvelopeRecipient) -> DeliveryStatusNotification.ReportedRecipient {
        .init(recipient: recipient, reply: Reply(.mailboxUnavailable, .badDestinationMailbox, "No such user"), remoteMTA: "mx.dst.test")
    }

    @Test func whoGetsABounce() {
        let sender = ReversePath.mailbox(Mailbox(localPart: "s", host: .domain("src.test")))
        let plain = Self.failure(Self.recipient("a"))
        let never = Self.failure(Self.recipient("b", notify: .never))
        let successOnly = Self.failure(Self.recipient("c", notify: .on(success: true, failure: false, delay: false)))
        let failureAsked = Self.failure(Self.recipient("d", notify: .on(success: false, failure: true, delay: false)))
        let all = [plain, never, successOnly, failureAsked]
        #expect(DeliveryStatusNotification.reportable(all, sender: sender).map(\.recipient) == [plain.recipient, failureAsked.recipient])
        #expect(DeliveryStatusNotification.reportable(all, sender: .null).isEmpty)
    }

    @Test func messageStructure() throws {
        let record = SpoolRecord(id: "ID1", envelope: Envelope(reversePath: .mailbox(Mailbox(localPart: "s", host: .domain("src.test"))),
                                                               parameters: MailParameters(envelopeID: "QQ314159"),
                                                               recipients: []),
                                 client: nil, helo: nil, tls: nil, authenticatedUser: nil, session: "t",
                                 arrival: Date(timeIntervalSince1970: 0))
        let orcpt = OriginalRecipient(addressType: "rfc822", address: "alias@dst.test")
        let transient = DeliveryStatusNotification.ReportedRecipient(
            recipient: Self.recipient("x", orcpt: orcpt), reply: Reply(.mailboxBusy, EnhancedStatusCode(4, 2, 0), "busy"), remoteMTA: nil)
        let dsn = DeliveryStatusNotification(reportingMTA: "relay.test", record: record,
                                             failures: [Self.failure(Self.recipient("a")), transient],
                                             originalHeaders: "Subject: hi\r\nMessage-ID: <m@src.test>\r\n",
                                             date: Date(timeIntervalSince1970: 0))
        let text = dsn.message
        #expect(dsn.envelope == Envelope(reversePath: .null, recipients: [EnvelopeRecipient(path: .mailbox(Mailbox(localPart: "s", host: .domain("src.test"))))]))
        #expect(text.contains("Content-Type: multipart/report; report-type=delivery-status; boundary=\"=_ID1_dsn\""))
        #expect(text.contains("Auto-Submitted: auto-replied"))
        #expect(text.contains("Original-Envelope-Id: QQ314159"))
        #expect(text.contains("Arrival-Date: Thu, 01 Jan 1970 00:00:00 +0000"))
        #expect(text.contains("Final-Recipient: rfc822; a@dst.test\r\nAction: failed\r\nStatus: 5.1.1\r\nRemote-MTA: dns; mx.dst.test"))
        // A temporary reply that ended in expiry is reported with a permanent class.
        #expect(text.contains("Original-Recipient: rfc822; alias@dst.test\r\nFinal-Recipient: rfc822; x@dst.test\r\nAction: failed\r\nStatus: 5.2.0"))
        #expect(text.contains("Content-Type: text/rfc822-headers\r\n\r\nSubject: hi\r\nMessage-ID: <m@src.test>\r\n"))
        #expect(text.hasSuffix("\r\n--=_ID1_dsn--\r\n"))
        #expect(!text.contains("\n\n"))   // CRLF everywhere, no bare LF
        #expect(text.components(separatedBy: "--=_ID1_dsn\r\n").count == 4)
    }

    @Test func returnOfContent() {
        let small = 2_000
        #expect(DeliveryStatusNotification.returnsFullMessage(MailParameters(), size: small))   // no RET: full, as Postfix
        #expect(DeliveryStatusNotification.returnsFullMessage(MailParameters(dsnReturn: .full), size: small))
        #expect(!DeliveryStatusNotification.returnsFullMessage(MailParameters(dsnReturn: .headers), size: small))
        #expect(!DeliveryStatusNotification.returnsFullMessage(MailParameters(dsnReturn: .full), size: 50_001))
        #expect(DeliveryStatusNotification.attachable(Array("Subject: a\r\n\r\nbody\r\n".utf8)) != nil)
        #expect(DeliveryStatusNotification.attachable(Array("Subject: \u{e9}\r\n\r\nbody\r\n".utf8)) == nil)   // 8-bit
        #expect(DeliveryStatusNotification.attachable([0x41, 0x00, 0x42]) == nil)
    }

    @Test func fullMessageIsAttachedAsMessageRFC822() {
        let record = SpoolRecord(id: "ID2", envelope: Envelope(reversePath: .mailbox(Mailbox(localPart: "s", host: .domain("src.test"))),
                                                               parameters: MailParameters(dsnReturn: .full), recipients: []),
                                 client: nil, helo: nil, tls: nil, authenticatedUser: nil, session: "t", arrival: Date(timeIntervalSince1970: 0))
        let original = "Subject: hi\r\n\r\nthe body\r\n.a dotted line\r\n"
        let dsn = DeliveryStatusNotification(reportingMTA: "relay.test", record: record, failures: [Self.failure(Self.recipient("a"))],
                                             originalHeaders: "Subject: hi\r\n", originalMessage: original)
        let text = dsn.message
        #expect(text.contains("Content-Type: message/rfc822\r\n\r\n" + original + "\r\n--=_ID2_dsn--\r\n"))
        #expect(!text.contains("text/rfc822-headers"))
    }

    static let record = SpoolRecord(id: "ID3", envelope: Envelope(reversePath: .mailbox(Mailbox(localPart: "s", host: .domain("src.test"))),
                                                                  parameters: MailParameters(dsnReturn: .full), recipients: []),
                                    client: nil, helo: nil, tls: nil, authenticatedUser: nil, session: "t",
                                    arrival: Date(timeIntervalSince1970: 0))

    @Test func whoGetsADelayWarningOrASuccessReport() {
        let plain = Self.recipient("a")
        let never = Self.recipient("b", notify: .never)
        let delay = Self.recipient("c", notify: .on(success: false, failure: false, delay: true))
        let failure = Self.recipient("d", notify: .on(success: false, failure: true, delay: false))
        let success = Self.recipient("e", notify: .on(success: true, failure: false, delay: false))
        // No NOTIFY: FAILURE,DELAY (RFC 3461 §4.1 leaves the choice to us), never SUCCESS.
        #expect([plain, never, delay, failure, success].map(DeliveryStatusNotification.wantsDelayNotice) == [true, false, true, false, false])
        #expect([plain, never, delay, failure, success].map(DeliveryStatusNotification.wantsSuccessNotice) == [false, false, false, false, true])
        let sender = ReversePath.mailbox(Mailbox(localPart: "s", host: .domain("src.test")))
        let reported = [plain, success].map { DeliveryStatusNotification.ReportedRecipient(recipient: $0, action: .delayed, reply: Reply.ok, remoteMTA: nil) }
        #expect(DeliveryStatusNotification.reportable(reported, kind: .delay, sender: sender).map(\.recipient) == [plain])
        #expect(DeliveryStatusNotification.reportable(reported, kind: .success, sender: sender).map(\.recipient) == [success])
        #expect(DeliveryStatusNotification.reportable(reported, kind: .delay, sender: .null).isEmpty)
        #expect(DeliveryStatusNotification.reportable(reported, kind: .success, sender: .null).isEmpty)
    }

    @Test func delayWarningStructure() {
        let delayed = DeliveryStatusNotification.ReportedRecipient(
            recipient: Self.recipient("x"), action: .delayed,
            reply: Reply(.mailboxBusy, EnhancedStatusCode(4, 2, 1), "Mailbox busy"), remoteMTA: "mx.dst.test")
        let local = DeliveryStatusNotification.ReportedRecipient(
            recipient: Self.recipient("y"), action: .delayed,
            reply: Reply(.serviceNotAvailable, EnhancedStatusCode(4, 4, 1), "Connection failed: refused"), remoteMTA: nil)
        let dsn = DeliveryStatusNotification(kind: .delay, reportingMTA: "relay.test", record: Self.record, recipients: [delayed, local],
                                             originalHeaders: "Subject: hi\r\n", originalMessage: "Subject: hi\r\n\r\nbody\r\n",
                                             willRetryUntil: Date(timeIntervalSince1970: 5 * 86_400),
                                             date: Date(timeIntervalSince1970: 4 * 3600))
        let text = dsn.message
        #expect(text.contains("Subject: Delayed Mail (still being retried)\r\n"))
        #expect(text.contains("Message-ID: <ID3.delay."))
        #expect(text.contains("This is only a warning: you do not need to send it again."))
        #expect(text.contains("The mail system keeps trying until Tue, 06 Jan 1970 00:00:00 +0000."))
        #expect(text.contains("Final-Recipient: rfc822; x@dst.test\r\nAction: delayed\r\nStatus: 4.2.1\r\nRemote-MTA: dns; mx.dst.test\r\n"
            + "Diagnostic-Code: smtp; 450 4.2.1 Mailbox busy\r\nWill-Retry-Until: Tue, 06 Jan 1970 00:00:00 +0000\r\n"))
        #expect(text.contains("Final-Recipient: rfc822; y@dst.test\r\nAction: delayed\r\nStatus: 4.4.1\r\nDiagnostic-Code: smtp; 421 4.4.1 Connection failed: refused"))
        // RET=FULL is about failures: a warning returns the header section only.
        #expect(text.contains("Content-Type: text/rfc822-headers\r\n\r\nSubject: hi\r\n"))
        #expect(!text.contains("body"))
        #expect(!text.contains("\n\n"))
    }

    @Test func successReportStructure() {
        let relayed = DeliveryStatusNotification.ReportedRecipient(
            recipient: Self.recipient("r"), action: .relayed, reply: Reply(.ok, EnhancedStatusCode(2, 0, 0), "Ok: queued as 1"), remoteMTA: "mx.dst.test")
        let delivered = DeliveryStatusNotification.ReportedRecipient(
            recipient: Self.recipient("d"), action: .delivered, reply: Reply(.ok, EnhancedStatusCode(2, 1, 5), "Delivered"), remoteMTA: "store.test")
        let dsn = DeliveryStatusNotification(kind: .success, reportingMTA: "relay.test", record: Self.record, recipients: [relayed, delivered],
                                             originalHeaders: "Subject: hi\r\n", originalMessage: "Subject: hi\r\n\r\nbody\r\n",
                                             willRetryUntil: Date(), date: Date(timeIntervalSince1970: 0))
        let text = dsn.message
        #expect(text.contains("Subject: Successful Mail Delivery Report\r\n"))
        #expect(text.contains("<r@dst.test> (relayed): 250 Ok: queued as 1\r\n<d@dst.test> (delivered): 250 Delivered\r\n"))
        #expect(text.contains("does not send delivery notifications"))
        #expect(text.contains("Final-Recipient: rfc822; r@dst.test\r\nAction: relayed\r\nStatus: 2.0.0\r\nRemote-MTA: dns; mx.dst.test\r\n"))
        #expect(text.contains("Final-Recipient: rfc822; d@dst.test\r\nAction: delivered\r\nStatus: 2.1.5\r\n"))
        #expect(!text.contains("Will-Retry-Until"))
        #expect(!text.contains("message/rfc822"))
        #expect(!text.contains("body"))
    }

    @Test func reportsHaveTheirOwnMessageIDs() {
        let failed = Self.failure(Self.recipient("a"))
        let first = DeliveryStatusNotification(reportingMTA: "relay.test", record: Self.record, failures: [failed], originalHeaders: "",
                                               date: Date(timeIntervalSince1970: 10))
        let second = DeliveryStatusNotification(reportingMTA: "relay.test", record: Self.record, failures: [failed], originalHeaders: "",
                                                date: Date(timeIntervalSince1970: 20))
        let messageID = { (dsn: DeliveryStatusNotification) in
            dsn.message.components(separatedBy: "\r\n").first { $0.hasPrefix("Message-ID: ") }
        }
        #expect(messageID(first)?.hasPrefix("Message-ID: <ID3.dsn.") == true)
        #expect(messageID(first) != messageID(second))
    }

    @Test func recognisesADeliveryReport() {
        #expect(DeliveryStatusNotification.isDeliveryReport(
            headers: "Subject: x\r\nContent-Type: multipart/report; report-type=delivery-status;\r\n boundary=\"b\"\r\n"))
        #expect(DeliveryStatusNotification.isDeliveryReport(headers: "content-type: Multipart/Report;\r\n\treport-type=\"delivery-status\"\r\n"))
        #expect(DeliveryStatusNotification.isDeliveryReport(headers: "Content-Type:\tmultipart/report;report-type=delivery-status\r\n"))
        #expect(!DeliveryStatusNotification.isDeliveryReport(headers: "Content-Type: multipart/report; report-type=disposition-notification\r\n"))
        #expect(!DeliveryStatusNotification.isDeliveryReport(headers: "Content-Type: text/plain\r\nX-Note: multipart/report; report-type=delivery-status\r\n"))
    }
}
