import Defenses
import SMTPCore

/// The `submission` role (paper stage B): company users send here, authenticated, over TLS only
/// (DM02 RFC 6409 on 587 with STARTTLS required, RFC 8314 implicit TLS on 465; DM04 AUTH before
/// MAIL; DM14 TLS). The envelope sender must be the user's own address (``SenderOwnership``);
/// authenticated users may send to any domain (this is the one place relaying is right); the
/// mail then goes on to the next stage (antivirus) like everyone else's.
public struct SubmissionRoleConfiguration: Sendable {
    /// STARTTLS listeners (`submission.listen`, default `127.0.0.1:5587` for a first run; 587 in production).
    public var listen: [ListenAddress] = [ListenAddress(host: "127.0.0.1", port: 5587)]
    /// Implicit-TLS listeners (`submission.listen_tls`, e.g. `0.0.0.0:465`; none by default).
    public var listenTLS: [ListenAddress] = []
    public var limits = SMTPLimits()
    public var bareLineEndings: BareLineEndingPolicy = .reject
    /// The user directory file (`submission.users`, default `<spool>/defenses/users.sqlite`).
    public var usersPath: String
    /// Brute-force limits of AUTH (`submission.auth_max_failures_per_user|client`, `submission.auth_window`).
    public var authentication = DirectoryAuthenticator.Configuration()
    /// Leave the user's IP address out of the `Received` field (`submission.hide_client_address`,
    /// default false: the address is useful for tracing abuse; some sites must not pass it on).
    public var hideClientAddress = false
    /// The message's `From:` (and `Sender:`) addresses must be the user's too
    /// (`submission.check_from`, default true; ``AuthorOwnership``).
    public var checkFrom = true
    /// Whether users may send `MAIL FROM:<>` (`submission.allow_null_sender`, default false).
    public var allowNullSender = false
    /// DM10 per client address (`submission.max_connections_per_client`, default 10; nil when 0).
    public var connectionLimit: ClientConnectionLimit.Configuration? = ClientConnectionLimit.Configuration()
    /// DM11 per client address (`[submission.rate]`; off by default): connections, messages and
    /// recipients per window, authenticated sessions included (DM34 limits users on top).
    public var rateLimit: ClientRateLimit.Configuration?
    /// DM34 per user (`[submission.sender_rate]`; on by default for submission: 200 messages and
    /// 1,000 recipients per user and hour).
    public var senderVolume: SenderVolumeLimit.Configuration? = SenderVolumeLimit.Configuration()
    /// DM19 `submission.local_domains`: recipients at these domains must be users or aliases of
    /// the user directory (550 5.1.1 at RCPT, as Postfix's `reject_unlisted_recipient` does on
    /// every smtpd); default: the file's `mx.domains`; empty: no check.
    public var localDomains: Set<String> = []
    /// DM36 `[submission.bad_rcpt]`: the refused-recipient tarpit (off by default, as on the mx).
    public var badRecipientThrottle: BadRecipientThrottle.Configuration?
    /// DM05 `submission.client_ca_file`: PEM certificate authorities of the users' client
    /// certificates. Set, the listeners ask for a certificate during TLS (optional: a client
    /// without one uses a password), verify a presented one against these CAs, and offer
    /// AUTH EXTERNAL (RFC 4422 Appendix A) for the user whose address it names.
    public var clientCAFile: String?
    /// DM23 `[submission.rules]` `reject_header` / `reject_body` / `body_scan_limit`: regular
    /// expressions over the users' own outgoing messages (550 5.7.1 at the end of DATA); off when empty.
    public var contentRules: ContentRules.Configuration?

    public init(usersPath: String) {
        self.usersPath = usersPath
    }
}
