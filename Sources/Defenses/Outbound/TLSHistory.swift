import Foundation
import Logging

/// chasquid-style "never downgrade": the recipient domains whose mail exchangers once took a
/// STARTTLS session from us. Mail to such a domain is sent with STARTTLS required from then on,
/// so an attacker who strips STARTTLS from the path later gets a deferral, not plaintext mail
/// (`outbound.tls_no_downgrade`, docs/outbound.md).
///
/// Kept in ``file`` (JSON: domain → first and last time TLS was seen), written atomically when a
/// domain is added, so a restart keeps the promise. A domain that really dropped TLS has its mail
/// deferred until the operator removes it from the file (or it expires with its mail's lifetime).
public actor TLSHistory {
    public struct Entry: Sendable, Hashable, Codable {
        public var first: Double
        public var last: Double
    }

    public nonisolated let file: String?
    let logger: Logger
    private var domains: [String: Entry] = [:]

    public init(file: String? = nil, logger: Logger = Logger(label: "mailnode.tls-history")) {
        self.file = file
        self.logger = logger
        if let file, let data = FileManager.default.contents(atPath: file) {
            do {
                domains = try JSONDecoder().decode([String: Entry].self, from: data)
            } catch {
                logger.warning("TLS history unreadable, starting empty", metadata: ["file": "\(file)", "error": "\(error)"])
            }
        }
    }

    /// Whether `domain`'s exchangers did STARTTLS with us before.
    public func sawTLS(_ domain: String) -> Bool { domains[MTASTSPolicy.normalized(domain)] != nil }

    /// Notes a STARTTLS session with one of `domain`'s exchangers.
    public func noteTLS(_ domain: String, at date: Date) {
        let key = MTASTSPolicy.normalized(domain)
        let now = date.timeIntervalSince1970
        if var entry = domains[key] {
            entry.last = now
            domains[key] = entry   // kept in memory; the file is only rewritten for new domains
            return
        }
        domains[key] = Entry(first: now, last: now)
        logger.info("TLS seen: no downgrade from now on", metadata: ["domain": "\(key)"])
        save()
    }

    private func save() {
        guard let file, let data = try? JSONEncoder().encode(domains) else { return }
        do {
            try data.write(to: URL(fileURLWithPath: file), options: .atomic)
        } catch {
            logger.warning("TLS history not saved", metadata: ["file": "\(file)", "error": "\(error)"])
        }
    }
}
