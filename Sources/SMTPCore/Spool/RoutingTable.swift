/// Where a stage sends mail next: one SMTP or LMTP server (a stage of the chain).
public struct NextHop: Sendable, Hashable, Codable, CustomStringConvertible {
    /// A name for logs and configuration (`antivirus`, `store`).
    public var name: String
    public var host: String
    public var port: Int
    public var sessionProtocol: SessionProtocol
    /// STARTTLS use towards this hop.
    public var tls: HopTLS
    /// The name a ``HopTLS/verify`` hop's certificate must carry (and the SNI sent): the mail
    /// exchanger's name for a hop found by MX, `hops.NAME.tls_name` for a configured one;
    /// `nil`: ``host``.
    public var tlsServerName: String?
    /// DANE for this hop ([RFC 7672](https://www.rfc-editor.org/rfc/rfc7672)): its mail exchanger's
    /// DNSSEC-validated TLSA records. Set, TLS is mandatory and authenticated by them (whatever
    /// ``tls`` says); only the MX resolver sets it.
    public var dane: DANEAuthentication?
    /// The mail exchanger's name is authenticated: it came from a DNSSEC-validated MX RRset, or an
    /// MTA-STS policy (enforce or testing) names it — what REQUIRETLS asks before a message may
    /// go there ([RFC 8689 §4.2.1](https://www.rfc-editor.org/rfc/rfc8689#section-4.2.1)). Only the
    /// MX resolver sets it.
    public var mxAuthenticated = false

    /// TLS towards a next hop ([RFC 3207](https://www.rfc-editor.org/rfc/rfc3207)). Internal
    /// hops on loopback may use `.none`; across hosts use `.required` or `.verify`.
    public enum HopTLS: String, Sendable, Hashable, Codable, CaseIterable {
        /// Never STARTTLS.
        case none
        /// STARTTLS when offered, certificate unchecked (RFC 7435); plaintext when not offered.
        case opportunistic
        /// STARTTLS must succeed (else the attempt is deferred); certificate unchecked.
        case required
        /// STARTTLS must succeed with a certificate chain the trust roots accept, issued to
        /// ``NextHop/tlsServerName`` (RFC 6125 host name rules); else deferred.
        case verify
    }

    public init(name: String, host: String, port: Int, sessionProtocol: SessionProtocol = .smtp, tls: HopTLS = .opportunistic,
                tlsServerName: String? = nil, dane: DANEAuthentication? = nil) {
        self.dane = dane
        self.name = name
        self.host = host
        self.port = port
        self.sessionProtocol = sessionProtocol
        self.tls = tls
        self.tlsServerName = tlsServerName
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
