/// One resource record of an answer: owner name, TTL and typed data
/// ([RFC 1035 §3.2.1](https://www.rfc-editor.org/rfc/rfc1035#section-3.2.1)). Class is always IN.
///
/// Names here and in record data are A-labels, lower-cased, without the trailing dot; the root
/// is `"."` (as in a null MX).
public struct DNSResourceRecord: Hashable, Sendable {
    /// The owner name.
    public var name: String
    /// Seconds the record may be cached ([RFC 2181 §8](https://www.rfc-editor.org/rfc/rfc2181#section-8));
    /// counts down when the record comes from ``DNSCachingResolver``.
    public var ttl: UInt32
    /// The typed RDATA.
    public var data: DNSRecordData

    public init(name: String, ttl: UInt32, data: DNSRecordData) {
        self.name = name
        self.ttl = ttl
        self.data = data
    }

    public var type: DNSRecordType { data.type }
}

/// The typed RDATA of a record.
public enum DNSRecordData: Hashable, Sendable {
    /// [RFC 1035 §3.4.1](https://www.rfc-editor.org/rfc/rfc1035#section-3.4.1).
    case a(IPv4Address)
    /// [RFC 3596 §2.2](https://www.rfc-editor.org/rfc/rfc3596#section-2.2).
    case aaaa(IPv6Address)
    /// [RFC 1035 §3.3.9](https://www.rfc-editor.org/rfc/rfc1035#section-3.3.9).
    case mx(MXRecord)
    /// [RFC 1035 §3.3.14](https://www.rfc-editor.org/rfc/rfc1035#section-3.3.14).
    case txt(TXTRecord)
    /// The target name ([RFC 1035 §3.3.12](https://www.rfc-editor.org/rfc/rfc1035#section-3.3.12)).
    case ptr(String)
    /// The canonical name ([RFC 1035 §3.3.1](https://www.rfc-editor.org/rfc/rfc1035#section-3.3.1)).
    case cname(String)
    /// [RFC 6698 §2.1](https://www.rfc-editor.org/rfc/rfc6698#section-2.1).
    case tlsa(TLSARecord)
    /// [RFC 1035 §3.3.13](https://www.rfc-editor.org/rfc/rfc1035#section-3.3.13).
    case soa(SOARecord)
    /// Any other type: its RDATA in uncompressed wire form
    /// ([RFC 3597 §4](https://www.rfc-editor.org/rfc/rfc3597#section-4)).
    case unknown(type: DNSRecordType, rdata: [UInt8])

    public var type: DNSRecordType {
        switch self {
        case .a: .a
        case .aaaa: .aaaa
        case .mx: .mx
        case .txt: .txt
        case .ptr: .ptr
        case .cname: .cname
        case .tlsa: .tlsa
        case .soa: .soa
        case .unknown(let type, _): type
        }
    }
}

/// A mail exchanger ([RFC 1035 §3.3.9](https://www.rfc-editor.org/rfc/rfc1035#section-3.3.9)):
/// lower ``preference`` is tried first ([RFC 5321 §5.1](https://www.rfc-editor.org/rfc/rfc5321#section-5.1)).
public struct MXRecord: Hashable, Sendable {
    public var preference: UInt16
    /// The exchange host; `"."` in a null MX.
    public var exchange: String

    public init(preference: UInt16, exchange: String) {
        self.preference = preference
        self.exchange = exchange
    }

    /// `MX 0 .`: the domain accepts no mail at all
    /// ([RFC 7505 §3](https://www.rfc-editor.org/rfc/rfc7505#section-3)).
    public var isNullMX: Bool { preference == 0 && exchange == "." }
}

/// One TXT record: its character-strings, each at most 255 bytes, kept apart
/// ([RFC 1035 §3.3.14](https://www.rfc-editor.org/rfc/rfc1035#section-3.3.14)).
///
/// Several records at one name are several `TXTRecord`s; ``text`` joins the strings of *one*
/// record without separator, as SPF ([RFC 7208 §3.3](https://www.rfc-editor.org/rfc/rfc7208#section-3.3))
/// and DKIM ([RFC 6376 §3.6.2.2](https://www.rfc-editor.org/rfc/rfc6376#section-3.6.2.2)) read them.
public struct TXTRecord: Hashable, Sendable {
    /// The character-strings as bytes: TXT data need not be UTF-8.
    public var strings: [[UInt8]]

    public init(strings: [[UInt8]]) {
        self.strings = strings
    }

    /// From text strings (UTF-8).
    public init(_ strings: String...) {
        self.strings = strings.map { Array($0.utf8) }
    }

    /// The strings concatenated, decoded as UTF-8 (invalid bytes become U+FFFD).
    public var text: String {
        String(decoding: strings.joined(), as: UTF8.self)
    }
}

/// A TLSA record, a DANE certificate association
/// ([RFC 6698 §2.1](https://www.rfc-editor.org/rfc/rfc6698#section-2.1); SMTP use:
/// [RFC 7672](https://www.rfc-editor.org/rfc/rfc7672)).
public struct TLSARecord: Hashable, Sendable {
    /// 0 PKIX-TA, 1 PKIX-EE, 2 DANE-TA, 3 DANE-EE.
    public var usage: UInt8
    /// 0 full certificate, 1 SubjectPublicKeyInfo.
    public var selector: UInt8
    /// 0 exact, 1 SHA-256, 2 SHA-512.
    public var matchingType: UInt8
    /// The certificate association data.
    public var data: [UInt8]

    public init(usage: UInt8, selector: UInt8, matchingType: UInt8, data: [UInt8]) {
        self.usage = usage
        self.selector = selector
        self.matchingType = matchingType
        self.data = data
    }
}

/// A zone's start of authority ([RFC 1035 §3.3.13](https://www.rfc-editor.org/rfc/rfc1035#section-3.3.13)).
public struct SOARecord: Hashable, Sendable {
    public var primaryNameServer: String
    public var responsibleMailbox: String
    public var serial: UInt32
    public var refresh: UInt32
    public var retry: UInt32
    public var expire: UInt32
    /// Caps how long negative answers are cached
    /// ([RFC 2308 §4](https://www.rfc-editor.org/rfc/rfc2308#section-4)).
    public var minimum: UInt32

    public init(
        primaryNameServer: String, responsibleMailbox: String,
        serial: UInt32, refresh: UInt32, retry: UInt32, expire: UInt32, minimum: UInt32
    ) {
        self.primaryNameServer = primaryNameServer
        self.responsibleMailbox = responsibleMailbox
        self.serial = serial
        self.refresh = refresh
        self.retry = retry
        self.expire = expire
        self.minimum = minimum
    }
}
