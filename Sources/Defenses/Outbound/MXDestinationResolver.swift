import SMTPCore

/// Finds where mail for a remote domain goes: its mail exchangers from the DNS, each turned
/// into the addresses to connect to, in the order to try them
/// ([RFC 5321 §5.1](https://www.rfc-editor.org/rfc/rfc5321#section-5.1)).
///
/// - MX records in ascending preference; equal preferences in random order ("the sender-SMTP
///   MUST randomize them to spread the load", §5.1), with an injectable ``pickIndex`` for tests.
/// - No MX record but the name exists (NODATA): the domain itself is the only exchanger, the
///   implicit MX (§5.1), used when it has A or AAAA records.
/// - A null MX, `MX 0 .` ([RFC 7505 §3](https://www.rfc-editor.org/rfc/rfc7505#section-3)):
///   ``Destination/nullMX``, the recipients fail at once (§4.2: 556 5.1.10).
/// - NXDOMAIN, or exchangers none of which has an address: ``Destination/noMailHost(_:)``.
/// - SERVFAIL, a timeout, a network error: ``Destination/temporaryFailure(_:)``, so the spool
///   retries and never bounces because the DNS was down. Exchangers whose address look-up
///   failed temporarily are skipped while another one has an address; when none has one and
///   some failed temporarily, the whole answer is temporary.
///
/// - DANE (``dane``, RFC 7672): an exchanger with DNSSEC-validated TLSA records is reached only
///   over TLS its records authenticate.
/// - MTA-STS (``mtaSTS``): an `enforce` policy keeps only the exchangers it names (or DANE
///   authenticates) and makes their TLS verified; a ``tlsPolicy`` entry for the domain takes
///   precedence over both.
/// - An exchanger that is this host (``ownHost``: one of our addresses where we take mail on
///   ``port``, or our host name) ends the list: it and every exchanger of the same or a worse
///   preference are dropped, as Postfix does; when nothing better is left, the mail would loop
///   back to us: ``Destination/loopsBack(_:)`` ("loops back to myself", 554 5.4.6).
///
/// Exchanger names are resolved through the same ``DNSResolver`` (not the system's), so the
/// connection goes to the address the DNS named. Each address becomes one ``NextHop`` named
/// after its exchanger (connections are pooled per hop).
public struct MXDestinationResolver: DestinationResolver {
    /// Which address families to connect to, and which first for one exchanger.
    public enum AddressOrder: String, Sendable, Hashable, CaseIterable {
        /// A records before AAAA records.
        case ipv4First = "ipv4-first"
        /// AAAA records before A records.
        case ipv6First = "ipv6-first"
        /// A records only.
        case ipv4Only = "ipv4-only"
        /// AAAA records only.
        case ipv6Only = "ipv6-only"
    }

    public let dns: any DNSResolver
    /// The port mail exchangers listen on: 25 on the Internet (RFC 5321 §4.5.4.2 names no
    /// other); tests use a high loopback port.
    public var port: Int
    /// STARTTLS towards mail exchangers: opportunistic by default (RFC 3207, RFC 7435).
    public var tls: NextHop.HopTLS
    public var addressOrder: AddressOrder
    /// At most this many addresses are returned (Postfix `smtp_mx_address_limit` is 5).
    public var maxAddresses: Int
    /// Returns a random integer in `0..<bound` (`bound` ≥ 1); replaced in tests for a fixed order.
    public var pickIndex: @Sendable (Int) -> Int
    /// Where this machine itself takes mail on ``port``; empty: no check.
    public var ownHost = OwnHost()
    /// Per-domain TLS levels; a domain without an entry gets ``tls`` (or its MTA-STS policy).
    public var tlsPolicy = TLSPolicyTable()
    /// MTA-STS ([RFC 8461](https://www.rfc-editor.org/rfc/rfc8461)) for domains without a
    /// ``tlsPolicy`` entry: under an `enforce` policy only the MX hosts it names are used, each
    /// with verified TLS (``NextHop/HopTLS/verify``); none left → a temporary failure (§5: never
    /// a bounce). `testing` and `none` policies change nothing. nil: MTA-STS off.
    public var mtaSTS: MTASTSPolicyCache?
    /// DANE ([RFC 7672](https://www.rfc-editor.org/rfc/rfc7672)) for domains without a
    /// ``tlsPolicy`` entry: an exchanger whose MX record, addresses and TLSA records are all
    /// DNSSEC-validated (the resolver's trusted AD bit) must present a certificate a usable TLSA
    /// record matches (``DANEAuthentication``); a failed TLSA look-up skips the exchanger.
    /// Without a validating resolver nothing is validated and DANE never applies.
    public var dane = true
    /// "Never downgrade": a domain whose exchangers once did STARTTLS gets `required` instead of
    /// `opportunistic` (a stripped STARTTLS then defers). nil: off.
    public var tlsHistory: TLSHistory?

