/// Limits of one IMAP session (every one has a default and is enforced, DESIGN.md §3.2).
public struct IMAPLimits: Sendable, Hashable {
    /// Octets of a command outside its literals, CRLFs included; longer gets `BAD` and is skipped.
    public var maxLineLength: Int
    /// Octets of one literal in any command but APPEND ([RFC 7888 §4](https://www.rfc-editor.org/rfc/rfc7888#section-4)).
    public var maxLiteralSize: Int
    /// Octets of an APPEND literal: the store's message size limit.
    public var maxAppendSize: Int
    /// Parentheses nested in one command (search keys, lists).
    public var maxNestingDepth: Int
    /// `BAD` answers before the session is closed.
    public var maxErrors: Int
    /// Failed logins in one session before it is closed (the directory's lockout counts across sessions).
    public var maxAuthFailures: Int
    /// Seconds without a command before the session is closed ([RFC 9051 §5.4](https://www.rfc-editor.org/rfc/rfc9051#section-5.4):
    /// at least 30 minutes; IDLE counts as activity only until then, clients re-issue it).
    public var idleTimeout: Int64

    public init(maxLineLength: Int = 65_536, maxLiteralSize: Int = 65_536, maxAppendSize: Int = 52_428_800,
                maxNestingDepth: Int = 32, maxErrors: Int = 30, maxAuthFailures: Int = 3, idleTimeout: Int64 = 1800) {
        self.maxLineLength = maxLineLength
        self.maxLiteralSize = maxLiteralSize
        self.maxAppendSize = maxAppendSize
        self.maxNestingDepth = maxNestingDepth
        self.maxErrors = maxErrors
        self.maxAuthFailures = maxAuthFailures
        self.idleTimeout = idleTimeout
    }
}
