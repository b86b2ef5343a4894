import Foundation
import NIOCore
import SMTPCore

@testable import Defenses

/// Builds in-memory DNS lists for the DNSBL unit tests.
enum DNSListFixture {
    static func ip(_ text: String) -> IPAddress { IPAddress(text)! }

    /// Adds the RFC 5782 §5 test points a healthy list has (IPv4, IPv6 and domain forms).
    static func addTestPoints(_ dns: inout MockResolver, _ zone: DNSListZone, code: String = "127.0.0.2") {
        for family in DNSListTestFamily.allCases {
            dns.add(.a(IPv4Address(code)!), at: family.testNames(in: zone).listed)
        }
    }

    /// Lists `address` (an IP address or a domain) in `zone` with `code` and an optional TXT.
    static func list(_ dns: inout MockResolver, _ zone: DNSListZone, _ value: String, code: String = "127.0.0.2", txt: String? = nil) {
        let name = IPAddress(value).map(zone.queryName(for:)) ?? (try! zone.queryName(forDomain: value))
        dns.add(.a(IPv4Address(code)!), at: name)
        if let txt { dns.add(.txt(TXTRecord(txt)), at: name) }
    }

    /// A session from `client` (port 25000) to 192.0.2.1:25.
    static func session(_ client: String = "192.0.2.99", helo: MailHost? = .domain("client.example"), user: String? = nil) -> SessionContext {
        var context = SessionContext(
            sessionID: "S-\(client)", remoteAddress: try! SocketAddress(ipAddress: client, port: 25000),
            localAddress: try! SocketAddress(ipAddress: "192.0.2.1", port: 25), listenerName: "mx")
        context.heloName = helo
        context.authenticatedUser = user
        return context
    }

    static func reversePath(_ address: String) -> ReversePath {
        let at = address.lastIndex(of: "@")!
        return .mailbox(Mailbox(localPart: String(address[..<at]), host: .domain(String(address[address.index(after: at)...]))))
    }
}