    /// This machine as a mail exchanger: the addresses (text form, as the DNS gives them) where
    /// a listener of ours takes mail on the exchangers' port, and our host names.
    public struct OwnHost: Sendable, Hashable {
        public var addresses: Set<String>
        public var names: Set<String>

        public init(addresses: Set<String> = [], names: Set<String> = []) {
            self.addresses = Set(addresses.compactMap { IPAddress($0)?.description })
            self.names = Set(names.map(MXDestinationResolver.hostName))
        }

        func isOwn(_ exchanger: String, addresses found: [String]) -> Bool {
            names.contains(exchanger) || found.contains { addresses.contains(IPAddress($0)?.description ?? $0) }
        }
    }

    public init(dns: any DNSResolver, port: Int = 25, tls: NextHop.HopTLS = .opportunistic,
                addressOrder: AddressOrder = .ipv4First, maxAddresses: Int = 10,
                pickIndex: @escaping @Sendable (Int) -> Int = { Int.random(in: 0..<$0) }) {
        self.dns = dns
        self.port = port
        self.tls = tls
        self.addressOrder = addressOrder
        self.maxAddresses = maxAddresses
        self.pickIndex = pickIndex
    }

    public func destination(for domain: String) async -> Destination {
        var exchangers: [String]
        var preferences: [String: Int] = [:]
        // Whether the MX RRset (or, for the implicit MX, its absence) is DNSSEC-validated: DANE
        // applies only then (RFC 7672 §2.2.1, as Postfix does).
        var mxSecure = false
        do {
            let answer = try await dns.lookupMX(domain)
            if answer.isNullMX { return .nullMX }
            // RFC 7505 §3: a null MX must be the only MX; a stray "." among others is unusable.
            let records = answer.records.filter { !$0.isNullMX }
            exchangers = ordered(records)
            for record in records {
                let name = Self.hostName(record.exchange)
                preferences[name] = min(preferences[name] ?? Int.max, Int(record.preference))
            }
            mxSecure = answer.authenticated
        } catch .noData(let negative) {
            exchangers = [domain]   // RFC 5321 §5.1: the implicit MX
            mxSecure = negative.authenticated
        } catch .nxdomain {
            return .noMailHost("\(domain) does not exist")
        } catch .invalidName(let reason) {
            return .noMailHost("invalid domain: \(reason)")
        } catch {
            return .temporaryFailure("MX look-up for \(domain): \(error)")
        }
        guard !exchangers.isEmpty else { return .noMailHost("no usable MX for \(domain)") }

        let explicit = tlsPolicy.policy(for: domain)
        var tls = explicit?.hopTLS ?? self.tls
        let daneMode: DANEMode = switch explicit {
        case nil: dane ? .opportunistic : .off
        case .dane: .opportunistic
        case .daneOnly: .mandatory
        default: .off
        }
        // MTA-STS for a domain without an entry; an exchanger authenticated by DANE needs none
        // (RFC 8461 §2: DANE is preferred where both exist).
        // Any policy also authenticates the exchangers it names, for REQUIRETLS (RFC 8689 §4.2.1).
        var sts: MTASTSPolicy?
        var namedBySTS: MTASTSPolicy?
        if let mtaSTS, let policy = await mtaSTS.lookup(domain).policy, policy.mode != .none {
            namedBySTS = policy
            if explicit == nil, policy.mode == .enforce { sts = policy }
        }
        if tls == .opportunistic, let tlsHistory, await tlsHistory.sawTLS(domain) { tls = .required }
        var hops: [NextHop] = []
        var hopPreferences: [Int] = []
        var temporary: [String] = []
        /// The exchangers skipped by DANE (dane-only without records, a failed TLSA look-up).
        var refusedByDANE = 0
        var refusedBySTS: [String] = []
        var loopsAt: (exchanger: String, preference: Int)?
        for exchanger in exchangers where hops.count < maxAddresses {
            let preference = preferences[exchanger] ?? 0
            if let loopsAt, preference >= loopsAt.preference { break }
            let found = await addresses(of: exchanger)
            if ownHost.isOwn(exchanger, addresses: found.addresses) {
                // RFC 5321 §5.1: "if it [the SMTP client] is one of the MX hosts ... MUST discard
                // all MX RRs with preference ≥ its own".
                loopsAt = (exchanger, preference)
                let keep = hopPreferences.map { $0 < preference }
                hops = zip(hops, keep).filter(\.1).map(\.0)
                hopPreferences = hopPreferences.filter { $0 < preference }
                continue
            }
            if let failure = found.failure { temporary.append("\(exchanger): address look-up: \(failure)") }
            guard !found.addresses.isEmpty else { continue }
            var hopTLS = tls
            var authentication: DANEAuthentication?
            if daneMode != .off {
                switch await tlsa(exchanger: exchanger, canonical: found.canonicalName, domain: domain,
                                  secure: mxSecure && found.secure) {
                case .authenticated(let records):
                    authentication = records
                    hopTLS = .required
                case .unusable:
                    // RFC 7672 §2.2: TLSA records exist but none is usable: TLS is still mandatory.
                    if hopTLS != .verify { hopTLS = .required }
                case .absent:
                    if daneMode == .mandatory {
                        temporary.append("\(exchanger): no DNSSEC-validated TLSA records at _\(port)._tcp.\(exchanger) (dane-only)")
                        refusedByDANE += 1
                        continue
                    }
                case .failed(let reason):
                    // §2.2.3: a TLSA look-up that fails is no reason to deliver without it.
                    temporary.append("\(exchanger): \(reason)")
                    refusedByDANE += 1
                    continue
                }
            }
            if let sts, authentication == nil {
                guard sts.allows(exchanger) else {
                    refusedBySTS.append(exchanger)
                    continue
                }
                hopTLS = .verify
            }
            for address in found.addresses where hops.count < maxAddresses
                && !hops.contains(where: { $0.host == address && $0.name == exchanger }) {
                var hop = NextHop(name: exchanger, host: address, port: port, sessionProtocol: .smtp, tls: hopTLS,
                                  tlsServerName: exchanger, dane: authentication)
                hop.mxAuthenticated = mxSecure || namedBySTS?.allows(exchanger) == true
                hops.append(hop)
                hopPreferences.append(preference)
            }
        }
        if !hops.isEmpty { return .hosts(hops) }
        if let loopsAt {
            return .loopsBack("mail for \(domain) loops back to myself: its best mail exchanger \(loopsAt.exchanger) is this host")
        }
        if let sts, !refusedBySTS.isEmpty, temporary.isEmpty {
            return .securityDeferral("MTA-STS policy of \(domain) (enforce) allows none of its mail exchangers "
                + "\(refusedBySTS.joined(separator: ", ")) (policy mx: \(sts.mx.joined(separator: ", ")))")
        }
        if !temporary.isEmpty {
            let reason = "no usable mail exchanger for \(domain): " + temporary.joined(separator: "; ")
            // Only DANE kept them out: a security matter, not a DNS outage.
            return refusedByDANE == temporary.count ? .securityDeferral(reason) : .temporaryFailure(reason)
        }
        return .noMailHost("no address for the mail exchangers of \(domain)")
    }

