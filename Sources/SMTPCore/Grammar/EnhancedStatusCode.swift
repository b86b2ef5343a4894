/// An enhanced mail system status code `class.subject.detail` (RFC 3463, registry RFC 5248).
public struct EnhancedStatusCode: Hashable, Sendable, CustomStringConvertible {
    /// 2 (success), 4 (persistent transient failure) or 5 (permanent failure).
    public var statusClass: Int
    public var subject: Int
    public var detail: Int

    public init(_ statusClass: Int, _ subject: Int, _ detail: Int) {
        self.statusClass = statusClass
        self.subject = subject
        self.detail = detail
    }

    public var description: String { "\(statusClass).\(subject).\(detail)" }

    /// Parses `x.y.z` (RFC 3463 §2: class 2/4/5, subject and detail 1–3 digits).
    public init?(parsing text: Substring) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3,
              parts.allSatisfy({ (1...3).contains($0.count) && $0.allSatisfy(\.isASCIIDigit) }),
              let c = Int(parts[0]), [2, 4, 5].contains(c),
              let s = Int(parts[1]), let d = Int(parts[2])
        else { return nil }
        self.init(c, s, d)
    }

    // MARK: - Success (RFC 3463 §3)
    public static let ok = EnhancedStatusCode(2, 0, 0)
    public static let senderOK = EnhancedStatusCode(2, 1, 0)
    public static let destinationOK = EnhancedStatusCode(2, 1, 5)
    public static let messageAccepted = EnhancedStatusCode(2, 6, 0)
    public static let authSucceeded = EnhancedStatusCode(2, 7, 0)

    // MARK: - Addressing (X.1.X)
    public static let badDestinationMailbox = EnhancedStatusCode(5, 1, 1)
    public static let badDestinationSyntax = EnhancedStatusCode(5, 1, 3)
    public static let badSenderSyntax = EnhancedStatusCode(5, 1, 7)
    public static let badSenderSystemAddress = EnhancedStatusCode(5, 1, 8)
    public static let noRelay = EnhancedStatusCode(5, 7, 1)

    // MARK: - Mailbox (X.2.X)
    public static let mailboxFull = EnhancedStatusCode(4, 2, 2)
    public static let messageTooBigForMailbox = EnhancedStatusCode(5, 2, 3)

    // MARK: - Mail system (X.3.X)
    public static let systemFull = EnhancedStatusCode(4, 3, 1)
    public static let systemNotAccepting = EnhancedStatusCode(4, 3, 2)
    public static let messageTooBig = EnhancedStatusCode(5, 3, 4)
    public static let systemIncapable = EnhancedStatusCode(5, 3, 3)
    public static let temporarySystemError = EnhancedStatusCode(4, 3, 0)

    // MARK: - Network (X.4.X)
    public static let timeout = EnhancedStatusCode(4, 4, 2)
    public static let congestion = EnhancedStatusCode(4, 4, 5)

    // MARK: - Protocol (X.5.X)
    public static let invalidCommand = EnhancedStatusCode(5, 5, 1)
    public static let syntaxError = EnhancedStatusCode(5, 5, 2)
    public static let tooManyRecipients = EnhancedStatusCode(4, 5, 3)
    public static let tooManyRecipientsPermanent = EnhancedStatusCode(5, 5, 3)
    public static let invalidArguments = EnhancedStatusCode(5, 5, 4)
    public static let wrongProtocolVersion = EnhancedStatusCode(5, 5, 5)
    public static let badSequence = EnhancedStatusCode(5, 5, 1)

    // MARK: - Content (X.6.X)
    public static let conversionNotSupported = EnhancedStatusCode(5, 6, 1)
    public static let mediaNotSupported = EnhancedStatusCode(5, 6, 3)
    public static let utf8AddressNotPermitted = EnhancedStatusCode(5, 6, 7)

    // MARK: - Security and policy (X.7.X, RFC 4954 §6, RFC 8689)
    public static let policyRejection = EnhancedStatusCode(5, 7, 1)
    public static let authRequired = EnhancedStatusCode(5, 7, 0)
    public static let authCredentialsInvalid = EnhancedStatusCode(5, 7, 8)
    public static let mechanismTooWeak = EnhancedStatusCode(5, 7, 9)
    public static let encryptionRequiredForMechanism = EnhancedStatusCode(5, 7, 11)
    public static let tlsRequired = EnhancedStatusCode(5, 7, 10)
    public static let temporaryAuthFailure = EnhancedStatusCode(4, 7, 0)
    public static let requireTLSNotSupported = EnhancedStatusCode(5, 7, 30)
}

extension Character {
    @inlinable var isASCIIDigit: Bool { isASCII && isNumber }
}
