/// Where a stage sends mail next: one SMTP or LMTP server (a stage of the chain).
public struct NextHop: Sendable, Hashable, Codable, CustomStringConvertible {
    /// A name for logs and configuration (`antivirus`, `store`).
    public var name: String
    public var host: String
    public var port: Int
    public var sessionProtocol: SessionProtocol
    /// STARTTLS use towards this hop.
    public var tls: HopTLS

    /// TLS towards a next hop. Internal hops on loopback may use `.none`; across hosts use
    /// `.required` (and verification once stage certificates exist).
    public enum HopTLS: String, Sendable, Hashable, Codable, CaseIterable {
        case none
        case opportunistic
        case required
    }

    public init(name: String, host: String, port: Int, sessionProtocol: SessionProtocol = .smtp, tls: HopTLS = .opportunistic) {
        self.name = name
        self.host = host
        self.port = port
        self.sessionProtocol = sessionProtocol
        self.tls = tls
    }

    public var description: String { "\(name)(\(sessionProtocol.rawValue)://\(host):\(port))" }
}

extension SessionProtocol: Codable {}

/// Chooses the next hop per recipient: exact domain, then parent-domain wildcard (`.example.org`
/// matches any subdomain), then the default. A chain like `mx → antivirus → antispam →
/// store|outbound` is only a matter of configuring these tables per stage.
public struct RoutingTable: Sendable, Hashable {
    /// Keys are lower-case domains; a key starting with `.` matches every subdomain.
    public var routes: [String: NextHop]
    public var defaultHop: NextHop?

    public init(routes: [String: NextHop] = [:], defaultHop: NextHop? = nil) {
        self.routes = Dictionary(uniqueKeysWithValues: routes.map { ($0.key.lowercased(), $0.value) })
        self.defaultHop = defaultHop
    }

    /// The hop for `recipient`, or nil when no rule and no default applies.
    public func hop(for recipient: ForwardPath) -> NextHop? {
        guard case .mailbox(let mailbox) = recipient, case .domain(let name) = mailbox.host else {
            return defaultHop   // <Postmaster> and address literals go the default way
        }
        var domain = name.lowercased()
        if domain.hasSuffix(".") { domain.removeLast() }
        if let ascii = try? IDNA.toASCII(domain) { domain = ascii }
        if let hop = routes[domain] { return hop }
        var labels = domain.split(separator: ".")
        while labels.count > 1 {
            labels.removeFirst()
            if let hop = routes["." + labels.joined(separator: ".")] { return hop }
        }
        return defaultHop
    }
}