    /// Whether and how DANE applies to a domain's exchangers.
    enum DANEMode { case off, opportunistic, mandatory }

    /// What the TLSA records of one exchanger say.
    enum TLSAOutcome {
        /// Validated usable records: the certificate must match them.
        case authenticated(DANEAuthentication)
        /// Validated records, none usable (PKIX usages, unknown types): TLS without authentication.
        case unusable
        /// No validated records (none published, or the zone is not signed): DANE does not apply.
        case absent
        /// The look-up failed (SERVFAIL: also what a validating resolver says of forged data).
        case failed(String)
    }

    /// The TLSA records of `exchanger` ([RFC 7672 §2.2.2](https://www.rfc-editor.org/rfc/rfc7672#section-2.2.2)):
    /// only when its name and addresses were validated (`secure`); at the CNAME target first,
    /// then at the name itself; records without the AD bit are ignored (§2.2).
    func tlsa(exchanger: String, canonical: String, domain: String, secure: Bool) async -> TLSAOutcome {
        guard secure else { return .absent }
        let bases = canonical != exchanger ? [canonical, exchanger] : [exchanger]
        for base in bases {
            do {
                let answer = try await dns.lookupTLSA(port: UInt16(clamping: port), host: base)
                guard answer.authenticated else { return .absent }
                let usable = answer.records
                    .map { TLSAAssociation(usage: $0.usage, selector: $0.selector, matchingType: $0.matchingType, data: $0.data) }
                    .filter(\.isUsable)
                guard !usable.isEmpty else { return .unusable }
                var names: [String] = []
                for name in [base, exchanger, domain] where !names.contains(name) { names.append(name) }
                return .authenticated(DANEAuthentication(records: usable, baseDomain: base, referenceNames: names, port: port))
            } catch where error.isNotFound {
                continue
            } catch {
                return .failed("TLSA look-up for _\(port)._tcp.\(base): \(error)")
            }
        }
        return .absent
    }

