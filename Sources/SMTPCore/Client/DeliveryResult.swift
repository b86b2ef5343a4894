/// Where in a client session something happened; carried by ``SMTPClientError`` for logs,
/// DSN diagnostics and timeouts (RFC 5321 §4.5.3.2 names one timeout per stage).
public enum SMTPClientStage: String, Hashable, Sendable, CaseIterable {
    /// Opening the TCP connection.
    case connect
    /// Waiting for the `220` greeting (RFC 5321 §4.5.3.2.1).
    case greeting
    /// `EHLO`, `HELO` or `LHLO` (RFC 5321 §4.1.1.1, RFC 2033 §4.1).
    case hello
    /// `STARTTLS` and the TLS handshake (RFC 3207).
    case startTLS
    /// `AUTH` (RFC 4954).
    case auth
    /// `RSET` between transactions (RFC 5321 §4.1.1.5).
    case reset
    /// `MAIL FROM` (RFC 5321 §4.5.3.2.2).
    case mail
    /// `RCPT TO` (RFC 5321 §4.5.3.2.3).
    case rcpt
    /// `DATA` initiation, waiting for `354` (RFC 5321 §4.5.3.2.4).
    case data
    /// Sending a block of message data, or a non-final `BDAT` chunk (RFC 5321 §4.5.3.2.5).
    case dataBlock
    /// Waiting for the reply to the final `.` or `BDAT … LAST` (RFC 5321 §4.5.3.2.6).
    case dataTermination
    /// `QUIT` (RFC 5321 §4.1.1.10).
    case quit

    /// Whether a 5yz at this stage is about the message (or this server's will to take it)
    /// rather than about the session's plumbing.
    var rejectionCanBePermanent: Bool {
        switch self {
        case .greeting, .hello, .mail, .rcpt, .data, .dataBlock, .dataTermination: return true
        case .connect, .startTLS, .auth, .reset, .quit: return false
        }
    }
}

/// Why a client operation failed. Every case is classified as temporary or permanent
/// (``isPermanent``) so the spool can decide between retry and bounce, and every case has a
/// ``reply`` (the server's, or one synthesised with an enhanced status code) for the DSN.
public enum SMTPClientError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The server answered with a reply we cannot proceed on (4yz, 5yz, or an unexpected code).
    case rejected(Reply, stage: SMTPClientStage)
    /// The client refused to go on before asking the server: SIZE too large, SMTPUTF8 or
    /// 8BITMIME needed but not offered, STARTTLS or REQUIRETLS required but unavailable,
    /// credentials over plaintext. The reply is synthesised.
    case localPolicy(Reply, stage: SMTPClientStage)
    /// No reply (or no write progress) within the configured time (RFC 5321 §4.5.3.2).
    case timeout(SMTPClientStage)
    /// The TCP connection could not be opened (refused, unreachable, name not resolved).
    case connectionFailed(String)
    /// The server closed the connection, or it broke, while the client was at `stage`.
    case connectionClosed(SMTPClientStage)
    /// The TLS handshake failed or the certificate did not verify. With
    /// ``ClientTLSPolicy/opportunistic`` the caller may retry in plaintext on a new connection.
    case tlsFailed(String)
    /// The server broke the protocol: an unparsable reply, or bytes after the STARTTLS reply.
    case protocolViolation(String)
    /// The message body sequence threw; the connection is closed because the data could not
    /// be terminated cleanly.
    case messageSourceFailed(String)
    /// The connection was already closed or broken by an earlier failure, or is in use.
    case connectionUnusable
    /// The calling task was cancelled.
    case cancelled

    /// True when retrying the same message on the same route cannot succeed (a 5yz reply or
    /// a permanent local decision). Everything else — connection problems, timeouts, TLS
    /// failures, 4yz — is temporary. A 5yz to STARTTLS, AUTH, RSET or QUIT is temporary too:
    /// it says nothing about the message (a wrong password is an operator problem; like
    /// Postfix's `smtp_sasl_auth_soft_bounce`).
    public var isPermanent: Bool {
        switch self {
        case .rejected(let reply, let stage):
            return stage.rejectionCanBePermanent && reply.code.isPermanentFailure
        case .localPolicy(let reply, _):
            return reply.code.isPermanentFailure
        case .timeout, .connectionFailed, .connectionClosed, .tlsFailed, .protocolViolation,
             .messageSourceFailed, .connectionUnusable, .cancelled:
            return false
        }
    }

    /// The server's reply, or a synthesised one (with an RFC 3463 code) for DSNs and logs.
    public var reply: Reply {
        switch self {
        case .rejected(let reply, _), .localPolicy(let reply, _):
            return reply
        case .timeout(let stage):
            return Reply(.serviceNotAvailable, .timeout, "Timeout waiting for the server (\(stage.rawValue))")
        case .connectionFailed(let reason):
            return Reply(.serviceNotAvailable, EnhancedStatusCode(4, 4, 1), "Connection failed: \(reason)")
        case .connectionClosed(let stage):
            return Reply(.serviceNotAvailable, EnhancedStatusCode(4, 4, 2), "Connection lost (\(stage.rawValue))")
        case .tlsFailed(let reason):
            return Reply(.temporaryAuthFailure, EnhancedStatusCode(4, 7, 5), "TLS failed: \(reason)")
        case .protocolViolation(let reason):
            return Reply(.localError, EnhancedStatusCode(4, 5, 0), "Protocol error: \(reason)")
        case .messageSourceFailed(let reason):
            return Reply(.localError, .temporarySystemError, "Message source failed: \(reason)")
        case .connectionUnusable:
            return Reply(.serviceNotAvailable, EnhancedStatusCode(4, 4, 2), "Connection not usable")
        case .cancelled:
            return Reply(.localError, .temporarySystemError, "Delivery cancelled")
        }
    }

    public var description: String {
        switch self {
        case .rejected(let reply, let stage): return "rejected at \(stage.rawValue): \(reply)"
        case .localPolicy(let reply, let stage): return "not attempted at \(stage.rawValue): \(reply)"
        case .timeout(let stage): return "timeout at \(stage.rawValue)"
        case .connectionFailed(let reason): return "connection failed: \(reason)"
        case .connectionClosed(let stage): return "connection closed at \(stage.rawValue)"
        case .tlsFailed(let reason): return "TLS failed: \(reason)"
        case .protocolViolation(let reason): return "protocol violation: \(reason)"
        case .messageSourceFailed(let reason): return "message source failed: \(reason)"
        case .connectionUnusable: return "connection unusable"
        case .cancelled: return "cancelled"
        }
    }
}

