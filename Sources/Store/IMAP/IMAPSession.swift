import Foundation
import NIOCore
import SMTPCore

/// The mailbox a session has selected, as the session last told its client (RFC 3501 §2.3.1.2:
/// message sequence numbers are positions in ``messages``, 1-based).
public struct SelectedMailbox: Sendable, Hashable {
    public var info: MailboxInfo
    /// EXAMINE: no flag changes, no expunges.
    public var readOnly: Bool
    public var messages: [StoredMessage]
    /// Messages gone from the store whose EXPUNGE was held back (during FETCH, STORE, SEARCH).
    public var pendingExpunges = false

    public init(info: MailboxInfo, readOnly: Bool, messages: [StoredMessage]) {
        self.info = info
        self.readOnly = readOnly
        self.messages = messages
    }
}

/// A command that needs the mailbox store, with what it runs against; ``IMAPMailboxCommands``
/// runs it and the session takes the ``IMAPCommandResult``.
public struct IMAPRequest: Sendable, Hashable {
    public var tag: String
    /// nil: only report changes of the selected mailbox (IDLE after a notification).
    public var command: IMAPCommand?
    public var user: String
    public var selected: SelectedMailbox?

    public init(tag: String, command: IMAPCommand?, user: String, selected: SelectedMailbox?) {
        self.tag = tag
        self.command = command
        self.user = user
        self.selected = selected
    }
}

/// An APPEND whose message streams to a body file (a literal over ``IMAPLimits/maxLiteralSize``).
public struct IMAPAppend: Sendable, Hashable {
    public var tag: String
    public var user: String
    public var mailbox: String
    public var flags: [String]
    public var date: Date?
    /// Octets of the message literal.
    public var size: Int
}

/// What a store command did: its tagged response (untagged ones are written while it runs) and
/// the selected mailbox afterwards.
public struct IMAPCommandResult: Sendable, Hashable {
    /// The tagged status line without CRLF; nil for a change report during IDLE.
    public var tagged: String?
    public var selected: SelectedMailbox?
    /// The session ends after the response (a broken store, say).
    public var close = false

    public init(tagged: String?, selected: SelectedMailbox?, close: Bool = false) {
        self.tagged = tagged
        self.selected = selected
        self.close = close
    }
}

/// One IMAP session as a value-type state machine ([RFC 3501 §3](https://www.rfc-editor.org/rfc/rfc3501#section-3):
/// not authenticated → authenticated ⇄ selected → logout). The handler feeds it frames and the
/// results of asynchronous work and performs the actions it returns; tested without sockets.
///
/// TLS before credentials (RFC 8314, [RFC 9051 §6.2.3](https://www.rfc-editor.org/rfc/rfc9051#section-6.2.3)):
/// on the plain listener CAPABILITY says `STARTTLS LOGINDISABLED`, and LOGIN/AUTHENTICATE get
/// `NO [PRIVACYREQUIRED]` until STARTTLS. A bad command gets `BAD` and the session goes on, up
/// to ``IMAPLimits/maxErrors``.
public struct IMAPSession: Sendable {
    public enum Action: Sendable, Hashable {
        /// Write these octets (complete response lines).
        case send(String)
        /// Insert TLS now; the handler drops any input buffered behind STARTTLS.
        case startTLS
        case authenticate(Credentials)
        /// Run this with ``IMAPMailboxCommands``, then call ``commandCompleted(_:)``.
        case execute(IMAPRequest)
        /// IDLE began: call ``mailboxChanged()`` when this mailbox changes.
        case watch(mailboxID: Int64)
        /// IDLE ended.
        case stopWatching
        /// A large APPEND begins: check the mailbox and quota, open a body writer, then call
        /// ``appendStarted(refusal:)``.
        case beginAppend(IMAPAppend)
        /// Write these octets of the message, then call ``appendDataWritten(_:)``.
        case appendData(ByteBuffer)
        /// The message is complete: make it durable and file it, then call ``commandCompleted(_:)``.
        case finishAppend(IMAPAppend, selected: SelectedMailbox?)
        /// Throw away what the body writer holds.
        case cancelAppend
        /// The announced literal is refused: tell the framer (``IMAPCommandFramer/abandonLiteral()``).
        case abandonLiteral
        case close
    }

    enum State: Sendable, Hashable {
        case notAuthenticated
        /// AUTHENTICATE PLAIN sent `+ `; the next line is the response.
        case authenticating(tag: String)
        case authenticated(user: String)
        /// In IDLE until `DONE` (RFC 2177 §3).
        case idling(tag: String, user: String)
        /// Receiving a streamed APPEND's message.
        case appending(IMAPAppend)
        case logout
    }

