/// Anything that answers DNS questions: ``LDNSResolver`` over the network, ``MockResolver`` from
/// memory, ``DNSCachingResolver`` in front of either.
///
/// One requirement, ``resolve(_:)``; the typed look-ups (``lookupMX(_:)``, ``lookupTXT(_:)``, ...)
/// are built on it. Every outcome that is not a positive answer is a ``DNSError``, with NXDOMAIN,
/// NODATA, SERVFAIL and timeout kept distinct ([RFC 2308](https://www.rfc-editor.org/rfc/rfc2308)).
/// Implementations must not block the calling thread (DESIGN §3.3).
public protocol DNSResolver: Sendable {
    /// Answers one question, following CNAMEs
    /// ([RFC 1034 §3.6.2](https://www.rfc-editor.org/rfc/rfc1034#section-3.6.2)).
    ///
    /// Returns at least one record of the asked type, or throws: a name without them is
    /// ``DNSError/noData(_:)``, a missing name ``DNSError/nxdomain(_:)``.
    func resolve(_ question: DNSQuestion) async throws(DNSError) -> DNSResponse
}

/// A positive answer: the records of the asked type at the end of any CNAME chain.
public struct DNSResponse: Hashable, Sendable {
    public var question: DNSQuestion
    /// The RRset of ``DNSQuestion/type`` at ``canonicalName``, in the order received.
    public var records: [DNSResourceRecord]
    /// The CNAME records followed from the question's name to ``canonicalName``, in order.
    public var aliases: [DNSResourceRecord]
    /// The reply's AD bit: the validating resolver checked it with DNSSEC
    /// ([RFC 4035 §3.2.3](https://www.rfc-editor.org/rfc/rfc4035#section-3.2.3),
    /// [RFC 6840 §5.7](https://www.rfc-editor.org/rfc/rfc6840#section-5.7)). Only as trustworthy as
    /// the path to that resolver: see ``DNSResolverConfiguration/adTrust``.
    public var authenticated: Bool

    public init(question: DNSQuestion, records: [DNSResourceRecord], aliases: [DNSResourceRecord] = [], authenticated: Bool = false) {
        self.question = question
        self.records = records
        self.aliases = aliases
        self.authenticated = authenticated
    }

    /// The name the records are at: the question's name, or the last CNAME target.
    public var canonicalName: String {
        if case .cname(let target) = aliases.last?.data { return target }
        return question.name
    }

    /// The smallest TTL of the records and the aliases: how long the whole answer stays valid.
    public var ttl: UInt32 {
        (records + aliases).map(\.ttl).min() ?? 0
    }
}

/// A positive answer with typed records, from the typed look-ups of ``DNSResolver``.
public struct DNSAnswer<Record: Hashable & Sendable>: Hashable, Sendable {
    /// The name asked for (A-labels).
    public var name: String
    /// Where the records were found after CNAMEs.
    public var canonicalName: String
    public var records: [Record]
    /// Seconds the answer stays valid (the smallest TTL involved).
    public var ttl: UInt32
    /// The trusted AD bit (``DNSResponse/authenticated``).
    public var authenticated: Bool

    public init(name: String, canonicalName: String, records: [Record], ttl: UInt32, authenticated: Bool) {
        self.name = name
        self.canonicalName = canonicalName
        self.records = records
        self.ttl = ttl
        self.authenticated = authenticated
    }

    init(_ response: DNSResponse, _ transform: (DNSRecordData) -> Record?) {
        self.init(
            name: response.question.name, canonicalName: response.canonicalName,
            records: response.records.compactMap { transform($0.data) },
            ttl: response.ttl, authenticated: response.authenticated
        )
    }
}

extension DNSAnswer where Record == MXRecord {
    /// The answer is exactly one null MX, `MX 0 .`: the domain receives no mail
    /// ([RFC 7505 §3](https://www.rfc-editor.org/rfc/rfc7505#section-3)).
    public var isNullMX: Bool { records.count == 1 && records[0].isNullMX }
}

