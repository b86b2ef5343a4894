import SMTPCore

/// What the DNS-list stage hook (``DNSListDefense``) does with a verdict, and when.
///
/// Looking up and acting are separate: by default the client address is looked up when the
/// client connects, in the background (the greeting is not delayed), the verdict is kept for the
/// session, and a listed client is refused at each RCPT TO — except mail to `<Postmaster>`.
/// That is what Postfix's postscreen does with `postscreen_dnsbl_action = enforce` (look up at
/// connect, reject at RCPT with 550 5.7.1, log sender and recipients), and what its smtpd does
/// with `reject_rbl_client` under the default `smtpd_delay_reject = yes`. Refusing at connect
/// (``Stage/connect``, postscreen's `drop`) is cheaper but also refuses mail to postmaster and
/// leaves no sender or recipient in the log.
public struct DNSListPolicy: Sendable {
    /// Where a listed client is refused.
    public enum Stage: String, Hashable, Sendable {
        /// Instead of the greeting: `554 5.7.1` ([RFC 5321 §3.1](https://www.rfc-editor.org/rfc/rfc5321#section-3.1)),
        /// after which the session answers only QUIT; for ``DNSListPolicy/onUnknown`` `tempfail`,
        /// `421 4.4.3` and the connection closes (§3.8). The greeting waits for the client-address
        /// look-ups. Lists of HELO names and sender domains decide at MAIL FROM.
        case connect
        /// At MAIL FROM: client address, HELO name and sender domain are all known.
        case mailFrom
        /// At each RCPT TO (the default): `<Postmaster>` gets through (``DNSListPolicy/exemptPostmaster``),
        /// and the log names the recipient. Every RCPT uses the verdict kept for the session.
        case rcptTo
    }

    public var stage: Stage
    /// Ask the lists about the client address when it connects, without delaying the greeting,
    /// and keep the verdict for the session (``DNSListDefense/clientVerdict(in:)``). Off: the
    /// first stage that needs it asks, and the session keeps that verdict. ``Stage/connect``
    /// always looks up at connect.
    public var lookupAtConnect: Bool
    /// For ``DNSListResult/listed`` (default: reject, `550 5.7.1`; at connect `554 5.7.1`).
    public var onListed: DefenseAction
    /// For ``DNSListResult/unknown`` (default: ignore, a dead list must not stop mail). `reject`
    /// is applied as `tempfail`: a DNS failure never causes a 5xx.
    public var onUnknown: DefenseAction
    /// Sessions that authenticated are not refused (submission). Their client address is still
    /// looked up at connect, before anyone can have authenticated: do not put this hook on a
    /// submission-only listener.
    public var exemptAuthenticated: Bool
    /// Clients in these networks are neither looked up nor refused (the previous stage, monitoring).
    public var trustedNetworks: [IPNetwork]
    /// At ``Stage/rcptTo``, `<Postmaster>` is accepted from listed clients
    /// ([RFC 5321 §4.5.1](https://www.rfc-editor.org/rfc/rfc5321#section-4.5.1)), so they can
    /// ask for delisting.
    public var exemptPostmaster: Bool
    /// Name the listing zones in the rejection (`... (zen.example)`): actionable for the sender's
    /// administrator, but tells the world which lists this site uses. Off by default.
    public var nameZonesInReply: Bool

    public init(
        stage: Stage = .rcptTo, lookupAtConnect: Bool = true, onListed: DefenseAction = .reject,
        onUnknown: DefenseAction = .ignore, exemptAuthenticated: Bool = true, trustedNetworks: [IPNetwork] = [],
        exemptPostmaster: Bool = true, nameZonesInReply: Bool = false
    ) {
        self.stage = stage
        self.lookupAtConnect = lookupAtConnect
        self.onListed = onListed
        self.onUnknown = onUnknown
        self.exemptAuthenticated = exemptAuthenticated
        self.trustedNetworks = trustedNetworks
        self.exemptPostmaster = exemptPostmaster
        self.nameZonesInReply = nameZonesInReply
    }
}
