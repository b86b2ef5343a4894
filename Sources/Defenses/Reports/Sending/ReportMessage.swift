import Foundation
import SMTPCore

/// A report as the mail that carries it: a TLS report ([RFC 8460 §5.3](https://www.rfc-editor.org/rfc/rfc8460#section-5.3))
/// or a DMARC aggregate report ([RFC 7489 §7.2.1.1](https://www.rfc-editor.org/rfc/rfc7489#section-7.2.1.1)),
/// gzip-compressed and base64-encoded in a MIME attachment, CRLF line ends, ready to submit.
public struct ReportMessage: Sendable {
    /// The envelope and header sender.
    public var from: String
    /// The recipients (one report may go to several addresses).
    public var to: [String]
    /// The whole message.
    public var bytes: [UInt8]
    /// The attachment's file name.
    public var fileName: String

    /// The mail of a TLS report: `multipart/report; report-type="tlsrpt"` with the JSON as
    /// `application/tlsrpt+gzip`, the `TLS-Report-Domain` and `TLS-Report-Submitter` fields, and
    /// `TLS-Required: No` ([RFC 8689 §5](https://www.rfc-editor.org/rfc/rfc8689#section-5)): a report
    /// about a receiver's broken TLS must not be held back by that very TLS.
    public static func tls(_ report: TLSReport, from: String, to: [String], date: Date = Date()) throws(Gzip.Failure) -> ReportMessage {
        let fileName = report.fileName + ".gz"
        let attachment = try Gzip.compress(Array(report.json))
        let id = "<\(report.reportID)@\(report.sender)>"
        let boundary = "tlsrpt-" + Self.token()
        let head = Self.head(from: from, to: to, date: date,
                             subject: "Report Domain: \(report.domain) Submitter: \(report.sender) Report-ID: \(id)", messageID: id,
                             fields: ["TLS-Report-Domain: \(report.domain)", "TLS-Report-Submitter: \(report.sender)", "TLS-Required: No"],
                             contentType: "multipart/report; report-type=\"tlsrpt\";", boundary: boundary)
        let text = """
            This is an aggregate TLS report (RFC 8460) from \(report.organization) for \(report.domain),
            \(TLSReport.timestamp(report.begin)) to \(TLSReport.timestamp(report.end)): \(report.successCount) successful, \(report.failureCount) failed sessions.
            """
        return ReportMessage(from: from, to: to, bytes: Self.assemble(head: head, boundary: boundary, text: text,
                                                                      type: "application/tlsrpt+gzip", fileName: fileName, attachment: attachment),
                             fileName: fileName)
    }

    /// The mail of a DMARC aggregate report: `multipart/mixed` with a short text and the XML as
    /// `application/gzip`, subject `Report Domain: D Submitter: S Report-ID: <ID>` (§7.2.1.1).
    public static func dmarc(_ report: DMARCAggregateReport, from: String, to: [String], date: Date = Date()) throws(Gzip.Failure) -> ReportMessage {
        let fileName = report.fileName + ".gz"
        let attachment = try Gzip.compress(Array(report.xml.utf8))
        let boundary = "dmarc-" + Self.token()
        let head = Self.head(from: from, to: to, date: date,
                             subject: "Report Domain: \(report.policyDomain) Submitter: \(report.reporter.domain) Report-ID: <\(report.reportID)>",
                             messageID: "<\(report.reportID).\(Self.token())@\(report.reporter.domain)>",
                             fields: [], contentType: "multipart/mixed;", boundary: boundary)
        let text = """
            This is a DMARC aggregate report (RFC 7489) from \(report.reporter.organization) for \(report.policyDomain): \
            \(report.messageCount) messages in \(report.rows.count) rows.
            """
        return ReportMessage(from: from, to: to, bytes: Self.assemble(head: head, boundary: boundary, text: text,
                                                                      type: "application/gzip", fileName: fileName, attachment: attachment),
                             fileName: fileName)
    }

    /// The header section: originator, destination, date, subject, id, the report's own fields, MIME.
    static func head(from: String, to: [String], date: Date, subject: String, messageID: String, fields: [String],
                     contentType: String, boundary: String) -> [String] {
        ["From: <\(from)>", "To: " + to.map { "<\($0)>" }.joined(separator: ", "), "Date: \(RFC5322Date.string(date))",
         "Subject: \(subject)", "Message-ID: \(messageID)"]
            + fields + ["MIME-Version: 1.0", "Content-Type: \(contentType)", "\tboundary=\"\(boundary)\""]
    }

    static func assemble(head: [String], boundary: String, text: String, type: String, fileName: String, attachment: [UInt8]) -> [UInt8] {
        var lines = head
        lines += ["", "This is a multipart message in MIME format.", "", "--\(boundary)",
                  "Content-Type: text/plain; charset=\"us-ascii\"", "Content-Transfer-Encoding: 7bit", ""]
        lines += text.components(separatedBy: "\n")
        lines += ["", "--\(boundary)", "Content-Type: \(type)", "Content-Transfer-Encoding: base64",
                  "Content-Disposition: attachment;", "\tfilename=\"\(fileName)\"", ""]
        let encoded = Data(attachment).base64EncodedString()
        var index = encoded.startIndex
        while index < encoded.endIndex {
            let next = encoded.index(index, offsetBy: 76, limitedBy: encoded.endIndex) ?? encoded.endIndex
            lines.append(String(encoded[index..<next]))
            index = next
        }
        lines += ["", "--\(boundary)--", ""]
        return Array(lines.joined(separator: "\r\n").utf8)
    }

    /// 16 random hex digits: boundaries and Message-IDs.
    static func token() -> String {
        (0..<8).map { _ in String(UInt8.random(in: 0...255), radix: 16) }.map { $0.count == 1 ? "0" + $0 : $0 }.joined()
    }
}
