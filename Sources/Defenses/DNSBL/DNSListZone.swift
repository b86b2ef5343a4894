/// What a DNS list entry is about.
public enum DNSListSubject: String, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    /// The client's IP address: IPv4 as reversed octets
    /// ([RFC 5782 §2.1](https://www.rfc-editor.org/rfc/rfc5782#section-2.1)), IPv6 as 32 reversed
    /// nibbles ([RFC 5782 §2.4](https://www.rfc-editor.org/rfc/rfc5782#section-2.4)).
    case clientIP = "ip"
    /// The HELO/EHLO name, looked up in a domain-based list
    /// ([RFC 5782 §2.3](https://www.rfc-editor.org/rfc/rfc5782#section-2.3)).
    case heloName = "helo"
    /// The domain of the MAIL FROM address, looked up in a domain-based list ("RHSBL",
    /// [RFC 5782 §2.3](https://www.rfc-editor.org/rfc/rfc5782#section-2.3)).
    case mailFromDomain = "mailfrom"

    public var description: String { rawValue }
}

/// Which A-record answers of a list count, and how much
/// ([RFC 5782 §2.1](https://www.rfc-editor.org/rfc/rfc5782#section-2.1): "the A record ... MAY
/// be used to indicate the kind of listing").
///
/// Lists encode the reason for a listing in the address: Spamhaus ZEN answers `127.0.0.2` (SBL),
/// `127.0.0.4`–`127.0.0.7` (XBL), `127.0.0.10`/`.11` (PBL); URI lists answer bit masks. A rule matches
/// one exact address, a network (`127.0.0.4/30`), or any address whose last octet shares a bit with
/// a mask; it may carry its own weight, which replaces the zone's.
public struct DNSListCodeRule: Hashable, Sendable, CustomStringConvertible {
    public enum Pattern: Hashable, Sendable {
        /// Addresses in `address/prefixLength` (an exact address is `/32`).
        case network(IPv4Address, prefixLength: Int)
        /// Addresses in `127.0.0.0/8` whose last octet has a bit of `mask` set.
        case bitmask(UInt8)
    }

    public var pattern: Pattern
    /// The weight of a listing with this code; `nil`: the zone's ``DNSListZone/weight``.
    public var weight: Double?
    /// A name for logs (`SBL`, `XBL`, `PBL`).
    public var label: String?

    public init(_ pattern: Pattern, weight: Double? = nil, label: String? = nil) {
        self.pattern = pattern
        self.weight = weight
        self.label = label
    }

    /// From `127.0.0.2` (exactly that address) or `127.0.0.0/24` (any in the network); `nil` otherwise.
    public init?(_ text: String, weight: Double? = nil, label: String? = nil) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let address = IPv4Address(String(parts[0])) else { return nil }
        var length = 32
        if parts.count == 2 {
            guard parts[1].allSatisfy(\.isNumber), let parsed = Int(parts[1]), (0...32).contains(parsed) else { return nil }
            length = parsed
        }
        self.init(.network(address, prefixLength: length), weight: weight, label: label)
    }

    /// Whether the answer `address` is one this rule counts.
    public func matches(_ address: IPv4Address) -> Bool {
        switch pattern {
        case .network(let network, let length):
            return Self.prefix(address.octets, network.octets, length)
        case .bitmask(let mask):
            return address.isLoopback && address.octets[3] & mask != 0
        }
    }

    public var description: String {
        let base: String
        switch pattern {
        case .network(let address, 32): base = "\(address)"
        case .network(let address, let length): base = "\(address)/\(length)"
        case .bitmask(let mask): base = "127.0.0.0/8&\(mask)"
        }
        return label.map { "\(base)(\($0))" } ?? base
    }

    static func prefix(_ a: [UInt8], _ b: [UInt8], _ length: Int) -> Bool {
        for index in 0..<4 {
            let bits = max(0, min(8, length - index * 8))
            let mask = bits == 8 ? UInt8(0xFF) : ~(UInt8(0xFF) >> bits)
            if a[index] & mask != b[index] & mask { return false }
        }
        return true
    }

    /// `127.0.0.0/8`: every listing by the RFC 5782 §2.1 convention.
    public static let anyListing = DNSListCodeRule(.network(IPv4Address(octets: [127, 0, 0, 0])!, prefixLength: 8))
    /// `127.255.255.0/24`: answers that mean "query refused" (Spamhaus: 127.255.255.252 typo in
    /// the zone name, .254 query through a public resolver, .255 too many queries), never a listing.
    public static let refusalCodes = DNSListCodeRule(.network(IPv4Address(octets: [127, 255, 255, 0])!, prefixLength: 24))
}