    public let limits: IMAPLimits
    /// STARTTLS can be offered (a plain listener with a certificate).
    public let canStartTLS: Bool
    private(set) var state: State = .notAuthenticated
    public private(set) var tls: Bool
    /// Waiting for asynchronous work: the handler keeps further input buffered.
    public private(set) var isSuspended = false
    public private(set) var selected: SelectedMailbox?
    /// The tag of the command being executed or authenticated.
    private var pendingTag: String?
    /// A change arrived during IDLE while a report was running.
    private var changePending = false
    private var errors = 0
    private var authFailures = 0
    /// Writing a streamed APPEND failed: the rest of its octets are dropped, the answer is NO.
    private var appendFailed = false

    public init(limits: IMAPLimits = .init(), implicitTLS: Bool, canStartTLS: Bool) {
        self.limits = limits
        self.tls = implicitTLS
        self.canStartTLS = canStartTLS && !implicitTLS
    }

    public var isClosed: Bool { state == .logout }
    /// In IDLE or AUTHENTICATE: the next input is a plain line, not a command.
    var wantsLine: Bool {
        switch state {
        case .authenticating, .idling: true
        default: false
        }
    }

    var user: String? {
        switch state {
        case .authenticated(let user), .idling(_, let user): user
        case .appending(let append): append.user
        default: nil
        }
    }

    /// RFC 3501 §7.1.1: generic, no software name (DESIGN.md §3.5), capabilities included.
    public mutating func greeting() -> [Action] { [.send("* OK [CAPABILITY \(capabilities)] IMAP server ready\r\n")] }

    /// What CAPABILITY announces in the current state.
    var capabilities: String {
        var names = ["IMAP4rev1", "LITERAL+", "ID", "ENABLE", "IDLE", "NAMESPACE"]
        if !tls {
            if canStartTLS { names.append("STARTTLS") }
            names.append("LOGINDISABLED")   // RFC 3501 §6.2.3
        } else if user == nil {
            names += ["AUTH=PLAIN", "SASL-IR"]
        }
        names += ["UIDPLUS", "MOVE", "UNSELECT", "SPECIAL-USE", "CHILDREN", "QUOTA", "QUOTA=RES-STORAGE", "QUOTA=RES-MESSAGE"]
        return names.joined(separator: " ")
    }

    // MARK: - Input

    mutating func receive(_ frame: IMAPCommandFramer.Frame) -> [Action] {
        guard !isClosed, !isSuspended else { return [] }
        switch frame {
        case .continuationNeeded:
            return [.send("+ Ready for literal data\r\n")]
        case .tooLong(let tag):
            return bad(tag, "Command line too long")
        case .literalTooLarge(let tag, _):
            // RFC 7888 §4: [TOOBIG] for a literal over the limit; its octets were not read.
            return refuse(tag, "NO [TOOBIG] Literal too large")
        case .line(let line):
            return receive(line: line)
        case .appendBegin(let prefix, let size, let synchronizing):
            return beginAppend(prefix: prefix, size: size, synchronizing: synchronizing)
        case .appendData(let data):
            guard case .appending = state, !appendFailed else { return [] }
            isSuspended = true
            return [.appendData(data)]
        case .appendEnd(let trailing):
            guard case .appending(let append) = state else { return [] }
            state = .authenticated(user: append.user)
            if appendFailed {
                appendFailed = false
                return [.cancelAppend, .send("\(append.tag) NO [UNAVAILABLE] Message not stored, try again later\r\n")]
            }
            guard trailing.isEmpty else { return [.cancelAppend] + bad(append.tag, "One message per APPEND") }
            isSuspended = true
            pendingTag = append.tag
            return [.finishAppend(append, selected: selected)]
        case .command(let bytes):
            switch IMAPParser.parse(bytes, maxNestingDepth: limits.maxNestingDepth) {
            case .success(let command): return execute(command)
            case .failure(let error): return bad(error.tag, error.message)
            }
        }
    }

    /// A whole command line (tests, and what the framer hands over).
    public mutating func receive(command line: String) -> [Action] { receive(.command(Array(line.utf8))) }

    /// A plain line: an AUTHENTICATE response or IDLE's DONE.
    public mutating func receive(line: String) -> [Action] {
        switch state {
        case .authenticating(let tag):
            state = .notAuthenticated
            if line == "*" { return bad(tag, "Authentication cancelled") }   // RFC 3501 §6.2.2
            return plain(tag: tag, response: line)
        case .idling(let tag, let user):
            state = .authenticated(user: user)
            guard line.uppercased() == "DONE" else { return [.stopWatching] + bad(tag, "Expected DONE") }
            return [.stopWatching, .send("\(tag) OK IDLE terminated\r\n")]
        default:
            return receive(command: line)
        }
    }

