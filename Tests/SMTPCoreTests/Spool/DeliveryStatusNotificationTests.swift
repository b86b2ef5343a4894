import Foundation
import Testing
@testable import SMTPCore

@Suite struct DeliveryStatusNotificationTests {
    static func recipient(_ local: String, notify: DSNNotify? = nil, orcpt: OriginalRecipient? = nil) -> EnvelopeRecipient {
        EnvelopeRecipient(path: .mailbox(Mailbox(localPart: local, host: .domain("dst.test"))),
                          parameters: RcptParameters(notify: notify, originalRecipient: orcpt))
    }

    static func failure(_ recipient: EnvelopeRecipient) -> DeliveryStatusNotification.FailedRecipient {
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
        let transient = DeliveryStatusNotification.FailedRecipient(
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
}
