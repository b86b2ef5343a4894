/// A DNS resource record TYPE ([RFC 1035 §3.2.2](https://www.rfc-editor.org/rfc/rfc1035#section-3.2.2)).
///
/// A struct over the 16-bit code rather than a closed enum, so that a type this library does not
/// model (NS, SRV, ...) can still be asked for and comes back as
/// ``DNSRecordData/unknown(type:rdata:)`` ([RFC 3597](https://www.rfc-editor.org/rfc/rfc3597)).
public struct DNSRecordType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt16

    public init(rawValue: UInt16) {
        self.rawValue = rawValue
    }

    /// IPv4 host address ([RFC 1035 §3.4.1](https://www.rfc-editor.org/rfc/rfc1035#section-3.4.1)).
    public static let a = DNSRecordType(rawValue: 1)
    /// Name server ([RFC 1035 §3.3.11](https://www.rfc-editor.org/rfc/rfc1035#section-3.3.11)).
    public static let ns = DNSRecordType(rawValue: 2)
    /// Canonical name, an alias ([RFC 1035 §3.3.1](https://www.rfc-editor.org/rfc/rfc1035#section-3.3.1)).
    public static let cname = DNSRecordType(rawValue: 5)
    /// Start of authority ([RFC 1035 §3.3.13](https://www.rfc-editor.org/rfc/rfc1035#section-3.3.13));
    /// its MINIMUM field bounds negative caching ([RFC 2308 §4](https://www.rfc-editor.org/rfc/rfc2308#section-4)).
    public static let soa = DNSRecordType(rawValue: 6)
    /// Domain name pointer, reverse DNS ([RFC 1035 §3.3.12](https://www.rfc-editor.org/rfc/rfc1035#section-3.3.12)).
    public static let ptr = DNSRecordType(rawValue: 12)
    /// Mail exchange ([RFC 1035 §3.3.9](https://www.rfc-editor.org/rfc/rfc1035#section-3.3.9),
    /// [RFC 5321 §5](https://www.rfc-editor.org/rfc/rfc5321#section-5)).
    public static let mx = DNSRecordType(rawValue: 15)
    /// Text strings ([RFC 1035 §3.3.14](https://www.rfc-editor.org/rfc/rfc1035#section-3.3.14)): SPF, DKIM, DMARC, MTA-STS.
    public static let txt = DNSRecordType(rawValue: 16)
    /// IPv6 host address ([RFC 3596 §2](https://www.rfc-editor.org/rfc/rfc3596#section-2)).
    public static let aaaa = DNSRecordType(rawValue: 28)
    /// EDNS0 pseudo-record ([RFC 6891 §6](https://www.rfc-editor.org/rfc/rfc6891#section-6)); never asked for.
    public static let opt = DNSRecordType(rawValue: 41)
    /// DANE TLS association ([RFC 6698 §2](https://www.rfc-editor.org/rfc/rfc6698#section-2)).
    public static let tlsa = DNSRecordType(rawValue: 52)

    private static let names: [UInt16: String] = [
        1: "A", 2: "NS", 5: "CNAME", 6: "SOA", 12: "PTR", 15: "MX", 16: "TXT", 28: "AAAA", 41: "OPT", 52: "TLSA",
    ]

    /// The mnemonic (`MX`), or `TYPE<n>` for others ([RFC 3597 §5](https://www.rfc-editor.org/rfc/rfc3597#section-5)).
    public var description: String {
        Self.names[rawValue] ?? "TYPE\(rawValue)"
    }
}