/// One DNS list ("DNSxL", [RFC 5782](https://www.rfc-editor.org/rfc/rfc5782)): a block list
/// (DNSBL) or an allow list (DNSWL), of IP addresses or of domain names.
///
/// ```swift
/// let zen = DNSListZone("zen.spamhaus.example", weight: 1,
///                       codes: [DNSListCodeRule("127.0.0.2", label: "SBL")!,
///                               DNSListCodeRule("127.0.0.4/30", label: "XBL")!,
///                               DNSListCodeRule("127.0.0.10/31", weight: 0.5, label: "PBL")!])
/// let dbl = DNSListZone("dbl.example", subjects: [.mailFromDomain, .heloName])
/// let dnswl = DNSListZone("list.dnswl.example", kind: .allow)
/// ```
public struct DNSListZone: Sendable, CustomStringConvertible {
    /// Block list or allow list ([RFC 5782 §1](https://www.rfc-editor.org/rfc/rfc5782#section-1)).
    public enum Kind: String, Hashable, Sendable {
        /// A listing counts its weight toward the block threshold.
        case block
        /// A listing wins over every block list: the verdict is ``DNSListResult/allowed``.
        case allow
    }

    /// The zone, as given (lower case, no trailing dot).
    public var name: String
    public var kind: Kind
    /// What this list is asked about: IP lists `[.clientIP]`, domain lists
    /// `[.mailFromDomain]` and/or `[.heloName]`.
    public var subjects: Set<DNSListSubject>
    /// What one listing adds to the score (block lists); the verdict is ``DNSListResult/listed``
    /// when the sum reaches ``DNSListConfiguration/threshold``.
    public var weight: Double
    /// Answers that count as a listing; empty: any address in `127.0.0.0/8`. Answers outside
    /// `127.0.0.0/8` never count (a resolver that rewrites NXDOMAIN answers with its own address).
    public var codes: [DNSListCodeRule]
    /// Answers that mean the list refused to answer: the check is "unknown" for this zone, logged
    /// as an error. Default `127.255.255.0/24`.
    public var refusalCodes: [DNSListCodeRule]
    /// Whether the list has IPv6 entries ([RFC 5782 §2.4](https://www.rfc-editor.org/rfc/rfc5782#section-2.4)).
    /// When false, IPv6 clients are not looked up in it.
    public var ipv6: Bool
    /// Fetch the TXT record of a listing for the log
    /// ([RFC 5782 §2.1](https://www.rfc-editor.org/rfc/rfc5782#section-2.1)); never sent on the wire.
    public var fetchReason: Bool
    /// Run the [RFC 5782 §5](https://www.rfc-editor.org/rfc/rfc5782#section-5) test points before
    /// trusting the list (see ``DNSListChecker``).
    public var healthCheck: Bool
    /// Asks this list through another resolver than the checker's (a local rbldnsd mirror, a
    /// subscription resolver); `nil`: the checker's.
    public var resolver: (any DNSResolver)?

    public init(
        _ name: String, kind: Kind = .block, subjects: Set<DNSListSubject> = [.clientIP], weight: Double = 1,
        codes: [DNSListCodeRule] = [], refusalCodes: [DNSListCodeRule] = [.refusalCodes], ipv6: Bool = true,
        fetchReason: Bool = true, healthCheck: Bool = true, resolver: (any DNSResolver)? = nil
    ) {
        var zone = name.lowercased()
        if zone.hasSuffix(".") { zone.removeLast() }
        self.name = zone
        self.kind = kind
        self.subjects = subjects
        self.weight = weight
        self.codes = codes
        self.refusalCodes = refusalCodes
        self.ipv6 = ipv6
        self.fetchReason = fetchReason
        self.healthCheck = healthCheck
        self.resolver = resolver
    }

