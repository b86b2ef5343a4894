import SMTPCore

/// Limits of one POP3 session (every one has a default and is enforced).
public struct POP3Limits: Sendable, Hashable {
    /// Octets of a command line including CRLF; longer lines get `-ERR` and are skipped.
    public var maxLineLength: Int
    /// `-ERR` answers to bad commands before the session is closed.
    public var maxErrors: Int
    /// Failed logins in one session before it is closed (the directory's lockout counts across sessions).
    public var maxAuthFailures: Int
    /// Seconds without a command before the session is closed (RFC 1939 §3: at least 10 minutes).
    public var idleTimeout: Int64

    public init(maxLineLength: Int = 1024, maxErrors: Int = 20, maxAuthFailures: Int = 3, idleTimeout: Int64 = 600) {
        self.maxLineLength = maxLineLength
        self.maxErrors = maxErrors
        self.maxAuthFailures = maxAuthFailures
        self.idleTimeout = idleTimeout
    }
}

/// The INBOX as a POP3 session sees it from login to QUIT (RFC 1939 §5: numbers stay fixed).
public struct Maildrop: Sendable, Hashable {
    public var user: String
    public var mailboxID: Int64
    public var uidValidity: UInt32
    public var messages: [StoredMessage]

    public init(user: String, mailboxID: Int64, uidValidity: UInt32, messages: [StoredMessage]) {
        self.user = user
        self.mailboxID = mailboxID
        self.uidValidity = uidValidity
        self.messages = messages
    }

    /// RFC 1939 §7 unique-id: 1 to 70 characters 0x21–0x7E, never reused — UIDVALIDITY.UID.
    func uniqueID(_ index: Int) -> String { "\(uidValidity).\(messages[index].uid)" }
}

/// Why a maildrop could not be opened.
public enum MaildropFailure: Error, Sendable, Hashable {
    /// Another session of this user holds it (RFC 2449 `[IN-USE]`).
    case inUse
    case unavailable
}

/// One POP3 session as a value-type state machine: the handler feeds it lines and the results
/// of asynchronous work, and performs the actions it returns. Tested without sockets.
///
/// TLS is required before any credentials (RFC 2595 §2.1, RFC 8314): on the plain listener USER,
/// PASS and AUTH get `-ERR` until STLS, and CAPA shows neither USER nor SASL before it. A bad
/// command gets `-ERR` and the session goes on, up to ``POP3Limits/maxErrors``.
public struct POP3Session: Sendable {
    public enum Action: Sendable, Hashable {
        /// Write these octets (one or more complete response lines).
        case send(String)
        /// Insert TLS now; the handler drops any input buffered behind STLS.
        case startTLS
        case authenticate(Credentials)
        case openMaildrop(user: String)
        /// Send `+OK` and the message (dot-stuffed; `lines` for TOP), or `-ERR` when it cannot
        /// be read; then call ``retrievalCompleted()``.
        case retrieve(StoredMessage, lines: Int?)
        /// Remove these messages (QUIT in TRANSACTION), then call ``updateCompleted(_:)``.
        case update(mailboxID: Int64, uids: [UInt32])
        case close
    }

    enum State: Sendable, Hashable {
        case authorization(user: String?)
        /// AUTH PLAIN sent `+ `; the next line is the response.
        case saslPlain
        case transaction
        case closed
    }

    public let limits: POP3Limits
    /// STLS can be offered (a plain listener with a certificate).
    public let canStartTLS: Bool
    private(set) var state: State = .authorization(user: nil)
    public private(set) var tls: Bool
    /// Waiting for asynchronous work: the handler keeps further input buffered.
    public private(set) var isSuspended = false
    public private(set) var maildrop: Maildrop?
    private(set) var deleted: Set<Int> = []
    private var errors = 0
    private var authFailures = 0

    public init(limits: POP3Limits = .init(), implicitTLS: Bool, canStartTLS: Bool) {
        self.limits = limits
        self.tls = implicitTLS
        self.canStartTLS = canStartTLS && !implicitTLS
    }

    public var isClosed: Bool { state == .closed }
    /// The user whose maildrop this session holds (its lock).
    public var lockedUser: String? { maildrop?.user }

    /// RFC 1939 §4: generic, no software name (DESIGN.md §3.5).
    public mutating func greeting() -> [Action] { [.send("+OK POP3 server ready\r\n")] }

