import Defenses
import SMTPCore

/// `host:port`, IPv6 as `[::1]:25`.
public struct ListenAddress: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    public init?(_ text: String) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
              (0...65535).contains(port) else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty, !host.contains(" ") else { return nil }
        self.host = host
        self.port = port
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// The `mx` role (paper stage A): the only entry point for Internet mail.
public struct MXRoleConfiguration: Sendable {
    public var listen: [ListenAddress]
    /// Domains accepted for delivery; everything else is refused at RCPT (DM07).
    public var localDomains: Set<String>
    public var limits: SMTPLimits
    public var bareLineEndings: BareLineEndingPolicy
    /// Networks allowed to send a PROXY protocol header (empty: PROXY protocol off).
    public var proxyProtocolTrusted: [IPNetwork]
    /// Networks of upstream mailnode stages: their `Mailnode-Id` is kept and retried hand-offs
    /// are deduplicated. Everyone else's `Mailnode-Id` is replaced (empty: an `mx` facing the
    /// Internet trusts no one).
    public var trustedUpstreams: [IPNetwork]
    /// DM10: simultaneous sessions per client address (`mx.max_connections_per_client`, default
    /// 10; nil when set to 0). ``trustedUpstreams`` are not counted.
    public var connectionLimit: ClientConnectionLimit.Configuration? = ClientConnectionLimit.Configuration()
    /// DM11: connections/messages/recipients per client and window (`[mx.rate]`; off by default).
    public var rateLimit: ClientRateLimit.Configuration?
    /// DM36: tarpit and disconnect after refused recipients (`[mx.bad_rcpt]`; off by default).
    /// Counted per client address in the state store.
    public var badRecipientThrottle: BadRecipientThrottle.Configuration?
    /// DM32: greet pause (`[mx.greet_pause]`; off by default).
    public var greetPause: GreetPause.Configuration?
    /// DM22: greylisting (`[mx.greylist]`; off by default).
    public var greylisting: Greylisting.Configuration?
    /// DM18: local block lists (`[mx.blocklist]`; off by default).
    public var blocklist: LocalBlocklist.Configuration?
    /// DM21: allow lists that skip the spam checks (`[mx.allowlist]`; off by default).
    public var allowlist: AllowList.Configuration?
    /// DM23: regular expressions on HELO, sender and recipients (`[mx.rules]`; off by default).
    public var envelopeRules: EnvelopeRules.Configuration?
    /// DM23 on the message: header and body patterns at the end of DATA (`mx.rules.reject_header`,
    /// `reject_body`, `body_scan_limit`); nil without any header or body pattern.
    public var contentRules: ContentRules.Configuration?
    /// DM26: hashcash postage checked at the end of DATA (`[mx.hashcash]`; off by default).
    public var hashcash: HashcashPostage.Configuration?
    /// DM19: unknown local recipients refused at RCPT (`[mx.recipients]`; off by default).
    public var recipientDirectory: RecipientDirectorySettings?
    /// `mx.recipients.enabled = false`: DM19's recipient check stays off even when the same
    /// process runs the store (``NodeConfiguration/stages()`` turns it on otherwise).
    public var recipientDirectoryOff = false
    /// DM27: spam-trap addresses whose senders are blocked (`[mx.spam_traps]`; off by default).
    public var spamTraps: SpamTrap.Configuration?
    /// DM34: messages/recipients per sender and window (`[mx.sender_rate]`; off by default).
    public var senderVolume: SenderVolumeLimit.Configuration?
    /// DM19 sender checks and DM20 DNS lists (`[mx.sender_checks]`, `[mx.dnsbl]`; off by default).
    public var dnsDefenses = DNSDefenseSettings()
    /// DM22's SPF exemption checks SPF itself over the node's resolver (`[dns]`) when no SPF hook kept a
    /// result (`mx.greylist.spf_exempt`, default on).
    public var greylistingChecksSPF: Bool = true

    public init(listen: [ListenAddress] = [ListenAddress(host: "127.0.0.1", port: 2525)], localDomains: Set<String>,
                limits: SMTPLimits = .init(), bareLineEndings: BareLineEndingPolicy = .reject,
                proxyProtocolTrusted: [IPNetwork] = [], trustedUpstreams: [IPNetwork] = []) {
        self.listen = listen
        self.localDomains = localDomains
        self.limits = limits
        self.bareLineEndings = bareLineEndings
        self.proxyProtocolTrusted = proxyProtocolTrusted
        self.trustedUpstreams = trustedUpstreams
    }
}

