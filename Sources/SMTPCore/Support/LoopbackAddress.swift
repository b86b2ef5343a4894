import NIOCore

/// Whether an address is this host's loopback: `127.0.0.0/8`, `::1`, or an IPv4-mapped loopback
/// ([RFC 1122 §3.2.1.3](https://www.rfc-editor.org/rfc/rfc1122#section-3.2.1.3),
/// [RFC 4291 §2.5.3](https://www.rfc-editor.org/rfc/rfc4291#section-2.5.3)). Traffic between two
/// such ends never leaves the machine.
public enum LoopbackAddress {
    /// An address in text form (`127.0.0.1`, `::1`, `[::1]`); `localhost` counts too.
    public static func contains(_ host: String) -> Bool {
        var text = host.lowercased()
        if text.hasPrefix("["), text.hasSuffix("]") { text = String(text.dropFirst().dropLast()) }
        if text == "localhost" { return true }
        guard let address = try? SocketAddress(ipAddress: text, port: 0) else { return false }
        return contains(address)
    }

    public static func contains(_ address: SocketAddress) -> Bool {
        guard let text = address.ipAddress?.lowercased() else { return address.protocol == .unix }
        if text == "::1" { return true }
        let v4 = text.hasPrefix("::ffff:") ? String(text.dropFirst(7)) : text
        return v4.hasPrefix("127.") && v4.split(separator: ".").count == 4
    }
}
