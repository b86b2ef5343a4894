/// Where mail for a domain goes when no route names a hop: the destination's own mail
/// exchangers, as the outbound stage finds them ([RFC 5321 §5.1](https://www.rfc-editor.org/rfc/rfc5321#section-5.1)).
///
/// ``SpoolRunner`` asks it for every recipient domain its ``RoutingTable`` has no hop for (a
/// spool runner without one bounces such recipients: "No route"). The answer is an ordered
/// list of hosts to try; the runner tries the next one when a host cannot be reached or does
/// not take a session (connection refused, timeout, a 4yz greeting), and stops at the first
/// host that answered the transaction.
public protocol DestinationResolver: Sendable {
    func destination(for domain: String) async -> Destination
}

/// The answer of a ``DestinationResolver``.
public enum Destination: Sendable, Hashable {
    /// Hosts in the order to try them (preference order, equal preferences shuffled).
    case hosts([NextHop])
    /// The domain publishes a null MX ([RFC 7505](https://www.rfc-editor.org/rfc/rfc7505)): it
    /// receives no mail. The recipients fail at once with `556 5.1.10` (§4.2).
    case nullMX
    /// The domain does not exist, or has no host that could take mail: `550 5.1.2`.
    case noMailHost(String)
    /// The DNS could not answer now: retried later, never bounced for that (`4.4.3`).
    case temporaryFailure(String)
    /// A transport-security policy leaves no exchanger to use now — MTA-STS names none of them,
    /// DANE is mandatory and none has validated records, a TLSA look-up failed, REQUIRETLS finds
    /// no authenticated one: retried later like ``temporaryFailure(_:)``, but reported as the
    /// security matter it is (`4.7.5`, as Postfix reports TLS policy deferrals).
    case securityDeferral(String)
    /// The best mail exchanger is this host itself: the mail would come back to us
    /// ([RFC 5321 §5.1](https://www.rfc-editor.org/rfc/rfc5321#section-5.1)). `554 5.4.6`.
    case loopsBack(String)

    /// `556 5.1.10` ([RFC 7505 §4.2](https://www.rfc-editor.org/rfc/rfc7505#section-4.2)).
    public static let nullMXReply = Reply(ReplyCode(556), EnhancedStatusCode(5, 1, 10), "Recipient address has null MX")
}
