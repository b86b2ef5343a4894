import Defenses
import SMTPCore

/// The `antivirus` role (paper stage C): scans every message from the stages in front of it
/// (DM28: clamd plus the attachment policy) and forwards what passes by `[hops]`/`[routes]`.
/// An internal stage: it accepts any recipient domain, but only from ``acceptFrom``. Every value
/// has a default (`[antivirus]` may be empty); docs/configuration.md lists the keys.
public struct AntivirusRoleConfiguration: Sendable {
    /// `antivirus.listen`, default `127.0.0.1:10025`.
    public var listen: [ListenAddress] = [ListenAddress(host: "127.0.0.1", port: 10025)]
    /// `antivirus.protocol`: the listener speaks SMTP (default) or LMTP (RFC 2033).
    public var sessionProtocol: SessionProtocol = .smtp
    /// `antivirus.accept_from`: the only clients served (default loopback); others get `554 5.7.1`.
    public var acceptFrom: [IPNetwork] = [IPNetwork("127.0.0.0/8")!, IPNetwork("::1")!]
    /// `antivirus.trusted_upstreams`: stages whose `Mailnode-Id` is kept (hand-off dedup, MN06).
    /// Default: none.
    public var trustedUpstreams: [IPNetwork] = []
    /// `antivirus.clamd`: instances in failover order, `host:port` or `unix:/path`. Default
    /// Debian's `unix:/run/clamav/clamd.ctl`.
    public var clamd: [ClamdEndpoint] = [.unixSocket(path: "/run/clamav/clamd.ctl")]
    /// `antivirus.scan_timeout`: one clamd exchange, seconds (default 60).
    public var scanTimeout: Duration = .seconds(60)
    /// `antivirus.failure_policy`: `tempfail` (default) or `pass-with-header`.
    public var failurePolicy: ScanFailurePolicy = .tempfail
    /// `antivirus.action`: `reject` (default) or `quarantine`.
    public var action: AntivirusAction = .reject
    /// `antivirus.blocked_attachments`: `refuse` (default: as `action` says) or `strip`.
    public var stripBlockedAttachments = false
    /// `antivirus.block_extensions` (replaces the default list) plus `antivirus.extra_extensions`.
    public var attachments: AttachmentPolicy = .default
    /// `antivirus.max_message_size` (default 25 MiB; also the INSTREAM length sent to clamd).
    public var maxMessageSize: Int = 25 * 1024 * 1024
    /// `antivirus.max_depth`, `antivirus.max_parts`, `antivirus.max_decoded`.
    public var mimeLimits = MIMELimits()
    /// `antivirus.quarantine_retention`: held messages older than this are purged (default 30 days).
    public var quarantineRetention: Duration = .seconds(30 * 86_400)

    public init() {}

    /// What ``AntivirusReceiver`` runs with (scanner, policy, limits); the node adds the
    /// quarantine store and its metrics.
    public var stageConfiguration: AntivirusConfiguration {
        let clamd = ClamdConfiguration(endpoints: clamd, scanTimeout: scanTimeout, maxStreamLength: maxMessageSize)
        var configuration = AntivirusConfiguration(scanner: ClamdClient(configuration: clamd), attachments: attachments,
                                                   mimeLimits: mimeLimits, failurePolicy: failurePolicy,
                                                   maxMessageSize: maxMessageSize)
        configuration.action = action
        configuration.stripBlockedAttachments = stripBlockedAttachments
        return configuration
    }
}
