/// What the framer noticed about one message's data while streaming it.
///
/// The framer never refuses message bytes: it records what it saw here and hands the summary
/// to the session with ``SMTPFramer/Event/messageEnd(_:)``, and the session decides (for
/// example `550 5.5.2` for a bare line ending under ``BareLineEndingPolicy/reject``, or
/// `552 5.3.4` for a message over the size limit).
///
/// For DATA (RFC 5321 §4.1.1.4) the counters cover one message. For BDAT (RFC 3030 §2) they
/// accumulate over all chunks of a message until ``SMTPFramer/resetMessage()``; each
/// `messageEnd` carries the state of the message as if it ended after that chunk.
public struct MessageDataSummary: Hashable, Sendable {
    /// Message octets emitted so far for this message: after dot-unstuffing and, under
    /// ``BareLineEndingPolicy/normalize``, after rewriting bare CR/LF to CRLF.
    public var octets: Int
    /// The data held an LF not preceded by CR (a "bare LF", SMTP smuggling vector).
    public var sawBareLF: Bool
    /// The data held a CR not followed by LF (a "bare CR", SMTP smuggling vector).
    public var sawBareCR: Bool
    /// A text line was longer than ``SMTPFramer/Configuration/maxTextLineLength``, CRLF
    /// included (RFC 5321 §4.5.3.1.6). Always `false` for binary BDAT chunks.
    public var sawLongLine: Bool
    /// The data held a NUL octet (RFC 5321 §4.5.2 — informational only). Always `false` for
    /// binary BDAT chunks.
    public var sawNUL: Bool

    public init(
        octets: Int = 0,
        sawBareLF: Bool = false,
        sawBareCR: Bool = false,
        sawLongLine: Bool = false,
        sawNUL: Bool = false
    ) {
        self.octets = octets
        self.sawBareLF = sawBareLF
        self.sawBareCR = sawBareCR
        self.sawLongLine = sawLongLine
        self.sawNUL = sawNUL
    }

    /// `true` when the data held a bare CR or bare LF: under ``BareLineEndingPolicy/reject``
    /// the session refuses such a message at the end of data.
    public var violatesLineEndingPolicy: Bool { self.sawBareLF || self.sawBareCR }
}
