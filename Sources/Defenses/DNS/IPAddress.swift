#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// An IPv4 address: the data of an A record
/// ([RFC 1035 §3.4.1](https://www.rfc-editor.org/rfc/rfc1035#section-3.4.1)).
public struct IPv4Address: Hashable, Sendable, CustomStringConvertible {
    /// The four octets, most significant first.
    public let octets: [UInt8]

    /// From exactly four octets; `nil` for any other count.
    public init?(octets: some Collection<UInt8>) {
        guard octets.count == 4 else { return nil }
        self.octets = Array(octets)
    }

    /// From dotted-quad text (`192.0.2.1`); nothing else (no octal, no short forms).
    public init?(_ text: String) {
        var address = in_addr()
        guard !text.isEmpty, text.utf8.allSatisfy({ $0 == UInt8(ascii: ".") || ($0 >= 0x30 && $0 <= 0x39) }),
            inet_pton(AF_INET, text, &address) == 1
        else { return nil }
        self.octets = withUnsafeBytes(of: &address) { Array($0) }
    }

    public var description: String {
        octets.map(String.init).joined(separator: ".")
    }

    /// The name of its PTR record, `4.3.2.1.in-addr.arpa` for 1.2.3.4
    /// ([RFC 1035 §3.5](https://www.rfc-editor.org/rfc/rfc1035#section-3.5)).
    public var reversePointerName: String {
        octets.reversed().map(String.init).joined(separator: ".") + ".in-addr.arpa"
    }

    /// 127.0.0.0/8 ([RFC 1122 §3.2.1.3](https://www.rfc-editor.org/rfc/rfc1122#section-3.2.1.3)).
    public var isLoopback: Bool { octets[0] == 127 }
}

/// An IPv6 address: the data of an AAAA record
/// ([RFC 3596 §2.2](https://www.rfc-editor.org/rfc/rfc3596#section-2.2)).
public struct IPv6Address: Hashable, Sendable, CustomStringConvertible {
    /// The sixteen octets, most significant first.
    public let octets: [UInt8]

    /// From exactly sixteen octets; `nil` for any other count.
    public init?(octets: some Collection<UInt8>) {
        guard octets.count == 16 else { return nil }
        self.octets = Array(octets)
    }

    /// From RFC 4291 §2.2 text (`2001:db8::1`, `::ffff:192.0.2.1`); no zone index (`%eth0`).
    public init?(_ text: String) {
        var address = in6_addr()
        guard text.contains(":"), inet_pton(AF_INET6, text, &address) == 1 else { return nil }
        self.octets = withUnsafeBytes(of: &address) { Array($0) }
    }

    /// The [RFC 5952](https://www.rfc-editor.org/rfc/rfc5952) form: lower case, longest zero run as `::`.
    public var description: String {
        let groups = stride(from: 0, to: 16, by: 2).map { UInt16(octets[$0]) << 8 | UInt16(octets[$0 + 1]) }
        // RFC 5952 §4.2: the longest run of two or more zero groups (the first of equals) becomes "::".
        var best: Range<Int>? = nil
        var index = 0
        while index < 8 {
            guard groups[index] == 0 else { index += 1; continue }
            var end = index
            while end < 8, groups[end] == 0 { end += 1 }
            if end - index >= 2, end - index > (best?.count ?? 0) { best = index..<end }
            index = end
        }
        func hex(_ slice: ArraySlice<UInt16>) -> String {
            slice.map { String($0, radix: 16) }.joined(separator: ":")
        }
        guard let best else { return hex(groups[...]) }
        let head = hex(groups[..<best.lowerBound])
        let tail = hex(groups[best.upperBound...])
        return head + "::" + tail
    }

    /// The name of its PTR record: 32 nibbles, least significant first, under `ip6.arpa`
    /// ([RFC 3596 §2.5](https://www.rfc-editor.org/rfc/rfc3596#section-2.5)).
    public var reversePointerName: String {
        var labels: [String] = []
        labels.reserveCapacity(32)
        for octet in octets.reversed() {
            labels.append(String(octet & 0x0F, radix: 16))
            labels.append(String(octet >> 4, radix: 16))
        }
        return labels.joined(separator: ".") + ".ip6.arpa"
    }

    /// `::1` ([RFC 4291 §2.5.3](https://www.rfc-editor.org/rfc/rfc4291#section-2.5.3)), or an
    /// IPv4-mapped loopback address (`::ffff:127.x.x.x`).
    public var isLoopback: Bool {
        if octets[0..<15].allSatisfy({ $0 == 0 }) && octets[15] == 1 { return true }
        return octets[0..<10].allSatisfy { $0 == 0 } && octets[10] == 0xFF && octets[11] == 0xFF && octets[12] == 127
    }
}

/// An IPv4 or IPv6 address, as a client's connecting address or a name server's.
public enum IPAddress: Hashable, Sendable, CustomStringConvertible {
    /// An IPv4 address ([RFC 791](https://www.rfc-editor.org/rfc/rfc791)).
    case v4(IPv4Address)
    /// An IPv6 address ([RFC 4291](https://www.rfc-editor.org/rfc/rfc4291)).
    case v6(IPv6Address)

    /// From either text form; `nil` when it is neither.
    public init?(_ text: String) {
        if let v4 = IPv4Address(text) {
            self = .v4(v4)
        } else if let v6 = IPv6Address(text) {
            self = .v6(v6)
        } else {
            return nil
        }
    }

    public var description: String {
        switch self {
        case .v4(let address): address.description
        case .v6(let address): address.description
        }
    }

    /// The PTR name under `in-addr.arpa` or `ip6.arpa`.
    public var reversePointerName: String {
        switch self {
        case .v4(let address): address.reversePointerName
        case .v6(let address): address.reversePointerName
        }
    }

    public var isLoopback: Bool {
        switch self {
        case .v4(let address): address.isLoopback
        case .v6(let address): address.isLoopback
        }
    }

    /// An IPv4-mapped IPv6 address (`::ffff:192.0.2.1`,
    /// [RFC 4291 §2.5.5.2](https://www.rfc-editor.org/rfc/rfc4291#section-2.5.5.2)) as the IPv4
    /// address it carries; any other address as it is. The checks see a client this way
    /// (RFC 7208 §5.6, RFC 5782 §2.4).
    public var unmapped: IPAddress {
        guard case .v6(let address) = self, address.octets[0..<10].allSatisfy({ $0 == 0 }),
            address.octets[10] == 0xFF, address.octets[11] == 0xFF,
            let v4 = IPv4Address(octets: address.octets[12..<16])
        else { return self }
        return .v4(v4)
    }
}
