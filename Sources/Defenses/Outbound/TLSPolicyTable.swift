import SMTPCore

/// Per-destination TLS policy for the outbound stage, like Postfix's `smtp_tls_policy_maps`:
/// a recipient domain (exact, or `.example.org` for every subdomain) → the ``NextHop/HopTLS``
/// its mail exchangers are reached with. A domain without an entry gets the stage's default
/// (`outbound.tls`, opportunistic).
///
/// The levels, in Postfix's words (`[outbound.tls_policy]`, docs/outbound.md):
/// - `none`: never STARTTLS;
/// - `may`: STARTTLS when offered, certificate unchecked (RFC 7435);
/// - `encrypt`: STARTTLS required, certificate unchecked — not offered or failed → deferred;
/// - `verify`: STARTTLS required with a certificate issued to the mail exchanger's name by a
///   trusted CA (`node.tls_ca_file`, else the system store) — else deferred.
///
/// `verify` checks the MX host name the DNS gave, which an attacker who can forge DNS answers
/// chooses; MTA-STS and DANE (not yet) are what bind the name to the domain.
public struct TLSPolicyTable: Sendable, Hashable {
    /// Domain (lower case, no trailing dot; `.parent` for subdomains) → level.
    public private(set) var entries: [String: NextHop.HopTLS]

    public init(_ entries: [String: NextHop.HopTLS] = [:]) {
        self.entries = [:]
        for (domain, level) in entries { self.entries[Self.key(domain)] = level }
    }

    /// The Postfix name of a level (`may` for opportunistic, `encrypt` for required).
    public static func level(named name: String) -> NextHop.HopTLS? {
        switch name {
        case "none": NextHop.HopTLS.none
        case "may": .opportunistic
        case "encrypt": .required
        case "verify": .verify
        default: nil
        }
    }

    /// The level for mail to `domain`: its own entry, else the nearest `.parent` entry.
    public func policy(for domain: String) -> NextHop.HopTLS? {
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
