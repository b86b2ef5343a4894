/// Why a DNS look-up gave no records.
///
/// The cases keep apart what [RFC 2308](https://www.rfc-editor.org/rfc/rfc2308) keeps apart,
/// because the checks built on them must: SPF counts NXDOMAIN and NODATA as "void lookups" but
/// turns SERVFAIL or a timeout into `temperror` ([RFC 7208 §4.6.4, §5](https://www.rfc-editor.org/rfc/rfc7208#section-5)),
/// and a sender-domain check may reject on NXDOMAIN but only defer on a timeout.
public enum DNSError: Error, Hashable, Sendable, CustomStringConvertible {
    /// RCODE 3, the name does not exist ([RFC 2308 §2.1](https://www.rfc-editor.org/rfc/rfc2308#section-2.1)).
    case nxdomain(DNSNegativeAnswer)
    /// NOERROR with no record of the type: the name exists, the type does not
    /// ([RFC 2308 §2.2](https://www.rfc-editor.org/rfc/rfc2308#section-2.2)).
    case noData(DNSNegativeAnswer)
    /// RCODE 2 from every server asked ([RFC 1035 §4.1.1](https://www.rfc-editor.org/rfc/rfc1035#section-4.1.1);
    /// RFC 2308 §7.1).
    case serverFailure
    /// Another error RCODE (FORMERR 1, NOTIMP 4, REFUSED 5, ...) from every server asked.
    case responseCode(UInt16)
    /// No usable reply within the configured timeout and attempts
    /// ([RFC 2308 §7.2](https://www.rfc-editor.org/rfc/rfc2308#section-7.2)).
    case timeout
    /// The servers could not be reached (for example ICMP port unreachable, TCP refused).
    case network(String)
    /// A reply ldns could not parse or that breaks the protocol.
    case malformedResponse(String)
    /// The name cannot be asked for: empty label, over 63 or 253 octets, or IDNA refused it.
    case invalidName(String)
    /// A CNAME chain longer than the resolver follows, or a loop.
    case cnameChainTooLong(String)
    /// The configuration names no name server.
    case noNameservers
    /// The calling task was cancelled before an answer came.
    case cancelled

    /// NXDOMAIN or NODATA: an authoritative "no", which may be cached.
    public var isNotFound: Bool {
        switch self {
        case .nxdomain, .noData: true
        default: false
        }
    }

    /// A failure that may go away by asking again later (SPF `temperror`, SMTP 4xx).
    public var isTemporary: Bool {
        switch self {
        case .serverFailure, .responseCode, .timeout, .network, .malformedResponse, .cnameChainTooLong, .noNameservers,
            .cancelled:
            true
        case .nxdomain, .noData, .invalidName:
            false
        }
    }

    /// The negative answer of NXDOMAIN or NODATA.
    public var negativeAnswer: DNSNegativeAnswer? {
        switch self {
        case .nxdomain(let answer), .noData(let answer): answer
        default: nil
        }
    }

    public var description: String {
        switch self {
        case .nxdomain(let answer): "NXDOMAIN for \(answer.name)"
        case .noData(let answer): "no \(answer.type) records at \(answer.name)"
        case .serverFailure: "SERVFAIL"
        case .responseCode(let code): "DNS error RCODE \(code)"
        case .timeout: "DNS timeout"
        case .network(let reason): "DNS network error: \(reason)"
        case .malformedResponse(let reason): "malformed DNS reply: \(reason)"
        case .invalidName(let reason): "invalid domain name: \(reason)"
        case .cnameChainTooLong(let name): "CNAME chain too long or looping at \(name)"
        case .noNameservers: "no DNS name server configured"
        case .cancelled: "DNS look-up cancelled"
        }
    }
}

/// The content of an NXDOMAIN or NODATA answer ([RFC 2308 §2](https://www.rfc-editor.org/rfc/rfc2308#section-2)).
public struct DNSNegativeAnswer: Hashable, Sendable {
    /// The name that does not exist or lacks the type: after a CNAME chain, its last target
    /// ([RFC 6604 §3](https://www.rfc-editor.org/rfc/rfc6604#section-3)).
    public var name: String
    public var type: DNSRecordType
    /// How long the negative answer may be cached: min(SOA TTL, SOA MINIMUM) of the SOA in the
    /// authority section ([RFC 2308 §5](https://www.rfc-editor.org/rfc/rfc2308#section-5));
    /// `nil` when the reply carried no SOA, which must then not be cached.
    public var ttl: UInt32?
    /// The AD bit of the reply, when trusted (see ``DNSResolverConfiguration/adTrust``).
    public var authenticated: Bool

    public init(name: String, type: DNSRecordType, ttl: UInt32?, authenticated: Bool = false) {
        self.name = name
        self.type = type
        self.ttl = ttl
        self.authenticated = authenticated
    }
}
