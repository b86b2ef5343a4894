/// Every limit the SMTP codec and server enforce, with its default, in one place.
///
/// The defaults follow RFC 5321 §4.5.3.1 minimums and what Postfix ships with; a role may
/// tighten or loosen each one through its configuration.
public struct SMTPLimits: Hashable, Sendable {
    /// Longest command line, CRLF included (RFC 5321 §4.5.3.1.4: at least 512).
    public var maxCommandLineLength: Int = 512
    /// Longest AUTH response line, CRLF included (RFC 4954 §4: 12288 recommended).
    public var maxAuthLineLength: Int = 12_288
    /// Longest text line of message data, CRLF included (RFC 5321 §4.5.3.1.6: 1000).
    public var maxTextLineLength: Int = 1_000
    /// Largest message in octets, advertised as `SIZE` (RFC 1870). Postfix: 10240000.
    public var maxMessageSize: Int = 50 * 1024 * 1024
    /// Recipients per message (RFC 5321 §4.5.3.1.8: at least 100).
    public var maxRecipients: Int = 1_000
    /// DM09's hard recipient limit: RCPT commands per transaction (refused ones included)
    /// beyond which every further RCPT gets `552 5.5.3` and the message itself `554 5.5.3` —
    /// the whole message is refused, as the second seed's "hard recipient limit" does
    /// (``maxRecipients`` is the soft one: `452`, the client sends the rest later).
    /// 0 (the default) switches it off: a pipelining list server sends all its RCPTs before it
    /// reads the first 452, so a hard limit near the soft one would refuse legitimate mailings.
    public var hardRecipientLimit: Int = 0
    /// Commands per session before `421` and close.
    public var maxCommandsPerSession: Int = 50_000
    /// Commands rejected with 5xx per session before `421` and close (Postfix: 20 hard errors).
    public var maxErrorsPerSession: Int = 20
    /// Longest session, in seconds, before `421` and close.
    public var maxSessionDuration: Int64 = 30 * 60
    /// Seconds of silence while waiting for a command before `421 4.4.2`
    /// (RFC 5321 §4.5.3.2.7: at least 5 minutes).
    public var commandTimeout: Int64 = 5 * 60
    /// Seconds of silence while receiving message data (RFC 5321 §4.5.3.2.7 on the server side).
    public var dataTimeout: Int64 = 5 * 60
    /// Failed AUTH attempts per session before `421` and close.
    public var maxAuthFailures: Int = 3
    /// Unprocessed pipelined input held in memory before reading pauses (back-pressure).
    public var maxBufferedInput: Int = 256 * 1024
    /// DM33: the lowest average rate, in octets per second, of one message's data phase (from
    /// the 354 to the final dot, or from the first BDAT chunk to the `LAST` one); below it the
    /// session gets `421 4.4.2` and is closed, and nothing of the message is stored. `0` turns
    /// the floor off. Time in which the server itself paused reading (storage back-pressure,
    /// ``maxDataRate``) does not count against the client. See ``DataRateGuard``.
    ///
    /// Default 500, the value of Postfix's `smtpd_min_data_rate`: 4 kbit/s is far below any
    /// real link today, yet it cuts off a client that drips a message in to hold a session.
    public var minDataRate: Int = 500
    /// DM33: seconds of a data phase before ``minDataRate`` applies (slow start, a client
    /// building its message as it sends). Default 30.
    public var dataRateGrace: Int64 = 30
    /// DM33: the most octets per second the server reads from one connection; beyond it the
    /// server stops reading from the socket for a while (TCP flow control slows the client).
    /// `0` means unlimited (the default). See ``BandwidthThrottle``.
    public var maxDataRate: Int = 0

    public init() {}
}

/// What to do with a bare CR or bare LF inside message data (SMTP smuggling defense).
///
/// Whatever the policy, only `CRLF.CRLF` ends the data: `\n.\n`, `\r.\r`, `\r\n.\n` and
/// `\n.\r\n` never do. The policy only decides whether such a message is accepted.
public enum BareLineEndingPolicy: String, Hashable, Sendable, CaseIterable {
    /// Reject the message at end of data with `550 5.5.2` (default on public listeners).
    case reject
    /// Accept the message and pass the bytes on unchanged (internal hops, legacy peers).
    case accept
    /// Accept the message and rewrite each bare CR or LF to CRLF.
    case normalize
}
