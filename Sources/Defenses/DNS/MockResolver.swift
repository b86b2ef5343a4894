/// An in-memory ``DNSResolver`` for unit tests — ours, and yours when you test a policy built on
/// the defenses without a DNS server.
///
/// It answers like an authoritative server for everything it holds: records of the type at the
/// name (after following CNAMEs, as ``LDNSResolver`` does), NODATA when the name holds other types
/// or has names below it ([RFC 8020](https://www.rfc-editor.org/rfc/rfc8020)), NXDOMAIN otherwise.
/// Negative answers carry ``negativeTTL`` as their SOA-derived TTL. ``fail(_:with:type:)`` forces a
/// failure for a name.
///
/// ```swift
/// var dns = try MockResolver(zone: """
///     example.com. 300 IN MX 10 mx.example.com.
///     mx.example.com. 300 IN A 192.0.2.1
///     example.com. 300 IN TXT "v=spf1 mx -all"
///     """)
/// dns.fail("broken.example", with: .serverFailure)
/// ```
///
/// A value type: configure it, then hand copies to the code under test.
public struct MockResolver: DNSResolver {
    /// A failure forced for a name.
    public enum Failure: Hashable, Sendable {
        /// NXDOMAIN, even if records exist.
        case nxdomain
        /// SERVFAIL (``DNSError/serverFailure``).
        case serverFailure
        /// No answer: ``DNSError/timeout`` after ``MockResolver/timeoutDelay``.
        case timeout
        /// Another RCODE (``DNSError/responseCode(_:)``), such as 5 for REFUSED.
        case responseCode(UInt16)
        /// ``DNSError/network(_:)``.
        case network
    }

    private var recordsByName: [String: [DNSResourceRecord]] = [:]
    private var failures: [String: [(type: DNSRecordType?, failure: Failure)]] = [:]

    /// The AD bit reported with every answer (but those of ``insecureZones``).
    public var authenticated = false
    /// Names answered without the AD bit even when ``authenticated`` is set, with every name
    /// below them: unsigned zones under a signed parent (RFC 4035 §4.3 "insecure").
    public var insecureZones: Set<String> = []
    /// The negative-caching TTL of NXDOMAIN and NODATA answers; `nil` as if no SOA came.
    public var negativeTTL: UInt32? = 300
    /// How long a forced ``Failure/timeout`` waits before throwing (a slow server); zero by default.
    public var timeoutDelay: Duration = .zero
    /// How many CNAMEs are followed before ``DNSError/cnameChainTooLong(_:)``.
    public var maxCNAMEChain = 8

    /// An empty resolver: every name is NXDOMAIN.
    public init() {}

    /// A resolver holding the records of a zone text (see ``add(zone:)``).
    public init(zone: String) throws(DNSError) {
        try add(zone: zone)
    }

    /// Adds records in zone-file syntax, parsed by ldns: one record per line (`name [ttl] [IN] type
    /// data`), `$ORIGIN` and `$TTL` lines, `;` comments. Names without a trailing dot are relative
    /// to `$ORIGIN`.
    public mutating func add(zone: String) throws(DNSError) {
        for record in try LDNSMessage.parseZone(zone) {
            add(record)
        }
    }

    /// Adds one record; its name is normalised like a question's.
    public mutating func add(_ record: DNSResourceRecord) {
        var record = record
        record.name = Self.key(record.name)
        recordsByName[record.name, default: []].append(record)
    }

    /// Adds one record at `name`.
    public mutating func add(_ data: DNSRecordData, at name: String, ttl: UInt32 = 300) {
        add(DNSResourceRecord(name: name, ttl: ttl, data: data))
    }

    /// Makes look-ups of `name` fail — for one type, or for all when `type` is `nil`.
    public mutating func fail(_ name: String, with failure: Failure, type: DNSRecordType? = nil) {
        failures[Self.key(name), default: []].append((type, failure))
    }

    /// Every record held, by name.
    public var records: [DNSResourceRecord] {
        recordsByName.keys.sorted().flatMap { recordsByName[$0] ?? [] }
    }

    public func resolve(_ question: DNSQuestion) async throws(DNSError) -> DNSResponse {
        var name = question.name
        var aliases: [DNSResourceRecord] = []
        var authenticated = self.authenticated
        while true {
            authenticated = authenticated && !isInsecure(name)
            if let failure = failures[name]?.last(where: { $0.type == nil || $0.type == question.type })?.failure {
                try await fail(with: failure, name: name, type: question.type)
            }
            let here = recordsByName[name] ?? []
            let matching = here.filter { $0.type == question.type }
            if !matching.isEmpty {
                return DNSResponse(question: question, records: matching, aliases: aliases, authenticated: authenticated)
            }
            guard let alias = here.first(where: { $0.type == .cname }), case .cname(let target) = alias.data else {
                let negative = DNSNegativeAnswer(name: name, type: question.type, ttl: negativeTTL, authenticated: authenticated)
                throw exists(name) ? .noData(negative) : .nxdomain(negative)
            }
            aliases.append(alias)
            guard aliases.count <= maxCNAMEChain else { throw .cnameChainTooLong(question.name) }
            name = target
        }
    }

    private func isInsecure(_ name: String) -> Bool {
        insecureZones.contains { zone in
            let zone = Self.key(zone)
            return name == zone || name.hasSuffix("." + zone)
        }
    }

    private func fail(with failure: Failure, name: String, type: DNSRecordType) async throws(DNSError) -> Never {
        let authenticated = authenticated && !isInsecure(name)
        switch failure {
        case .nxdomain:
            throw .nxdomain(DNSNegativeAnswer(name: name, type: type, ttl: negativeTTL, authenticated: authenticated))
        case .serverFailure:
            throw .serverFailure
        case .timeout:
            if timeoutDelay > .zero {
                do {
                    try await Task.sleep(for: timeoutDelay)
                } catch {
                    throw .cancelled
                }
            }
            throw .timeout
        case .responseCode(let code):
            throw .responseCode(code)
        case .network:
            throw .network("mock network failure")
        }
    }

    private func exists(_ name: String) -> Bool {
        if recordsByName[name] != nil { return true }
        let suffix = "." + name
        return recordsByName.keys.contains { $0.hasSuffix(suffix) }
    }

    private static func key(_ name: String) -> String {
        (try? DNSName.normalize(name)) ?? name.lowercased()
    }
}
