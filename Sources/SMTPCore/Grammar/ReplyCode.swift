/// A three-digit SMTP reply code (RFC 5321 §4.2).
///
/// Codes get names, not bare integers, so that a reader sees intent:
/// `.ok`, `.mailboxUnavailable`, `.serviceNotAvailable`.
public struct ReplyCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: Int

    public init(rawValue: Int) {
        precondition((200...599).contains(rawValue), "reply code out of range: \(rawValue)")
        self.rawValue = rawValue
    }

    public init(_ value: Int) { self.init(rawValue: value) }

    /// For codes read from the wire: nil outside 200–599 instead of trapping.
    public init?(validating value: Int) {
        guard (200...599).contains(value) else { return nil }
        self.init(rawValue: value)
    }

    public var description: String { String(rawValue) }

    /// 2yz: the requested action was completed.
    public var isPositiveCompletion: Bool { rawValue / 100 == 2 }
    /// 3yz: the command is accepted, the server waits for more (354, 334).
    public var isPositiveIntermediate: Bool { rawValue / 100 == 3 }
    /// 4yz: a temporary failure; the client should retry later.
    public var isTransientFailure: Bool { rawValue / 100 == 4 }
    /// 5yz: a permanent failure; the client must not retry as is.
    public var isPermanentFailure: Bool { rawValue / 100 == 5 }

    // MARK: - 2yz (RFC 5321 §4.2.3)
    /// 211 System status, or system help reply.
    public static let systemStatus = ReplyCode(211)
    /// 214 Help message.
    public static let helpMessage = ReplyCode(214)
    /// 220 <domain> Service ready.
    public static let serviceReady = ReplyCode(220)
    /// 221 <domain> Service closing transmission channel.
    public static let closing = ReplyCode(221)
    /// 235 Authentication successful (RFC 4954 §6).
    public static let authenticationSucceeded = ReplyCode(235)
    /// 250 Requested mail action okay, completed.
    public static let ok = ReplyCode(250)
    /// 251 User not local; will forward.
    public static let userNotLocalWillForward = ReplyCode(251)
    /// 252 Cannot VRFY user, but will accept message and attempt delivery.
    public static let cannotVerify = ReplyCode(252)

    // MARK: - 3yz
    /// 334 Server challenge during AUTH (RFC 4954 §4).
    public static let authContinue = ReplyCode(334)
    /// 354 Start mail input; end with <CRLF>.<CRLF>.
    public static let startMailInput = ReplyCode(354)

    // MARK: - 4yz
    /// 421 <domain> Service not available, closing transmission channel.
    public static let serviceNotAvailable = ReplyCode(421)
    /// 450 Requested mail action not taken: mailbox unavailable (busy, greylisted).
    public static let mailboxBusy = ReplyCode(450)
    /// 451 Requested action aborted: local error in processing.
    public static let localError = ReplyCode(451)
    /// 452 Requested action not taken: insufficient system storage (or too many recipients).
    public static let insufficientStorage = ReplyCode(452)
    /// 454 Temporary authentication failure / TLS not available (RFC 4954, RFC 3207).
    public static let temporaryAuthFailure = ReplyCode(454)
    /// 455 Server unable to accommodate parameters.
    public static let unableToAccommodateParameters = ReplyCode(455)

    // MARK: - 5yz
    /// 500 Syntax error, command unrecognized (also: line too long).
    public static let syntaxError = ReplyCode(500)
    /// 501 Syntax error in parameters or arguments.
    public static let parameterSyntaxError = ReplyCode(501)
    /// 502 Command not implemented.
    public static let commandNotImplemented = ReplyCode(502)
    /// 503 Bad sequence of commands.
    public static let badSequence = ReplyCode(503)
    /// 504 Command parameter not implemented.
    public static let parameterNotImplemented = ReplyCode(504)
    /// 521 Host does not accept mail (RFC 7504).
    public static let doesNotAcceptMail = ReplyCode(521)
    /// 523 Encryption needed / message larger than negotiated (RFC 5248 usage).
    public static let encryptionNeeded = ReplyCode(523)
    /// 530 Authentication required (RFC 4954 §6) / must issue STARTTLS first (RFC 3207).
    public static let authenticationRequired = ReplyCode(530)
    /// 534 Authentication mechanism is too weak.
    public static let mechanismTooWeak = ReplyCode(534)
    /// 535 Authentication credentials invalid.
    public static let authenticationFailed = ReplyCode(535)
    /// 538 Encryption required for requested authentication mechanism.
    public static let encryptionRequiredForMechanism = ReplyCode(538)
    /// 550 Requested action not taken: mailbox unavailable / policy rejection.
    public static let mailboxUnavailable = ReplyCode(550)
    /// 551 User not local.
    public static let userNotLocal = ReplyCode(551)
    /// 552 Requested mail action aborted: exceeded storage allocation (message too big).
    public static let exceededStorage = ReplyCode(552)
    /// 553 Requested action not taken: mailbox name not allowed.
    public static let mailboxNameNotAllowed = ReplyCode(553)
    /// 554 Transaction failed (or, as a greeting, no SMTP service here).
    public static let transactionFailed = ReplyCode(554)
    /// 555 MAIL FROM/RCPT TO parameters not recognized or not implemented.
    public static let parametersNotRecognized = ReplyCode(555)
}