    private mutating func execute(_ tagged: TaggedCommand) -> [Action] {
        let tag = tagged.tag
        switch (tagged.command, state) {
        case (.capability, _):
            return [.send("* CAPABILITY \(capabilities)\r\n\(tag) OK CAPABILITY completed\r\n")]
        case (.logout, _):
            state = .logout
            return [.send("* BYE Logging out\r\n\(tag) OK LOGOUT completed\r\n"), .close]
        case (.noop, .notAuthenticated):
            return ok(tag, "NOOP completed")
        case (.id, _):
            // RFC 2971: we say nothing about the software (DESIGN.md §3.5).
            return [.send("* ID NIL\r\n\(tag) OK ID completed\r\n")]
        case (.startTLS, .notAuthenticated):
            guard canStartTLS, !tls else { return bad(tag, tls ? "TLS already active" : "STARTTLS not available") }
            isSuspended = true
            return [.send("\(tag) OK Begin TLS negotiation now\r\n"), .startTLS]
        case (.startTLS, _):
            return bad(tag, "Already authenticated")
        case (.login(let user, let password), .notAuthenticated):
            guard tls else { return [.send("\(tag) NO [PRIVACYREQUIRED] Use STARTTLS first\r\n")] }
            pendingTag = tag
            isSuspended = true
            return [.authenticate(Credentials(username: user, password: password))]
        case (.authenticate(let mechanism, let initial), .notAuthenticated):
            guard tls else { return [.send("\(tag) NO [PRIVACYREQUIRED] Use STARTTLS first\r\n")] }
            guard mechanism == "PLAIN" else { return [.send("\(tag) NO [CANNOT] Unsupported mechanism\r\n")] }
            guard let initial else {
                state = .authenticating(tag: tag)
                return [.send("+ \r\n")]
            }
            return plain(tag: tag, response: initial)
        case (.login, _), (.authenticate, _):
            return bad(tag, "Already authenticated")
        case (.enable, .authenticated):
            return [.send("* ENABLED\r\n\(tag) OK ENABLE completed\r\n")]   // RFC 5161: nothing we enable
        case (.namespace, .authenticated):
            return [.send("* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n\(tag) OK NAMESPACE completed\r\n")]
        case (.idle, .authenticated(let user)):
            state = .idling(tag: tag, user: user)
            var actions: [Action] = [.send("+ idling\r\n")]
            if let selected { actions.append(.watch(mailboxID: selected.info.id)) }
            return actions
        case (_, .authenticated(let user)):
            if Self.needsSelection(tagged.command), selected == nil { return bad(tag, "No mailbox selected") }
            pendingTag = tag
            isSuspended = true
            return [.execute(IMAPRequest(tag: tag, command: tagged.command, user: user, selected: selected))]
        case (_, .notAuthenticated):
            return bad(tag, "Log in first")
        default:
            return bad(tag, "Not allowed now")
        }
    }

    /// A large APPEND: its command is parsed as if the literal were empty (`{0}`); the message
    /// streams once the store said it has room (RFC 3501 §6.3.11: NO [TRYCREATE] before `+`).
    private mutating func beginAppend(prefix: [UInt8], size: Int, synchronizing: Bool) -> [Action] {
        switch IMAPParser.parse(prefix + Array("{0}\r\n".utf8), maxNestingDepth: limits.maxNestingDepth) {
        case .failure(let error):
            return [.abandonLiteral] + bad(error.tag, error.message)
        case .success(let tagged):
            guard case .append(let mailbox, let flags, let date, _) = tagged.command else {
                return [.abandonLiteral] + bad(tagged.tag, "Syntax error")
            }
            guard case .authenticated(let user) = state else {
                return [.abandonLiteral] + bad(tagged.tag, user == nil ? "Log in first" : "Not allowed now")
            }
            let append = IMAPAppend(tag: tagged.tag, user: user, mailbox: mailbox, flags: flags, date: date, size: size)
            state = .appending(append)
            appendFailed = false
            appendSynchronizing = synchronizing
            isSuspended = true
            return [.beginAppend(append)]
        }
    }

    /// The literal of the APPEND being started is a synchronising one (`+` goes out when it may come).
    private var appendSynchronizing = false

    /// Commands of the selected state (RFC 3501 §6.4).
    static func needsSelection(_ command: IMAPCommand) -> Bool {
        switch command {
        case .check, .close, .unselect, .expunge, .search, .fetch, .store, .copy, .move: true
        default: false
        }
    }

