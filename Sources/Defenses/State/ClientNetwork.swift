import NIOCore
import SMTPCore

/// The key text of the network a client belongs to, as state-keeping mechanisms group clients:
/// an IPv4 client by its /24 and an IPv6 client by its /64 by default (a sending cluster
/// retries from a neighbouring address; RFC 6647 §4.1 on greylisting "the IP address or a
/// subnet"). An IPv4-mapped IPv6 address counts as IPv4.
public struct ClientNetworkGrouping: Sendable, Hashable {
    /// Prefix length for IPv4 clients (1...32, default 24).
    public var ipv4Prefix: Int
    /// Prefix length for IPv6 clients (1...128, default 64).
    public var ipv6Prefix: Int

    public init(ipv4Prefix: Int = 24, ipv6Prefix: Int = 64) {
        self.ipv4Prefix = min(32, max(1, ipv4Prefix))
        self.ipv6Prefix = min(128, max(1, ipv6Prefix))
    }

    /// One address per key.
    public static let singleAddress = ClientNetworkGrouping(ipv4Prefix: 32, ipv6Prefix: 128)

    /// `192.0.2.0/24`, `2001:db8:0:1:0:0:0:0/64`; `nil` for a session without an IP peer.
    public func key(for address: SocketAddress?) -> String? {
        guard let address, var bytes = IPNetwork.bytes(of: address) else { return nil }
        if bytes.count == 16, bytes[0..<10].allSatisfy({ $0 == 0 }), bytes[10] == 0xFF, bytes[11] == 0xFF {
            bytes = Array(bytes[12...])
        }
        let prefix = bytes.count == 4 ? ipv4Prefix : ipv6Prefix
        let masked = bytes.enumerated().map { index, byte -> UInt8 in
            let bits = max(0, min(8, prefix - index * 8))
            return bits == 8 ? byte : byte & ~(UInt8(0xFF) >> bits)
        }
        let text: String
        if masked.count == 4 {
            text = masked.map(String.init).joined(separator: ".")
        } else {
            text = stride(from: 0, to: 16, by: 2)
                .map { String(UInt16(masked[$0]) << 8 | UInt16(masked[$0 + 1]), radix: 16) }
                .joined(separator: ":")
        }
        return "\(text)/\(prefix)"
    }
}
