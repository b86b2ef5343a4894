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
        let exchangers: [String]
        do {
            let answer = try await dns.lookupMX(domain)
            if answer.isNullMX { return .nullMX }
            // RFC 7505 §3: a null MX must be the only MX; a stray "." among others is unusable.
            exchangers = ordered(answer.records.filter { !$0.isNullMX })
        } catch .noData {
            exchangers = [domain]   // RFC 5321 §5.1: the implicit MX
        } catch .nxdomain {
            return .noMailHost("\(domain) does not exist")
        } catch .invalidName(let reason) {
            return .noMailHost("invalid domain: \(reason)")
        } catch {
            return .temporaryFailure("MX look-up for \(domain): \(error)")
        }
        guard !exchangers.isEmpty else { return .noMailHost("no usable MX for \(domain)") }

        var hops: [NextHop] = []
        var temporary: [String] = []
        for exchanger in exchangers where hops.count < maxAddresses {
            let (addresses, failure) = await addresses(of: exchanger)
            if let failure { temporary.append("\(exchanger): \(failure)") }
            for address in addresses where hops.count < maxAddresses
                && !hops.contains(where: { $0.host == address && $0.name == exchanger }) {
                hops.append(NextHop(name: exchanger, host: address, port: port, sessionProtocol: .smtp, tls: tls))
            }
        }
        if !hops.isEmpty { return .hosts(hops) }
        if !temporary.isEmpty { return .temporaryFailure("address look-up: " + temporary.joined(separator: "; ")) }
        return .noMailHost("no address for the mail exchangers of \(domain)")
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

    /// The exchanger's addresses in ``addressOrder``, and the temporary failure if a look-up had
    /// one (NXDOMAIN and NODATA just give no address).
    func addresses(of exchanger: String) async -> ([String], DNSError?) {
        var v4: [String] = []
        var v6: [String] = []
        var failure: DNSError?
        if addressOrder != .ipv6Only {
            do {
                v4 = try await dns.lookupA(exchanger).records.map(\.description)
            } catch {
                if error.isTemporary { failure = error }
            }
        }
        if addressOrder != .ipv4Only {
            do {
                v6 = try await dns.lookupAAAA(exchanger).records.map(\.description)
            } catch {
                if error.isTemporary { failure = failure ?? error }
            }
        }
        return (addressOrder == .ipv6First ? v6 + v4 : v4 + v6, failure)
    }

    /// `mx.example.` → `mx.example`, lower case.
    static func hostName(_ name: String) -> String {
        var host = name.lowercased()
        if host.hasSuffix(".") { host.removeLast() }
        return host
    }
}