/// Everything one node runs, as plain values. Built from flags (`mailnode up`) or from a
/// configuration file (``NodeConfiguration/init(toml:file:)``); docs/configuration.md lists
/// every key with its default.
public struct NodeConfiguration: Sendable {
    /// Our host name: greeting, EHLO reply, Received headers, bounces.
    public var hostname: String
    public var spoolDirectory: String
    /// PEM certificate chain and key; when both are set, listeners offer STARTTLS.
    public var tlsCertificatePath: String?
    public var tlsKeyPath: String?
    /// `tls.ca_file`: the certificate authorities (PEM) that `verify` hops and TLS-policy
    /// destinations are checked against; nil: the system's store.
    public var tlsCAFilePath: String?
    /// `hops.NAME.auth_file`: AUTH credentials per hop name (never logged: redacted description).
    public var hopCredentials: [String: SMTPClientCredentials] = [:]
    public var mx: MXRoleConfiguration?
    /// The submission role (`[submission]`); a node runs it when it runs no mx (`--role submission`).
    public var submission: SubmissionRoleConfiguration?
    /// The `antivirus` role (`[antivirus]`); nil when the file has no such table.
    public var antivirus: AntivirusRoleConfiguration?
    /// The `store` role (`[store]`); nil when the file has no such table.
    public var store: StoreRoleConfiguration?
    /// The `outbound` role (`[outbound]`); nil when the file has no such table.
    public var outbound: OutboundRoleConfiguration?
    /// Where spooled mail goes next; a table without any hop keeps mail in the spool.
    public var routing: RoutingTable
    public var retry: RetryPolicy
    /// How long and how many (Mailnode-Id, recipient) pairs the node remembers to answer a
    /// retried hand-off without storing it twice (`[dedup]`).
    public var dedup: DeliveredSetConfiguration
    /// The state store (`[state]`); used only when a stateful mechanism is enabled.
    public var state: StateConfiguration
    /// Where Prometheus reads the node's counters (`[metrics] listen`; nil: not served).
    public var metricsListen: ListenAddress?
    /// The DNS servers the defenses ask (`[dns]`); nil: those of /etc/resolv.conf.
    public var dns: DNSResolverConfiguration?
    /// DM12/DM13: connections the node holds at once over all its listeners
    /// (`node.max_connections`, default 1000) and per event loop thread
    /// (`node.max_connections_per_loop`, default 0: off).
    public var connectionCaps: ConnectionCaps = .init()

    public init(hostname: String, spoolDirectory: String, tlsCertificatePath: String? = nil, tlsKeyPath: String? = nil,
                mx: MXRoleConfiguration? = nil, routing: RoutingTable = .init(), retry: RetryPolicy = .init(),
                dedup: DeliveredSetConfiguration = .init()) {
        self.hostname = hostname
        self.spoolDirectory = spoolDirectory
        self.tlsCertificatePath = tlsCertificatePath
        self.tlsKeyPath = tlsKeyPath
        self.mx = mx
        self.routing = routing
        self.retry = retry
        self.dedup = dedup
        self.state = StateConfiguration(backend: .sqlite(path: StateConfiguration.defaultPath(spool: spoolDirectory)))
    }

    /// The configuration as a node running only `role` uses it: the other roles' tables are
    /// dropped (one process runs one role; the same file may describe several).
    public func running(role: String) -> NodeConfiguration {
        var copy = self
        if role != "mx" { copy.mx = nil }
        if role != "submission" { copy.submission = nil }
        if role != "antivirus" { copy.antivirus = nil }
        if role != "store" { copy.store = nil }
        if role != "outbound" { copy.outbound = nil }
        if role == "outbound", let outbound {
            // A file written for several machines routes the other stages' outgoing mail to
            // this stage (`"*" = "outbound"`); for the stage itself that route is a loop.
            copy.routing = copy.routing.removingHops(to: outbound.listen)
            // The file's mx is this host as a mail exchanger (the MX loop check).
            copy.outbound?.ownListeners = mx?.listen ?? []
        }
        return copy
    }

    /// True when an enabled mechanism keeps state in the store.
    public var needsStateStore: Bool {
        if mx == nil, submission != nil { return true }   // AUTH lockout and per-user limits
        if state.usersInStore, store != nil || mx?.recipientDirectory?.usersPath != nil { return true }   // the users live there
        if mx == nil, store?.servesPOP3 == true || store?.servesIMAP == true { return true }   // POP3 and IMAP login lockout
        guard let mx else { return false }
        return mx.greylisting != nil || mx.rateLimit != nil || mx.badRecipientThrottle != nil || mx.greetPause != nil
            || mx.spamTraps != nil || mx.senderVolume != nil || mx.blocklist?.checkDynamic == true || mx.hashcash != nil
    }

    /// True when some recipient could be routed somewhere: a route, or (the outbound role) the
    /// recipients' own mail exchangers.
    public var hasNextHop: Bool { routing.defaultHop != nil || !routing.routes.isEmpty || outbound != nil }
}
