import Foundation
import Logging

/// The MTA-STS policy that applies to mail for a domain, with the discovery and caching of
/// [RFC 8461 §5.1](https://www.rfc-editor.org/rfc/rfc8461#section-5.1):
///
/// - The `_mta-sts` TXT record is looked up for every answer (the DNS cache in front makes
///   that cheap). Its `id` unchanged and a cached policy still valid → the cached policy.
/// - A new `id`, or nothing cached → the policy is fetched over HTTPS and cached for its
///   `max_age`; a cached policy past half its `max_age` is fetched again (refresh, §5.1).
/// - A fetch that fails, or a TXT record that is gone, while a cached policy is still valid →
///   the cached policy (this is what defeats an attacker who blocks the fetch or strips the
///   record). Nothing valid cached → no policy: mail goes as without MTA-STS.
///
/// The cache survives restarts in ``cacheFile`` (JSON, written atomically after each change).
public actor MTASTSPolicyCache {
    /// What is known for a domain.
    public struct Entry: Sendable, Hashable, Codable {
        public var id: String
        public var policy: MTASTSPolicy
        /// When the policy was fetched (seconds since 1970).
        public var fetched: Double
        /// `fetched + max_age`.
        public var expires: Double
    }

    /// The policy for one look-up and where it came from, for logs.
    public enum Lookup: Sendable, Hashable {
        /// No usable policy: deliver as without MTA-STS. The text says why (no record, fetch failed).
        case none(String)
        case policy(MTASTSPolicy, source: String)

        public var policy: MTASTSPolicy? {
            if case .policy(let policy, _) = self { return policy }
            return nil
        }
    }

    public let dns: any DNSResolver
    public let fetcher: any MTASTSPolicyFetcher
    public nonisolated let cacheFile: String?
    let now: @Sendable () -> Date
    let logger: Logger
    private var entries: [String: Entry] = [:]

    public init(dns: any DNSResolver, fetcher: any MTASTSPolicyFetcher, cacheFile: String? = nil,
                now: @escaping @Sendable () -> Date = { Date() }, logger: Logger = Logger(label: "mailnode.mta-sts")) {
        self.dns = dns
        self.fetcher = fetcher
        self.cacheFile = cacheFile
        self.now = now
        self.logger = logger
        if let cacheFile, let data = FileManager.default.contents(atPath: cacheFile) {
            do {
                entries = try JSONDecoder().decode([String: Entry].self, from: data)
            } catch {
                // Starting empty only costs fetches; say so, since cached policies are a defense.
                logger.warning("MTA-STS cache unreadable, starting empty", metadata: ["file": "\(cacheFile)", "error": "\(error)"])
            }
        }
    }

    /// The cached entry of `domain`, valid or not (for `mailnode` and tests).
    public func cached(_ domain: String) -> Entry? { entries[MTASTSPolicy.normalized(domain)] }

    public func lookup(_ domain: String) async -> Lookup {
        let domain = MTASTSPolicy.normalized(domain)
        let time = now().timeIntervalSince1970
        let valid = entries[domain].flatMap { $0.expires > time ? $0 : nil }
        let record: MTASTSRecord?
        do {
            record = MTASTSRecord.select(try await dns.lookupTXT("_mta-sts." + domain).records.map(\.text))
        } catch .nxdomain, .noData {
            record = nil
        } catch {
            if let valid { return .policy(valid.policy, source: "cache (TXT look-up failed: \(error))") }
            return .none("TXT look-up failed: \(error)")
        }
        guard let record else {
            if let valid { return .policy(valid.policy, source: "cache (no TXT record)") }
            return .none("no _mta-sts record")
        }
        // Same id: the cached policy — refreshed once less than half its max_age is left (§5.1
        // "proactively refresh", so a domain in regular use never runs into an expired policy).
        if let valid, valid.id == record.id, valid.expires - time > Double(valid.policy.maxAge) / 2 {
            return .policy(valid.policy, source: "cache id=\(record.id)")
        }
        do {
            let body = try await fetcher.fetch(domain: domain)
            let policy = try MTASTSPolicy.parse(body)
            entries[domain] = Entry(id: record.id, policy: policy, fetched: time, expires: time + Double(policy.maxAge))
            save()
            logger.info("MTA-STS policy fetched", metadata: [
                "domain": "\(domain)", "id": "\(record.id)", "mode": "\(policy.mode)", "max_age": "\(policy.maxAge)",
                "mx": "\(policy.mx.joined(separator: ","))",
            ])
            return .policy(policy, source: "fetched id=\(record.id)")
        } catch {
            logger.warning("MTA-STS policy not fetched", metadata: ["domain": "\(domain)", "id": "\(record.id)", "error": "\(error)"])
            if let valid { return .policy(valid.policy, source: "cache (fetch failed: \(error))") }
            return .none("policy fetch failed: \(error)")
        }
    }

    private func save() {
        guard let cacheFile, let data = try? JSONEncoder().encode(entries) else { return }
        do {
            try data.write(to: URL(fileURLWithPath: cacheFile), options: .atomic)
        } catch {
            logger.warning("MTA-STS cache not saved", metadata: ["file": "\(cacheFile)", "error": "\(error)"])
        }
    }
}
