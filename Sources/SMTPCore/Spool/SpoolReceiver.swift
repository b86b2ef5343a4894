#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import NIOConcurrencyHelpers
import NIOCore

/// A ``MessageReceiver`` that makes every message durable in a ``SpoolStore`` before the
/// session answers 250 (DESIGN.md §3.1), and prepends the stage's `Received:` trace header
/// (RFC 5321 §4.4).
public final class SpoolReceiver: MessageReceiver {
    public let store: SpoolStore
    /// Our name in the `by` clause of the Received header.
    public let hostname: String

    public init(store: SpoolStore, hostname: String) {
        self.store = store
        self.hostname = hostname
    }

    public func open(envelope: Envelope, session: SessionContext) async throws -> any MessageWriter {
        let record = SpoolRecord(id: SpoolStore.makeID(), envelope: envelope, client: session.remoteAddress?.ipAddress,
                                 helo: session.heloName?.description, tls: session.tls?.version,
                                 authenticatedUser: session.authenticatedUser, session: session.sessionID,
                                 arrival: Date())
        let received = ReceivedHeader(record: record, session: session, hostname: hostname)
        let writer = try store.begin(record, prefix: ByteBuffer(string: received.text))
        return Writer(writer)
    }

    final class Writer: MessageWriter {
        let writer: SpoolStore.EntryWriter

        init(_ writer: SpoolStore.EntryWriter) {
            self.writer = writer
        }

        func write(_ chunk: ByteBuffer) async throws {
            try await writer.write(chunk)
        }

        func commit(summary: MessageDataSummary) async throws -> CommitResult {
            let entry = try await writer.commit()
            return CommitResult(reply: Reply(.ok, .ok, "Queued as \(entry.id)"), queueID: entry.id)
        }

        func abort() async {
            await writer.abort()
        }
    }
}

/// The `Received:` header a stage adds (RFC 5321 §4.4, RFC 5322 §3.6.7).
///
/// ```
/// Received: from client.example (192.0.2.1)
///         by mx.example.org with ESMTPS id 00HOFLHTBTQ7XLKT016I
///         for <b@example.org>; Mon, 23 Nov 2026 15:35:53 +0000
/// ```
/// `for` is written only with a single recipient, so a message to many does not list them.
struct ReceivedHeader {
    let text: String

    init(record: SpoolRecord, session: SessionContext, hostname: String) {
        var from = record.helo ?? "unknown"
        if let client = record.client { from += " (\(client))" }
        var line = "Received: from \(from)\r\n\tby \(hostname) with \(session.receivedProtocol(lmtp: false)) id \(record.id)"
        if let tls = record.tls { line += " (\(tls))" }
        if record.envelope.recipients.count == 1 {
            line += "\r\n\tfor \(record.envelope.recipients[0].path)"
        }
        line += "; " + ReceivedHeader.date(record.arrival) + "\r\n"
        text = line
    }

    /// RFC 5322 §3.3 date-time in UTC, e.g. `Mon, 23 Nov 2026 15:35:53 +0000`. Formatted by
    /// hand: a DateFormatter per message cost ~6 % of a relay's CPU (bench/README.md).
    static func date(_ date: Date) -> String {
        var seconds = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(days[Int(parts.tm_wday)]), \(two(parts.tm_mday)) \(months[Int(parts.tm_mon)]) \(parts.tm_year + 1900) "
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) +0000"
    }
}
