/// A defense mechanism's catalog id: `DM01`–`DM36` from the paper, `MN01`… for our additions.
///
/// Every verdict and log line of a defense carries its id (DESIGN.md §3.6); ``DefenseCatalog``
/// holds what each id stands for. The paper numbers the mechanisms in §VII and Table I
/// (Maraboli and Vallejos, "A Methodology and Architecture for a Dependable and Secure E-mail
/// Service").
public struct DefenseID: RawRepresentable, Hashable, Sendable, Comparable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }

    /// The paper's mechanism `number` (1...36) as `DM01`…`DM36`.
    public static func paper(_ number: Int) -> DefenseID {
        DefenseID(rawValue: number < 10 ? "DM0\(number)" : "DM\(number)")
    }

    /// Our addition `number` as `MN01`….
    public static func mailnode(_ number: Int) -> DefenseID {
        DefenseID(rawValue: number < 10 ? "MN0\(number)" : "MN\(number)")
    }

    /// Paper ids first, then ours, each by number.
    public static func < (lhs: DefenseID, rhs: DefenseID) -> Bool {
        let left = (lhs.rawValue.hasPrefix("DM") ? 0 : 1, lhs.rawValue)
        let right = (rhs.rawValue.hasPrefix("DM") ? 0 : 1, rhs.rawValue)
        return left < right
    }

    // MARK: - The paper's mechanisms (Table I)

    /// DM01 Block incoming/outgoing SMTP port 25 at the network perimeter.
    public static let blockPort25 = paper(1)
    /// DM02 Submission protocol ([RFC 6409](https://www.rfc-editor.org/rfc/rfc6409); the paper cites RFC 2476).
    public static let submissionProtocol = paper(2)
    /// DM03 Internal / external MTA split (the `mx` and `submission` roles).
    public static let internalExternalSplit = paper(3)
    /// DM04 SMTP AUTH ([RFC 4954](https://www.rfc-editor.org/rfc/rfc4954)).
    public static let smtpAuth = paper(4)
    /// DM05 Digital certificates (PKI).
    public static let certificates = paper(5)
    /// DM06 PGP.
    public static let pgp = paper(6)
    /// DM07 Relay access lists: accept mail only for local domains unless the client is trusted.
    public static let relayAccessLists = paper(7)
    /// DM08 Maximum size per message ([RFC 1870](https://www.rfc-editor.org/rfc/rfc1870) SIZE).
    public static let maxMessageSize = paper(8)
    /// DM09 Maximum number of recipients per message.
    public static let maxRecipients = paper(9)
    /// DM10 Simultaneous connections per client.
    public static let clientConnectionLimit = paper(10)
    /// DM11 Client rate limit.
    public static let clientRateLimit = paper(11)
    /// DM12 Maximum number of server processes (for mailnode: the node-wide connection cap).
    public static let maxServerProcesses = paper(12)
    /// DM13 Maximum number of connections per server process (for mailnode: per event loop).
    public static let maxConnectionsPerProcess = paper(13)
    /// DM14 Secure SMTP over TLS ([RFC 3207](https://www.rfc-editor.org/rfc/rfc3207)).
    public static let smtpOverTLS = paper(14)
    /// DM15 TLS for POP, IMAP and webmail (HTTPS).
    public static let tlsForMailAccess = paper(15)
    /// DM16 PKI/PGP message encryption.
    public static let messageEncryption = paper(16)
    /// DM17 The anti-spam recommendations for MTAs of [RFC 2505](https://www.rfc-editor.org/rfc/rfc2505).
    public static let rfc2505 = paper(17)
    /// DM18 Local domain or IP block lists.
    public static let localBlockLists = paper(18)
    /// DM19 MTA rules: sender domain resolvable, reverse DNS, HELO checks (RFC 2505), unknown
    /// recipients refused (backscatter).
    public static let mtaRules = paper(19)
    /// DM20 DNS block lists (and allow lists), [RFC 5782](https://www.rfc-editor.org/rfc/rfc5782).
    public static let dnsBlockLists = paper(20)
    /// DM21 User and global allow lists.
    public static let allowLists = paper(21)
    /// DM22 Greylisting.
    public static let greylisting = paper(22)
    /// DM23 Regular expressions.
    public static let regularExpressions = paper(23)
    /// DM24 Bayesian filters.
    public static let bayesianFilters = paper(24)
    /// DM25 Reverse proxy.
    public static let reverseProxy = paper(25)
    /// DM26 CAMRAM (hashcash postage).
    public static let camram = paper(26)
    /// DM27 Honey pots (spam traps).
    public static let honeyPots = paper(27)
    /// DM28 Antivirus software.
    public static let antivirus = paper(28)
    /// DM29 Not using Microsoft Windows.
    public static let notWindows = paper(29)
    /// DM30 Sender Policy Framework ([RFC 7208](https://www.rfc-editor.org/rfc/rfc7208)).
    public static let senderPolicyFramework = paper(30)
    /// DM31 DomainKeys, today DKIM ([RFC 6376](https://www.rfc-editor.org/rfc/rfc6376)).
    public static let domainKeys = paper(31)
    /// DM32 Greet pause.
    public static let greetPause = paper(32)
    /// DM33 Data rate limit of each SMTP flow.
    public static let dataRateLimit = paper(33)
    /// DM34 Limit on the amount of mail from one sender.
    public static let senderVolumeLimit = paper(34)
    /// DM35 Mailbox quota.
    public static let mailboxQuota = paper(35)
    /// DM36 Bad RCPT throttle.
    public static let badRecipientThrottle = paper(36)

    // MARK: - mailnode's additions

    /// MN01 SMTP smuggling defense: only `CRLF.CRLF` ends DATA; bare CR/LF policy.
    public static let smugglingDefense = mailnode(1)
    /// MN02 STARTTLS command-injection defense: plaintext pipelined behind STARTTLS is dropped.
    public static let startTLSInjectionDefense = mailnode(2)
    /// MN03 PROXY protocol from trusted load balancers only.
    public static let proxyProtocol = mailnode(3)
    /// MN04 DMARC ([RFC 7489](https://www.rfc-editor.org/rfc/rfc7489)).
    public static let dmarc = mailnode(4)
    /// MN05 Role-enforced egress: only `outbound` connects to arbitrary port 25.
    public static let roleEnforcedEgress = mailnode(5)
    /// MN06 Hand-off deduplication by `Mailnode-Id`.
    public static let handOffDeduplication = mailnode(6)
    /// MN07 Session limits: timeouts, session duration, error and command caps.
    public static let sessionLimits = mailnode(7)
    /// MN08 Nothing revealed on the wire: generic greeting, VRFY/EXPN answer nothing.
    public static let noDisclosure = mailnode(8)
    /// MN09 Authenticated TLS towards remote MXs: MTA-STS and DANE.
    public static let authenticatedDeliveryTLS = mailnode(9)
    /// MN10 ARC verification ([RFC 8617](https://www.rfc-editor.org/rfc/rfc8617)).
    public static let arc = mailnode(10)
}