    /// RFC 4616: `[authzid] NUL authcid NUL passwd`, base64; `=` is an empty initial response (RFC 4959).
    private mutating func plain(tag: String, response: String) -> [Action] {
        let bytes = response == "=" ? [] : Base64.decode(response)
        guard let bytes else { return bad(tag, "Invalid base64") }
        let parts = bytes.split(separator: 0, maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3 else { return [.send("\(tag) NO [AUTHENTICATIONFAILED] Invalid response\r\n")] }
        let authzid = String(decoding: parts[0], as: UTF8.self), user = String(decoding: parts[1], as: UTF8.self)
        guard !user.isEmpty, authzid.isEmpty || authzid.lowercased() == user.lowercased() else {
            return [.send("\(tag) NO [AUTHENTICATIONFAILED] Authentication failed\r\n")]
        }
        pendingTag = tag
        isSuspended = true
        return [.authenticate(Credentials(authorizationID: authzid, username: user, password: String(decoding: parts[2], as: UTF8.self)))]
    }

    // MARK: - Results of asynchronous work

    public mutating func tlsEstablished() {
        tls = true
        isSuspended = false
        state = .notAuthenticated   // RFC 3501 §6.2.1: forget what was said before TLS
    }

    public mutating func authenticationCompleted(_ result: AuthenticationResult) -> [Action] {
        isSuspended = false
        let tag = pendingTag ?? "*"
        pendingTag = nil
        switch result {
        case .success(let identity):
            state = .authenticated(user: identity)
            return [.send("\(tag) OK [CAPABILITY \(capabilities)] Logged in\r\n")]
        case .invalidCredentials:
            authFailures += 1
            if authFailures >= limits.maxAuthFailures {
                state = .logout
                return [.send("\(tag) NO [AUTHENTICATIONFAILED] Authentication failed\r\n* BYE Too many failures\r\n"), .close]
            }
            return [.send("\(tag) NO [AUTHENTICATIONFAILED] Authentication failed\r\n")]
        case .temporaryFailure:
            return [.send("\(tag) NO [UNAVAILABLE] Try again later\r\n")]
        }
    }

    /// The store checked a large APPEND: nil to go on (`+` for a synchronising literal), or the
    /// response text after the tag (`NO [TRYCREATE] …`).
    public mutating func appendStarted(refusal: String?) -> [Action] {
        isSuspended = false
        guard case .appending(let append) = state else { return [] }
        guard let refusal else { return appendSynchronizing ? [.send("+ Ready for literal data\r\n")] : [] }
        state = .authenticated(user: append.user)
        return [.abandonLiteral, .send("\(append.tag) \(refusal)\r\n")]
    }

    /// A piece of a large APPEND was written (or not: the rest is dropped, the answer will be NO).
    public mutating func appendDataWritten(_ success: Bool) -> [Action] {
        isSuspended = false
        if !success, !appendFailed {
            appendFailed = true
            return [.cancelAppend]
        }
        return []
    }

    public mutating func commandCompleted(_ result: IMAPCommandResult) -> [Action] {
        isSuspended = false
        pendingTag = nil
        selected = result.selected
        var actions: [Action] = []
        if let tagged = result.tagged { actions.append(.send(tagged + "\r\n")) }
        if result.close {
            state = .logout
            actions.append(.close)
        } else if case .idling(let tag, let user) = state, changePending, selected != nil {
            changePending = false
            isSuspended = true
            actions.append(.execute(IMAPRequest(tag: tag, command: nil, user: user, selected: selected)))
        }
        return actions
    }

    /// The watched mailbox changed (IDLE): report it now, or after the report that is running.
    public mutating func mailboxChanged() -> [Action] {
        guard case .idling(let tag, let user) = state, selected != nil else { return [] }
        guard !isSuspended else {
            changePending = true
            return []
        }
        isSuspended = true
        return [.execute(IMAPRequest(tag: tag, command: nil, user: user, selected: selected))]
    }

    /// The idle timer fired (RFC 9051 §5.4 autologout).
    public mutating func timedOut() -> [Action] {
        state = .logout
        return [.send("* BYE Idle timeout, closing\r\n"), .close]
    }

    // MARK: - Replies

    private func ok(_ tag: String, _ text: String) -> [Action] { [.send("\(tag) OK \(text)\r\n")] }

    private mutating func bad(_ tag: String?, _ text: String) -> [Action] { refuse(tag, "BAD " + text) }

    /// A refused command (`BAD`, or `NO` for input over a limit): counted against ``IMAPLimits/maxErrors``.
    private mutating func refuse(_ tag: String?, _ status: String) -> [Action] {
        errors += 1
        if errors >= limits.maxErrors {
            state = .logout
            return [.send("\(tag ?? "*") \(status)\r\n* BYE Too many errors, closing\r\n"), .close]
        }
        return [.send("\(tag ?? "*") \(status)\r\n")]
    }
}