/// The final outcome for one recipient of a transaction.
public struct RecipientResult: Hashable, Sendable, CustomStringConvertible {
    public enum Status: Hashable, Sendable {
        /// The server took responsibility for this recipient: the reply to the end of data
        /// (SMTP), or this recipient's own reply after the data (LMTP, RFC 2033 §4.2).
        case accepted(Reply)
        /// Retry later: a 4yz to RCPT or to the data, a timeout, a lost connection.
        case temporaryFailure(SMTPClientError)
        /// Bounce: a 5yz to RCPT or to the data, or a permanent local decision.
        case permanentFailure(SMTPClientError)
    }

    public var recipient: ForwardPath
    public var status: Status

    public init(recipient: ForwardPath, status: Status) {
        self.recipient = recipient
        self.status = status
    }

    init(recipient: ForwardPath, failure: SMTPClientError) {
        self.init(recipient: recipient,
                  status: failure.isPermanent ? .permanentFailure(failure) : .temporaryFailure(failure))
    }

    public var isAccepted: Bool {
        if case .accepted = status { return true }
        return false
    }

    /// The server's reply for this recipient (or the synthesised one for a local failure).
    public var reply: Reply {
        switch status {
        case .accepted(let reply): return reply
        case .temporaryFailure(let error), .permanentFailure(let error): return error.reply
        }
    }

    public var description: String {
        switch status {
        case .accepted(let reply): return "\(recipient): accepted (\(reply))"
        case .temporaryFailure(let error): return "\(recipient): temporary failure (\(error))"
        case .permanentFailure(let error): return "\(recipient): permanent failure (\(error))"
        }
    }
}

/// The outcome of one message on one connection, classified for the spool.
///
/// `.delivered` means at least one recipient was accepted; the others may still have failed,
/// so a spool must look at each ``RecipientResult`` (retry the temporary ones, bounce the
/// permanent ones). When no recipient was accepted, the message-level error says why:
/// the failing reply to MAIL or to the data, a timeout, or — when only the RCPTs failed — the
/// first temporary RCPT failure if there is one (so the message is retried), else the first
/// permanent one.
public enum DeliveryResult: Hashable, Sendable, CustomStringConvertible {
    case delivered([RecipientResult])
    case temporaryFailure(SMTPClientError, [RecipientResult])
    case permanentFailure(SMTPClientError, [RecipientResult])

    /// One result per envelope recipient, in envelope order.
    public var recipients: [RecipientResult] {
        switch self {
        case .delivered(let recipients),
             .temporaryFailure(_, let recipients),
             .permanentFailure(_, let recipients):
            return recipients
        }
    }

    public var isDelivered: Bool {
        if case .delivered = self { return true }
        return false
    }

    /// The message-level error, nil when delivered.
    public var error: SMTPClientError? {
        switch self {
        case .delivered: return nil
        case .temporaryFailure(let error, _), .permanentFailure(let error, _): return error
        }
    }

    public var description: String {
        switch self {
        case .delivered(let recipients):
            return "delivered to \(recipients.filter(\.isAccepted).count) of \(recipients.count) recipient(s)"
        case .temporaryFailure(let error, _): return "temporary failure: \(error)"
        case .permanentFailure(let error, _): return "permanent failure: \(error)"
        }
    }

    /// Every recipient failed with the same message-level `error`.
    static func failed(_ error: SMTPClientError, recipients: [ForwardPath]) -> DeliveryResult {
        let results = recipients.map { RecipientResult(recipient: $0, failure: error) }
        return error.isPermanent ? .permanentFailure(error, results) : .temporaryFailure(error, results)
    }

    /// Classifies per-recipient results; `messageError` is the reason the data was not
    /// accepted, if one exists.
    static func classify(_ results: [RecipientResult], messageError: SMTPClientError?) -> DeliveryResult {
        if results.contains(where: \.isAccepted) { return .delivered(results) }
        let error = messageError
            ?? results.lazy.compactMap { result -> SMTPClientError? in
                if case .temporaryFailure(let error) = result.status { return error }
                return nil
            }.first
            ?? results.lazy.compactMap { result -> SMTPClientError? in
                if case .permanentFailure(let error) = result.status { return error }
                return nil
            }.first
            ?? .localPolicy(Reply(.transactionFailed, .invalidCommand, "No recipients"), stage: .rcpt)
        return error.isPermanent ? .permanentFailure(error, results) : .temporaryFailure(error, results)
    }
}