    // MARK: - Input

    mutating func receive(_ frame: POP3LineFramer.Frame) -> [Action] {
        guard !isClosed, !isSuspended else { return [] }
        switch frame {
        case .tooLong: return error("Line too long")
        case .line(let line): return receive(line: line)
        }
    }

    public mutating func receive(line: String) -> [Action] {
        if state == .saslPlain {
            state = .authorization(user: nil)
            if line == "*" { return error("Authentication cancelled") }
            return plain(response: line)
        }
        switch POP3Command.parse(line) {
        case .failure(.empty): return error("Empty command")
        case .failure(.unknownCommand): return error("Unknown command")
        case .failure(.invalidArguments(let keyword)): return error("Invalid arguments to \(keyword)")
        case .success(let command): return execute(command)
        }
    }

    private mutating func execute(_ command: POP3Command) -> [Action] {
        switch (state, command) {
        case (_, .capa):
            return [.send(capabilities())]
        case (_, .noop) where state == .transaction:
            return ok("")
        case (.authorization, .quit):
            state = .closed
            return [.send("+OK Bye\r\n"), .close]
        case (.transaction, .quit):
            let uids = deleted.sorted().map { maildrop!.messages[$0].uid }
            guard !uids.isEmpty, let maildrop else {
                state = .closed
                return [.send("+OK Bye\r\n"), .close]
            }
            isSuspended = true
            return [.update(mailboxID: maildrop.mailboxID, uids: uids)]
        case (.authorization, .stls):
            guard canStartTLS, !tls else { return error(tls ? "TLS already active" : "STLS not available") }
            isSuspended = true
            return [.send("+OK Begin TLS negotiation\r\n"), .startTLS]
        case (.authorization, .user(let name)):
            guard tls else { return error("Use STLS first") }
            state = .authorization(user: name)
            return ok("Send PASS")
        case (.authorization(let user), .pass(let password)):
            guard tls else { return error("Use STLS first") }
            guard let user else { return error("USER first") }
            state = .authorization(user: nil)
            isSuspended = true
            return [.authenticate(Credentials(username: user, password: password))]
        case (.authorization, .auth(nil, _)):
            guard tls else { return error("Use STLS first") }
            return [.send("+OK\r\nPLAIN\r\n.\r\n")]
        case (.authorization, .auth(let mechanism?, let initial)):
            guard tls else { return error("Use STLS first") }
            guard mechanism == "PLAIN" else { return error("Unsupported mechanism") }
            guard let initial else {
                state = .saslPlain
                return [.send("+ \r\n")]
            }
            return plain(response: initial)
        case (.transaction, .user), (.transaction, .pass), (.transaction, .auth), (.transaction, .stls):
            return error("Already authenticated")
        case (.transaction, _):
            return transaction(command)
        default:
            return error("Not allowed now")
        }
    }

