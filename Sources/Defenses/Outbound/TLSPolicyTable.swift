import SMTPCore

/// Per-destination TLS policy for the outbound stage, like Postfix's `smtp_tls_policy_maps`:
/// a recipient domain (exact, or `.example.org` for every subdomain) → the ``Level`` its mail
/// exchangers are reached with. A domain without an entry gets the stage's default
/// (`outbound.tls`, opportunistic, with DANE when `outbound.dane` is on).
///
/// The levels, in Postfix's words (`[outbound.tls_policy]`, docs/outbound.md):
/// - `none`: never STARTTLS;
/// - `may`: STARTTLS when offered, certificate unchecked (RFC 7435);
/// - `encrypt`: STARTTLS required, certificate unchecked — not offered or failed → deferred;
/// - `verify`: STARTTLS required with a certificate issued to the mail exchanger's name by a
///   trusted CA (`node.tls_ca_file`, else the system store) — else deferred;
/// - `dane`: opportunistic DANE (RFC 7672): an exchanger with DNSSEC-validated usable TLSA
///   records must present a certificate they match, the others get `may` (even with
///   `outbound.dane = false`);
/// - `dane-only`: mandatory DANE: an exchanger without usable validated TLSA records is not used.
///
/// `verify` checks the MX host name the DNS gave, which an attacker who can forge DNS answers
/// chooses; MTA-STS and DANE are what bind the name to the domain.
public struct TLSPolicyTable: Sendable, Hashable {
    /// One entry's level.
    public enum Level: String, Sendable, Hashable, CaseIterable {
        case none, may, encrypt, verify, dane
        case daneOnly = "dane-only"

        /// The STARTTLS level of the hops (DANE adds to it per exchanger).
        public var hopTLS: NextHop.HopTLS {
            switch self {
            case .none: .none
            case .may, .dane: .opportunistic
            case .encrypt, .daneOnly: .required
            case .verify: .verify
            }
        }
    }

    /// Domain (lower case, no trailing dot; `.parent` for subdomains) → level.
    public private(set) var entries: [String: Level]

    public init(_ entries: [String: Level] = [:]) {
        self.entries = [:]
        for (domain, level) in entries { self.entries[Self.key(domain)] = level }
    }

    /// The level named `name` in a configuration file (`none`, `may`, `encrypt`, `verify`,
    /// `dane`, `dane-only`).
    public static func level(named name: String) -> Level? { Level(rawValue: name) }

    /// The level for mail to `domain`: its own entry, else the nearest `.parent` entry.
    public func policy(for domain: String) -> Level? {
        var name = Self.key(domain)
        if let level = entries[name] { return level }
        while let dot = name.firstIndex(of: ".") {
            name = String(name[dot...])
            if let level = entries[name] { return level }
            name.removeFirst()
        }
        return nil
    }

    public var isEmpty: Bool { entries.isEmpty }

    static func key(_ domain: String) -> String { MXDestinationResolver.hostName(domain) }
}