extension DNSResolver {
    /// Asks for `type` at `name`; the name is normalised as ``DNSQuestion`` describes.
    public func resolve(_ name: String, _ type: DNSRecordType) async throws(DNSError) -> DNSResponse {
        try await resolve(DNSQuestion(name: name, type: type))
    }

    /// IPv4 addresses ([RFC 1035 §3.4.1](https://www.rfc-editor.org/rfc/rfc1035#section-3.4.1)).
    public func lookupA(_ name: String) async throws(DNSError) -> DNSAnswer<IPv4Address> {
        DNSAnswer(try await resolve(name, .a)) {
            if case .a(let address) = $0 { address } else { nil }
        }
    }

    /// IPv6 addresses ([RFC 3596 §2](https://www.rfc-editor.org/rfc/rfc3596#section-2)).
    public func lookupAAAA(_ name: String) async throws(DNSError) -> DNSAnswer<IPv6Address> {
        DNSAnswer(try await resolve(name, .aaaa)) {
            if case .aaaa(let address) = $0 { address } else { nil }
        }
    }

    /// Mail exchangers by ascending preference, ties by name
    /// ([RFC 5321 §5.1](https://www.rfc-editor.org/rfc/rfc5321#section-5.1); shuffling equal
    /// preferences is the delivering client's job). A null MX comes back as it is: see
    /// ``DNSAnswer/isNullMX``.
    public func lookupMX(_ name: String) async throws(DNSError) -> DNSAnswer<MXRecord> {
        var answer = DNSAnswer(try await resolve(name, .mx)) {
            if case .mx(let record) = $0 { record } else { nil }
        }
        answer.records.sort { ($0.preference, $0.exchange) < ($1.preference, $1.exchange) }
        return answer
    }

    /// TXT records, one ``TXTRecord`` per record, each keeping its character-strings.
    public func lookupTXT(_ name: String) async throws(DNSError) -> DNSAnswer<TXTRecord> {
        DNSAnswer(try await resolve(name, .txt)) {
            if case .txt(let record) = $0 { record } else { nil }
        }
    }

    /// Reverse DNS of an address: PTR at its `in-addr.arpa` / `ip6.arpa` name
    /// ([RFC 1035 §3.5](https://www.rfc-editor.org/rfc/rfc1035#section-3.5),
    /// [RFC 3596 §2.5](https://www.rfc-editor.org/rfc/rfc3596#section-2.5)).
    public func lookupPTR(_ address: IPAddress) async throws(DNSError) -> DNSAnswer<String> {
        try await lookupPTR(name: address.reversePointerName)
    }

    /// PTR records at a name.
    public func lookupPTR(name: String) async throws(DNSError) -> DNSAnswer<String> {
        DNSAnswer(try await resolve(name, .ptr)) {
            if case .ptr(let target) = $0 { target } else { nil }
        }
    }

    /// TLSA records at a name such as `_25._tcp.mx.example`
    /// ([RFC 6698 §3](https://www.rfc-editor.org/rfc/rfc6698#section-3)).
    public func lookupTLSA(_ name: String) async throws(DNSError) -> DNSAnswer<TLSARecord> {
        DNSAnswer(try await resolve(name, .tlsa)) {
            if case .tlsa(let record) = $0 { record } else { nil }
        }
    }

    /// TLSA records for a service: `_<port>._<transport>.<host>`
    /// ([RFC 6698 §3](https://www.rfc-editor.org/rfc/rfc6698#section-3), SMTP: port 25,
    /// [RFC 7672 §2.2.3](https://www.rfc-editor.org/rfc/rfc7672#section-2.2.3)).
    public func lookupTLSA(port: UInt16, transport: String = "tcp", host: String) async throws(DNSError) -> DNSAnswer<TLSARecord> {
        try await lookupTLSA("_\(port)._\(transport).\(host)")
    }

    /// The CNAME record at the name itself (not followed).
    public func lookupCNAME(_ name: String) async throws(DNSError) -> DNSAnswer<String> {
        DNSAnswer(try await resolve(name, .cname)) {
            if case .cname(let target) = $0 { target } else { nil }
        }
    }
}
