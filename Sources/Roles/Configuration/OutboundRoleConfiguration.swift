import Defenses
import SMTPCore

/// The `outbound` role (paper stage F): the only stage that opens connections to other domains'
/// mail exchangers. It takes mail from the stages in front (``acceptFrom`` only — it relays to
/// any domain, so it must never be reachable from anywhere else), spools it durably, and
/// delivers every recipient whose domain has no `[routes]` entry to that domain's MX hosts
/// (``MXDestinationResolver``: preference order, implicit MX, null MX, RFC 5321 §5.1,
/// RFC 7505). Every value has a default (`[outbound]` may be empty); docs/configuration.md
/// lists the keys, docs/outbound.md what the stage does and does not do yet.
public struct OutboundRoleConfiguration: Sendable {
    /// `outbound.listen`: where the previous stage hands mail over (default `127.0.0.1:10027`).
    public var listen: [ListenAddress] = [ListenAddress(host: "127.0.0.1", port: 10027)]
    /// `outbound.protocol`: the listener speaks SMTP (default) or LMTP (RFC 2033).
    public var sessionProtocol: SessionProtocol = .smtp
    /// `outbound.accept_from`: the only clients served (default loopback); others get `554 5.7.1`.
    public var acceptFrom: [IPNetwork] = [IPNetwork("127.0.0.0/8")!, IPNetwork("::1")!]
    /// `outbound.trusted_upstreams`: stages whose `Mailnode-Id` is kept (hand-off dedup, MN06).
    public var trustedUpstreams: [IPNetwork] = []
    /// `outbound.port`: the port of the remote mail exchangers (25; tests use a high port).
    public var remotePort: Int = 25
    /// `outbound.hostname`: our name in EHLO towards remote servers and in bounces; nil: `node.hostname`.
    public var hostname: String?
    /// `outbound.tls`: STARTTLS towards remote servers, `opportunistic` by default (RFC 3207,
    /// RFC 7435); `required` defers mail to servers without it; `none` never uses it.
    public var tls: NextHop.HopTLS = .opportunistic
    /// `[outbound.tls_policy]`: per-domain levels (none, may, encrypt, verify, dane, dane-only)
    /// overriding ``tls``, ``dane`` and MTA-STS.
    public var tlsPolicy = TLSPolicyTable()
    /// `outbound.mta_sts`: honour the recipients' MTA-STS policies (RFC 8461; on by default).
    public var mtaSTS = true
    /// `outbound.dane`: authenticate mail exchangers by their DNSSEC-validated TLSA records
    /// (RFC 7672; on by default). Takes effect only with a validating resolver whose AD bit is
    /// trusted (a `[dns]` server on loopback, or resolv.conf's `options trust-ad`); with any other resolver no answer is
    /// validated and nothing changes.
    public var dane = true
    /// `outbound.tls_required_header`: honour `TLS-Required: No` in a message (RFC 8689 §5):
    /// it goes with opportunistic STARTTLS where DANE, MTA-STS or a `tls_policy` level would hold
    /// it back (on by default, as Postfix's `tls_required_enable`).
    public var tlsRequiredHeader = true
    /// `outbound.max_connections_per_host`: deliveries at once to one mail exchanger address
    /// (default 10; Postfix's per-destination limit is 20 of its 100 smtp processes).
    public var maxConnectionsPerHost = 10
    /// `outbound.tls_no_downgrade`: once a domain's exchangers did STARTTLS, require it for that
    /// domain from then on (chasquid's rule; off by default).
    public var tlsNoDowngrade = false
    /// `outbound.tls_reports`: where TLS-RPT records go (RFC 8460); nil: `<spool>/tls-rpt`, `""`: none.
    public var tlsReports: String?

    /// The directory of the TLS-RPT records for a stage spooling in `spool`; nil when off.
    public func tlsReportsPath(spool: String) -> String? {
        guard let tlsReports else { return spool + "/tls-rpt" }
        return tlsReports.isEmpty ? nil : tlsReports
    }
    /// `outbound.address_order`: which address families of an exchanger are tried, which first.
    public var addressOrder: MXDestinationResolver.AddressOrder = .ipv4First
    /// `outbound.max_message_size` (default 50 MiB, advertised as SIZE to the previous stage).
    public var maxMessageSize: Int = 52_428_800
    /// `outbound.dkim.keys`: the signing keys, `DIR/<domain>/<selector>.pem` (``DKIMSigningTable``);
    /// nil: messages leave unsigned (DM31 off).
    public var dkimKeys: String?
    /// Where this machine's own mx takes Internet mail (not a key: the file's `mx.listen`, filled
    /// in by ``NodeConfiguration/running(role:)``). A mail exchanger on one of these addresses
    /// and ``remotePort`` is this host: mail for its domain would loop back (RFC 5321 §5.1).
    public var ownListeners: [ListenAddress] = []

    public init() {}
}