    /// Exchanger names in the order to try: by preference (the look-up sorted them), each run of
    /// equal preferences shuffled (Fisher–Yates with ``pickIndex``).
    func ordered(_ records: [MXRecord]) -> [String] {
        var result: [String] = []
        var index = records.startIndex
        while index < records.endIndex {
            let preference = records[index].preference
            var group: [String] = []
            while index < records.endIndex, records[index].preference == preference {
                group.append(Self.hostName(records[index].exchange))
                index += 1
            }
            var position = group.count
            while position > 1 {
                let other = min(position - 1, max(0, pickIndex(position)))
                group.swapAt(position - 1, other)
                position -= 1
            }
            result.append(contentsOf: group.filter { !result.contains($0) })
        }
        return result
    }

    /// The addresses of one exchanger, and what the DNS said about them.
    struct ExchangerAddresses {
        /// In ``addressOrder``.
        var addresses: [String]
        /// Every answer with addresses carried the (trusted) AD bit.
        var secure: Bool
        /// Where the addresses were found after CNAMEs (the TLSA base domain, RFC 7672 §2.2.2).
        var canonicalName: String
        /// A temporary failure of one of the look-ups (NXDOMAIN and NODATA just give no address).
        var failure: DNSError?
    }

    /// The exchanger's addresses in ``addressOrder``.
    func addresses(of exchanger: String) async -> ExchangerAddresses {
        var v4: [String] = []
        var v6: [String] = []
        var failure: DNSError?
        var secure = true
        var canonical = exchanger
        if addressOrder != .ipv6Only {
            do {
                let answer = try await dns.lookupA(exchanger)
                v4 = answer.records.map(\.description)
                secure = secure && answer.authenticated
                canonical = Self.hostName(answer.canonicalName)
            } catch {
                if error.isTemporary { failure = error }
            }
        }
        if addressOrder != .ipv4Only {
            do {
                let answer = try await dns.lookupAAAA(exchanger)
                v6 = answer.records.map(\.description)
                secure = secure && answer.authenticated
                if v4.isEmpty { canonical = Self.hostName(answer.canonicalName) }
            } catch {
                if error.isTemporary { failure = failure ?? error }
            }
        }
        return ExchangerAddresses(addresses: addressOrder == .ipv6First ? v6 + v4 : v4 + v6,
                                  secure: secure && !(v4.isEmpty && v6.isEmpty), canonicalName: canonical, failure: failure)
    }

    /// `mx.example.` → `mx.example`, lower case: how MX hosts, MTA-STS patterns and policy-table
    /// domains are compared.
    public static func hostName(_ name: String) -> String {
        var host = name.lowercased()
        if host.hasSuffix(".") { host.removeLast() }
        return host
    }
}
