#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// The `Received:` header a stage adds ([RFC 5321 §4.4](https://www.rfc-editor.org/rfc/rfc5321#section-4.4),
/// RFC 5322 §3.6.7).
///
/// ```
/// Received: from client.example (192.0.2.1)
///         by mx.example.org with ESMTPS id 00HOFLHTBTQ7XLKT016I (TLSv1.3)
///         for <b@example.org>; Mon, 23 Nov 2026 15:35:53 +0000
/// ```
/// The `with` keyword names the listener's protocol and what the session used: `SMTP`,
/// `ESMTP`/`LMTP` plus `S` (TLS) and `A` (AUTH) ([RFC 3848](https://www.rfc-editor.org/rfc/rfc3848)),
/// as `UTF8SMTP…`/`UTF8LMTP…` for SMTPUTF8 transactions ([RFC 6531 §3.7.3](https://www.rfc-editor.org/rfc/rfc6531#section-3.7.3)).
/// `for` is written only with a single recipient, so a message to many does not list them.
struct ReceivedHeader {
    let text: String

    /// `hideClient`: the client's address is left out (`from laptop (authenticated user)`), for a
    /// submission listener that must not pass users' private addresses on.
    init(record: SpoolRecord, session: SessionContext, hostname: String, hideClient: Bool = false) {
        var from = record.helo ?? "unknown"
        if hideClient {
            from += " (authenticated user)"
        } else if let client = record.client {
            from += " (\(client))"
        }
        let with = session.receivedProtocol(smtpUTF8: record.envelope.parameters.smtpUTF8)
        var line = "Received: from \(from)\r\n\tby \(hostname) with \(with) id \(record.id)"
        if let tls = record.tls { line += " (\(tls))" }
        if record.envelope.recipients.count == 1 {
            line += "\r\n\tfor \(record.envelope.recipients[0].path)"
        }
        line += "; " + ReceivedHeader.date(record.arrival) + "\r\n"
        text = line
    }

    /// RFC 5322 §3.3 date-time in UTC (``RFC5322Date``).
    static func date(_ date: Date) -> String { RFC5322Date.string(date) }
}
