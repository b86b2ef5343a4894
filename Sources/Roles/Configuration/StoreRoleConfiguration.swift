import Defenses
import MailStore
import SMTPCore

/// The `store` role (paper stage G): mailboxes, quotas (DM35), and POP3 and IMAP over TLS only (DM15).
/// Mail comes in over LMTP (or SMTP) from the stages in front (``acceptFrom``); users read it over
/// POP3 with STLS (110 style) or implicit TLS (995), and over IMAP with STARTTLS (143 style) or
/// implicit TLS (993). Every value has a default (`[store]` may be empty, but POP3 and IMAP
/// listeners need `[tls]`); docs/configuration.md lists the keys.
public struct StoreRoleConfiguration: Sendable {
    /// `store.listen`: the intake listeners (default `127.0.0.1:10024`).
    public var listen: [ListenAddress] = [ListenAddress(host: "127.0.0.1", port: 10024)]
    /// `store.protocol`: `lmtp` (default, RFC 2033: one reply per recipient) or `smtp`.
    public var sessionProtocol: SessionProtocol = .lmtp
    /// `store.accept_from`: the only intake clients served (default loopback); others get `554 5.7.1`.
    public var acceptFrom: [IPNetwork] = [IPNetwork("127.0.0.0/8")!, IPNetwork("::1")!]
    /// `store.trusted_upstreams`: stages whose `Mailnode-Id` is trusted for hand-off dedup (MN06).
    public var trustedUpstreams: [IPNetwork] = []
    /// `store.path`: the database and message files (default `<node.spool>/store`).
    public var path: String
    /// `store.users`: the user directory (default `<node.spool>/defenses/users.sqlite`, as submission).
    public var usersPath: String
    /// `store.max_message_size` (default 50 MiB, advertised as SIZE).
    public var maxMessageSize: Int = 52_428_800
    /// `store.quota_bytes`, `store.quota_messages` (0: unlimited), `store.quota_warning_percent` (90).
    public var quota = QuotaLimits()
    /// `store.pop3_listen`: STLS listeners (default `127.0.0.1:1110`; 110 in production).
    public var pop3Listen: [ListenAddress] = [ListenAddress(host: "127.0.0.1", port: 1110)]
    /// `store.pop3s_listen`: implicit-TLS listeners (default `127.0.0.1:1995`; 995 in production).
    public var pop3sListen: [ListenAddress] = [ListenAddress(host: "127.0.0.1", port: 1995)]
    /// `store.pop3_idle_timeout` and the other POP3 limits.
    public var pop3Limits = POP3Limits()
    /// `store.imap_listen`: STARTTLS listeners (default none; 143 in production).
    public var imapListen: [ListenAddress] = []
    /// `store.imaps_listen`: implicit-TLS listeners (default none; 993 in production).
    public var imapsListen: [ListenAddress] = []
    /// `store.imap_idle_timeout` and the other IMAP limits; the APPEND literal limit follows
    /// ``maxMessageSize``.
    public var imapLimits = IMAPLimits()
    /// `store.auth_max_failures_per_user|client`, `store.auth_window`: brute-force lockout of POP3 and IMAP logins.
    public var authentication = DirectoryAuthenticator.Configuration()

    public init(path: String, usersPath: String) {
        self.path = path
        self.usersPath = usersPath
    }

    /// True when the role serves POP3 (and so needs a certificate).
    public var servesPOP3: Bool { !pop3Listen.isEmpty || !pop3sListen.isEmpty }
    /// True when the role serves IMAP (and so needs a certificate).
    public var servesIMAP: Bool { !imapListen.isEmpty || !imapsListen.isEmpty }
}