    public var description: String { name }

    // MARK: - Query names

    /// The name to ask for a client address: an IPv4 address (also one mapped into IPv6,
    /// `::ffff:a.b.c.d`) as its four octets reversed
    /// ([RFC 5782 §2.1](https://www.rfc-editor.org/rfc/rfc5782#section-2.1): `192.0.2.99` →
    /// `99.2.0.192.<zone>`), an IPv6 address as its 32 nibbles reversed
    /// ([RFC 5782 §2.4](https://www.rfc-editor.org/rfc/rfc5782#section-2.4)).
    public func queryName(for address: IPAddress) -> String {
        switch SPFEvaluation.unmapped(address) {
        case .v4(let v4): queryName(forIPv4: v4)
        case .v6(let v6): queryName(forIPv6: v6)
        }
    }

    /// `d.c.b.a.<zone>` ([RFC 5782 §2.1](https://www.rfc-editor.org/rfc/rfc5782#section-2.1)).
    public func queryName(forIPv4 address: IPv4Address) -> String {
        address.octets.reversed().map(String.init).joined(separator: ".") + "." + name
    }

    /// 32 nibbles, least significant first, in lower-case hex
    /// ([RFC 5782 §2.4](https://www.rfc-editor.org/rfc/rfc5782#section-2.4)), even for an
    /// IPv4-mapped address (the §5 IPv6 test points are `::FFFF:7F00:2` / `::FFFF:7F00:1`).
    public func queryName(forIPv6 address: IPv6Address) -> String {
        var labels: [String] = []
        labels.reserveCapacity(33)
        for octet in address.octets.reversed() {
            labels.append(String(octet & 0x0F, radix: 16))
            labels.append(String(octet >> 4, radix: 16))
        }
        labels.append(name)
        return labels.joined(separator: ".")
    }

    /// `<domain>.<zone>` for a domain-based list
    /// ([RFC 5782 §2.3](https://www.rfc-editor.org/rfc/rfc5782#section-2.3)); the domain in
    /// A-labels, lower case, without a trailing dot. Throws ``DNSError/invalidName(_:)`` when the
    /// result cannot be asked (a label over 63 octets, a name over 253).
    public func queryName(forDomain domain: String) throws(DNSError) -> String {
        var host = domain
        if host.hasSuffix(".") { host.removeLast() }
        let normalized = try DNSName.normalize(host)
        return try DNSName.normalize(normalized + "." + name)
    }

    /// Whether a listing answer counts, and with what weight and labels.
    func classify(_ answers: [IPv4Address]) -> (refused: [IPv4Address], counted: [IPv4Address], ignored: [IPv4Address], weight: Double, labels: [String]) {
        var refused: [IPv4Address] = []
        var counted: [IPv4Address] = []
        var ignored: [IPv4Address] = []
        var weight: Double? = nil
        var labels: [String] = []
        for answer in answers {
            if refusalCodes.contains(where: { $0.matches(answer) }) {
                refused.append(answer)
            } else if !answer.isLoopback {
                ignored.append(answer)   // RFC 5782 §2.1: listings are in 127.0.0.0/8
            } else if codes.isEmpty {
                counted.append(answer)
                weight = max(weight ?? self.weight, self.weight)
            } else {
                let rules = codes.filter { $0.matches(answer) }
                guard !rules.isEmpty else { ignored.append(answer); continue }
                counted.append(answer)
                for rule in rules {
                    weight = max(weight ?? -Double.infinity, rule.weight ?? self.weight)
                    if let label = rule.label, !labels.contains(label) { labels.append(label) }
                }
            }
        }
        return (refused, counted, ignored, weight ?? 0, labels)
    }
}
