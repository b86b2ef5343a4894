/// A defense mechanism's catalog id: `DM01`–`DM36` from the paper, our additions beyond.
///
/// Every verdict and log line of a defense carries its id (DESIGN.md §3.6).
public struct DefenseID: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }

    /// DM07 Relay access lists: accept mail only for local domains unless the client is trusted.
    public static let relayAccessLists = DefenseID(rawValue: "DM07")

    /// DM19 MTA rules: sender domain resolvable, reverse DNS, HELO checks (RFC 2505).
    public static let mtaRules = DefenseID(rawValue: "DM19")

    /// DM20 DNS block lists (and allow lists), RFC 5782.
    public static let dnsBlockLists = DefenseID(rawValue: "DM20")

    /// DM30 Sender Policy Framework (RFC 7208).
    public static let senderPolicyFramework = DefenseID(rawValue: "DM30")

    /// DM31 DomainKeys: today DKIM (RFC 6376) with DMARC alignment (RFC 7489).
    public static let domainKeys = DefenseID(rawValue: "DM31")
}
