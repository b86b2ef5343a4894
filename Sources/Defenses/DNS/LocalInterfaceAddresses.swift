#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The addresses of this machine's network interfaces (`getifaddrs(3)`): what `mailnode spf
/// record` authorises by default, and what the outbound role compares mail exchangers with so
/// that mail for a domain whose MX is this host is not sent to itself.
public enum LocalInterfaceAddresses {
    /// Every interface address, loopback and link-local included.
    public static func all() -> [IPAddress] {
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0, let first = list else { return [] }
        defer { freeifaddrs(list) }
        var result: [IPAddress] = []
        for entry in sequence(first: first, next: { $0.pointee.ifa_next }) {
            guard let socketAddress = entry.pointee.ifa_addr else { continue }
            switch Int32(socketAddress.pointee.sa_family) {
            case AF_INET:
                let octets = socketAddress.withMemoryRebound(to: sockaddr_in.self, capacity: 1) {
                    withUnsafeBytes(of: $0.pointee.sin_addr) { Array($0) }
                }
                if let v4 = IPv4Address(octets: octets), !result.contains(.v4(v4)) { result.append(.v4(v4)) }
            case AF_INET6:
                let octets = socketAddress.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) {
                    withUnsafeBytes(of: $0.pointee.sin6_addr) { Array($0) }
                }
                if let v6 = IPv6Address(octets: octets), !result.contains(.v6(v6)) { result.append(.v6(v6)) }
            default:
                continue
            }
        }
        return result
    }

    /// The interface addresses the Internet can reach: ``isGlobal(_:)``.
    public static func globalUnicast() -> [IPAddress] { all().filter(isGlobal) }

    /// Not loopback, unspecified, link-local, private ([RFC 1918](https://www.rfc-editor.org/rfc/rfc1918),
    /// [RFC 4193](https://www.rfc-editor.org/rfc/rfc4193)), shared ([RFC 6598](https://www.rfc-editor.org/rfc/rfc6598)),
    /// documentation ([RFC 5737](https://www.rfc-editor.org/rfc/rfc5737), [RFC 3849](https://www.rfc-editor.org/rfc/rfc3849))
    /// or multicast space; for IPv6 inside 2000::/3.
    public static func isGlobal(_ address: IPAddress) -> Bool {
        switch address {
        case .v4(let v4): return isGlobal(v4: v4.octets)
        case .v6(let v6): return isGlobal(v6: v6.octets)
        }
    }

    static func isGlobal(v4 o: [UInt8]) -> Bool {
        switch (o[0], o[1]) {
        case (0, _), (10, _), (127, _), (169, 254), (192, 168), (224...255, _): return false
        case (172, 16...31), (100, 64...127): return false
        case (192, 0) where o[2] == 2, (198, 51) where o[2] == 100, (203, 0) where o[2] == 113: return false
        default: return true
        }
    }

    static func isGlobal(v6 o: [UInt8]) -> Bool {
        if o[0] == 0x20 && o[1] == 0x01 && o[2] == 0x0D && o[3] == 0xB8 { return false }   // 2001:db8::/32
        return (o[0] & 0xE0) == 0x20                                                    // 2000::/3
    }
}