    /// RFC 4616: `[authzid] NUL authcid NUL passwd`, base64; `=` is an empty initial response.
    private mutating func plain(response: String) -> [Action] {
        let bytes = response == "=" ? [] : Base64.decode(response)
        guard let bytes else { return error("[AUTH] Invalid response") }
        let parts = bytes.split(separator: 0, maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3 else { return error("[AUTH] Invalid response") }
        let authzid = String(decoding: parts[0], as: UTF8.self), user = String(decoding: parts[1], as: UTF8.self)
        guard !user.isEmpty, authzid.isEmpty || authzid.lowercased() == user.lowercased() else {
            return error("[AUTH] Authentication failed")
        }
        isSuspended = true
        return [.authenticate(Credentials(authorizationID: authzid, username: user, password: String(decoding: parts[2], as: UTF8.self)))]
    }

    private func capabilities() -> String {
        var lines = ["+OK Capability list follows", "TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING"]
        if tls, state != .transaction { lines += ["USER", "SASL PLAIN"] }
        if canStartTLS, !tls, state != .transaction { lines.append("STLS") }
        return lines.map { $0 + "\r\n" }.joined() + ".\r\n"
    }

    // MARK: - TRANSACTION (RFC 1939 §5)

    private mutating func transaction(_ command: POP3Command) -> [Action] {
        guard let maildrop else { return error("Not allowed now") }
        let live = maildrop.messages.indices.filter { !deleted.contains($0) }
        func message(_ number: Int) -> Int? {
            let index = number - 1
            return maildrop.messages.indices.contains(index) && !deleted.contains(index) ? index : nil
        }
        switch command {
        case .stat:
            return ok("\(live.count) \(live.reduce(0) { $0 + maildrop.messages[$1].size })")
        case .list(nil):
            return [.send("+OK \(live.count) messages\r\n" + live.map { "\($0 + 1) \(maildrop.messages[$0].size)\r\n" }.joined() + ".\r\n")]
        case .list(let number?):
            guard let index = message(number) else { return error("No such message") }
            return ok("\(number) \(maildrop.messages[index].size)")
        case .uidl(nil):
            return [.send("+OK\r\n" + live.map { "\($0 + 1) \(maildrop.uniqueID($0))\r\n" }.joined() + ".\r\n")]
        case .uidl(let number?):
            guard let index = message(number) else { return error("No such message") }
            return ok("\(number) \(maildrop.uniqueID(index))")
        case .retr(let number):
            guard let index = message(number) else { return error("No such message") }
            isSuspended = true
            return [.retrieve(maildrop.messages[index], lines: nil)]
        case .top(let number, let lines):
            guard let index = message(number) else { return error("No such message") }
            isSuspended = true
            return [.retrieve(maildrop.messages[index], lines: lines)]
        case .dele(let number):
            guard let index = message(number) else { return error("No such message") }
            deleted.insert(index)
            return ok("Message \(number) deleted")
        case .rset:
            deleted.removeAll()
            return ok("\(maildrop.messages.count) messages")
        case .noop:
            return ok("")
        default:
            return error("Not allowed now")
        }
    }

    // MARK: - Results of asynchronous work

    public mutating func tlsEstablished() {
        tls = true
        isSuspended = false
        state = .authorization(user: nil)   // RFC 2595 §4: forget what was said before TLS
    }

    public mutating func authenticationCompleted(_ result: AuthenticationResult) -> [Action] {
        switch result {
        case .success(let identity):
            return [.openMaildrop(user: identity)]
        case .invalidCredentials:
            isSuspended = false
            authFailures += 1
            if authFailures >= limits.maxAuthFailures {
                state = .closed
                return [.send("-ERR [AUTH] Authentication failed, closing\r\n"), .close]
            }
            return error("[AUTH] Authentication failed")
        case .temporaryFailure:
            isSuspended = false
            return error("[SYS/TEMP] Try again later")
        }
    }

    public mutating func maildropOpened(_ result: Result<Maildrop, MaildropFailure>) -> [Action] {
        isSuspended = false
        switch result {
        case .success(let drop):
            maildrop = drop
            state = .transaction
            return ok("\(drop.messages.count) messages (\(drop.messages.reduce(0) { $0 + $1.size }) octets)")
        case .failure(.inUse):
            return error("[IN-USE] Mailbox in use by another session")
        case .failure(.unavailable):
            return error("[SYS/TEMP] Mailbox unavailable, try again later")
        }
    }

    public mutating func retrievalCompleted() {
        isSuspended = false
    }

    /// QUIT's UPDATE state finished (RFC 1939 §6): `+OK`, or `-ERR` when not every marked message
    /// could be removed; the session ends either way.
    public mutating func updateCompleted(_ success: Bool) -> [Action] {
        isSuspended = false
        state = .closed
        return [.send(success ? "+OK Bye\r\n" : "-ERR [SYS/TEMP] Some deleted messages not removed\r\n"), .close]
    }

    /// The idle timer fired (RFC 1939 §3 autologout: no UPDATE).
    public mutating func timedOut() -> [Action] {
        state = .closed
        return [.send("-ERR Idle timeout, closing\r\n"), .close]
    }

    // MARK: - Replies

    private func ok(_ text: String) -> [Action] { [.send(text.isEmpty ? "+OK\r\n" : "+OK \(text)\r\n")] }

    private mutating func error(_ text: String) -> [Action] {
        errors += 1
        if errors >= limits.maxErrors {
            state = .closed
            return [.send("-ERR Too many errors, closing\r\n"), .close]
        }
        return [.send("-ERR \(text)\r\n")]
    }
}
