import NIOCore

/// An IP network in CIDR notation (`192.0.2.0/24`, `2001:db8::/32`, or a single address),
/// used for lists of trusted peers (PROXY protocol senders, internal networks).
public struct IPNetwork: Hashable, Sendable, CustomStringConvertible {
    /// Network address bytes: 4 for IPv4, 16 for IPv6.
    public let address: [UInt8]
    public let prefixLength: Int

    /// Parses `addr` or `addr/len`; nil when malformed.
    public init?(_ text: String) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let first = parts.first, let bytes = IPNetwork.bytes(of: String(first)) else { return nil }
        let maxLength = bytes.count * 8
        var length = maxLength
        if parts.count == 2 {
            guard let parsed = Int(parts[1]), (0...maxLength).contains(parsed) else { return nil }
            length = parsed
        }
        self.address = IPNetwork.masked(bytes, length)
        self.prefixLength = length
    }

    public var description: String { "\(IPNetwork.text(of: address))/\(prefixLength)" }

    /// Dotted quad for 4 bytes, eight colon-separated hex groups for 16 (uncompressed; every
    /// parser accepts it).
    static func text(of bytes: [UInt8]) -> String {
        if bytes.count == 4 { return bytes.map(String.init).joined(separator: ".") }
        return stride(from: 0, to: bytes.count - 1, by: 2)
            .map { String(UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]), radix: 16) }
            .joined(separator: ":")
    }

    /// True when `socketAddress` lies in this network (IPv4-mapped IPv6 matches IPv4 networks).
    public func contains(_ socketAddress: SocketAddress) -> Bool {
        guard var bytes = IPNetwork.bytes(of: socketAddress) else { return false }
        if bytes.count == 16, address.count == 4, bytes[0..<10].allSatisfy({ $0 == 0 }),
           bytes[10] == 0xFF, bytes[11] == 0xFF {
            bytes = Array(bytes[12...])
        }
        guard bytes.count == address.count else { return false }
        return IPNetwork.masked(bytes, prefixLength) == address
    }

    static func masked(_ bytes: [UInt8], _ length: Int) -> [UInt8] {
        bytes.enumerated().map { index, byte in
            let bits = max(0, min(8, length - index * 8))
            return bits == 8 ? byte : byte & ~(UInt8(0xFF) >> bits)
        }
    }

    static func bytes(of text: String) -> [UInt8]? {
        guard let address = try? SocketAddress(ipAddress: text, port: 0) else { return nil }
        return bytes(of: address)
    }

    /// The raw address bytes of an IP socket address.
    public static func bytes(of address: SocketAddress) -> [UInt8]? {
        switch address {
        case .v4(let v4):
            return withUnsafeBytes(of: v4.address.sin_addr) { Array($0) }
        case .v6(let v6):
            return withUnsafeBytes(of: v6.address.sin6_addr) { Array($0) }
        default:
            return nil
        }
    }
}
