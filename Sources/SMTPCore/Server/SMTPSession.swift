import NIOCore

/// The server side of one SMTP or LMTP session as a value-type state machine.
///
/// It owns the inbound ``SMTPFramer`` and turns bytes into ``Action``s that a channel handler
/// performs (send a reply, start TLS, run a hook, write message data, close). It never does
/// I/O itself, so every rule is testable without sockets and timeouts with a mock clock.
///
/// Asynchronous work (hooks, AUTH checks, opening and committing a message) *suspends* the
/// session: ``isSuspended`` is true until the matching completion method is called; pipelined
/// input stays in the caller's buffer meanwhile (RFC 2920 §3: replies stay in order).
public struct SMTPSession: Sendable {
    /// What the channel handler must do, in order.
    public enum Action: Sendable, Hashable {
        /// Write this reply (the handler flushes when it runs out of input or before suspending).
        case reply(Reply)
        /// Flush and close the connection.
        case close
        /// Flush, then insert TLS in front of the pipeline and drop buffered plaintext
        /// (RFC 3207 §4: nothing sent before the handshake may be acted on).
        case startTLS
        /// Run a hook, then call ``hookCompleted(_:now:)``.
        case runHook(HookCall)
        /// Check credentials, then call ``authenticationCompleted(_:now:)``.
        case authenticate(Credentials)
        /// Open a message writer, then call ``messageOpened(success:now:)``.
        case openMessage(Envelope)
        /// Append these bytes to the open message.
        case writeMessageData(ByteBuffer)
        /// Once all writes finished, commit the message, then call ``commitCompleted(_:now:)``.
        case commitMessage(MessageDataSummary)
        /// Drop the open message.
        case abortMessage
    }

    /// A hook invocation the handler must perform.
    public enum HookCall: Sendable, Hashable {
        case connected
        case helo(MailHost)
        case mailFrom(ReversePath, MailParameters)
        case rcptTo(EnvelopeRecipient, Envelope)
        case dataStart(Envelope)
        case dataEnd(Envelope, MessageDataSummary)
    }

    /// The state of the message being received.
    struct IncomingMessage: Sendable, Hashable {
        var viaBDAT: Bool
        /// A writer was opened and must be committed or aborted.
        var writerOpen: Bool
        var octets = 0
        /// When set, the data is swallowed and this reply ends it (size exceeded, open failed...).
        var discardReply: Reply?
        /// BDAT: the chunk being read is the LAST one.
        var lastChunk = false
    }

    enum Phase: Sendable, Hashable {
        /// Before the greeting (connect hook pending).
        case connecting
        /// We greeted with 554: only QUIT is answered positively (RFC 5321 §3.1).
        case refused
        /// Greeted; waiting for HELO/EHLO/LHLO.
        case awaitingHelo
        /// HELO done, no transaction.
        case ready
        /// MAIL accepted; RCPTs may follow.
        case transaction
        /// Between 354 and CRLF.CRLF, or inside a BDAT chunk.
        case receivingData
        /// The message is being committed (or a dataEnd hook runs).
        case committing
        /// A SASL exchange expects a response line.
        case authenticating(SASLExchange)
        case closed
    }

    /// What the session is waiting for when suspended.
    enum Pending: Sendable, Hashable {
        case hook(HookCall)
        case authentication
        case open(viaBDAT: Bool)
        case commit
        case startTLS
    }

    public let configuration: SMTPSessionConfiguration
    public internal(set) var context: SessionContext
    var framer: SMTPFramer
    let parser = CommandParser()

    var phase: Phase = .connecting
    var pending: Pending?
    var envelope: Envelope?
    /// The message whose data is arriving (from 354 or the first BDAT until its final reply).
    var incoming: IncomingMessage?
    /// A BDAT chunk announced while the session waits for the dataStart hook or the writer.
    var pendingChunk: (size: Int, last: Bool)?
    /// RCPT commands in the current transaction, refused ones included (DM09's hard limit).
    var recipientAttempts = 0
    var commandCount = 0
    var errorCount = 0
    var authFailures = 0
    var shutdownRequested = false
    let sessionStart: NIODeadline
    var lastActivity: NIODeadline
    /// DM33: the current message's data-rate floor (nil when off or outside a data phase).
    var dataRate: DataRateGuard?
    /// The handler stopped reading from the socket (its time does not count for DM33).
    var readsPaused = false
    /// Why ``checkTimeout(now:)`` closed the session, for the handler's log line.
    public private(set) var timeoutCause: TimeoutCause?

    /// What made a session time out.
    public enum TimeoutCause: Sendable, Hashable {
        /// No input for ``SMTPLimits/commandTimeout`` or ``SMTPLimits/dataTimeout``.
        case idle
        /// The session ran for ``SMTPLimits/maxSessionDuration``.
        case sessionDuration
        /// DM33: the data phase averaged `rate` octets per second, below `floor`, after the grace period.
        case dataRateBelowFloor(rate: Int, floor: Int, octets: Int)
    }

    public init(configuration: SMTPSessionConfiguration, context: SessionContext, now: NIODeadline) {
        self.configuration = configuration
        self.context = context
        self.context.sessionProtocol = configuration.sessionProtocol
        self.framer = SMTPFramer(configuration: .init(limits: configuration.limits,
                                                      bareLineEndings: configuration.bareLineEndings))
        self.sessionStart = now
        self.lastActivity = now
    }

    // MARK: - State queries

    /// True while an asynchronous action is outstanding; do not call ``step(_:now:)`` then.
    public var isSuspended: Bool { pending != nil }
    /// True once the session decided to close.
    public var isClosed: Bool { phase == .closed }
    /// True when the greeting was sent and no transaction or exchange is under way.
    public var isIdle: Bool {
        pending == nil && (phase == .awaitingHelo || phase == .ready || phase == .refused)
    }
    /// The current envelope (after MAIL FROM).
    public var currentEnvelope: Envelope? { envelope }

    // MARK: - Connection

    /// The connection is up: run the connect hook; the greeting follows its decision.
    public mutating func start() -> [Action] {
        pending = .hook(.connected)
        return [.runHook(.connected)]
    }

    /// The greeting (RFC 5321 §4.3.1): our name and nothing that identifies the software.
    var greeting: Reply {
        let service = configuration.sessionProtocol == .lmtp ? "LMTP" : "ESMTP"
        return Reply(.serviceReady, nil, "\(configuration.hostname) \(service) ready")
    }

    // MARK: - Input

    /// Processes at most one inbound item from `buffer`. Returns nil when more bytes are needed.
    public mutating func step(_ buffer: inout ByteBuffer, now: NIODeadline) -> [Action]? {
        precondition(pending == nil, "step called while suspended")
        guard phase != .closed, phase != .connecting else { return nil }
        guard let event = framer.next(from: &buffer) else { return nil }
        lastActivity = now
        switch event {
        case .line(let line):
            if case .authenticating(let exchange) = phase {
                return authResponse(line, exchange: exchange)
            }
            return commandLine(line)
        case .lineTooLong:
            if case .authenticating = phase {
                phase = .ready
                return error(Reply(.syntaxError, .syntaxError, "Line too long"))
            }
            return error(.lineTooLong)
        case .bareLineEnding:
            return error(Reply(.syntaxError, .syntaxError, "Bare LF not allowed, use CRLF"))
        case .messageData(let chunk):
            return messageData(chunk)
        case .messageEnd(let summary):
            return messageEnd(summary)
        }
    }

    /// The client sent bytes (used for timeouts even when the session is suspended).
    public mutating func noteActivity(now: NIODeadline) {
        lastActivity = now
    }

    // MARK: - Timeouts (RFC 5321 §4.5.3.2)

    /// When the session times out unless the client does something.
    public var deadline: NIODeadline {
        let limits = configuration.limits
        let idle: Int64 = phase == .receivingData ? limits.dataTimeout : limits.commandTimeout
        let hard = sessionStart + .seconds(limits.maxSessionDuration)
        // While we are the ones working (hook, commit), the client is not idle; during the
        // STARTTLS handshake it is the client's turn, so a stalled handshake times out normally.
        if let pending, pending != .startTLS { return hard }
        var deadline = min(lastActivity + .seconds(idle), hard)
        if let floorDeadline = activeDataRate?.deadline { deadline = min(deadline, floorDeadline) }
        return deadline
    }

    /// DM33's guard while it applies: in a data phase (between BDAT chunks too), not while the
    /// server itself works on the message.
    var activeDataRate: DataRateGuard? {
        guard pending == nil, phase == .receivingData || phase == .transaction else { return nil }
        return dataRate
    }

    /// Starts DM33's guard for a data phase, unless it runs already or the floor is off.
    mutating func startDataRateGuard(now: NIODeadline) {
        let limits = configuration.limits
        guard dataRate == nil, limits.minDataRate > 0 else { return }
        dataRate = DataRateGuard(floor: limits.minDataRate, grace: .seconds(limits.dataRateGrace), start: now,
                                 readsPaused: readsPaused)
    }

    /// The handler stopped reading from the socket (back-pressure or the bandwidth cap).
    public mutating func readingPaused(now: NIODeadline) {
        readsPaused = true
        dataRate?.readsPaused(at: now)
    }

    /// The handler reads from the socket again.
    public mutating func readingResumed(now: NIODeadline) {
        readsPaused = false
        dataRate?.readsResumed(at: now)
    }

    /// Closes the session with `421 4.4.2` if its deadline passed.
    public mutating func checkTimeout(now: NIODeadline) -> [Action] {
        guard phase != .closed, now >= deadline else { return [] }
        var actions: [Action] = []
        if incoming?.writerOpen == true { actions.append(.abortMessage) }
        if now >= sessionStart + .seconds(configuration.limits.maxSessionDuration) {
            timeoutCause = .sessionDuration
            actions.append(.reply(Reply(.serviceNotAvailable, .timeout, "Session too long, closing connection")))
        } else if let rateGuard = activeDataRate, rateGuard.isBelowFloor(at: now) {
            timeoutCause = .dataRateBelowFloor(rate: rateGuard.rate(at: now), floor: rateGuard.floor, octets: rateGuard.octets)
            actions.append(.reply(.dataRateTooLow))
        } else {
            timeoutCause = .idle
            actions.append(.reply(.timeout))
        }
        return actions + close()
    }

    // MARK: - Shutdown

    /// The server is stopping: idle sessions get `421 4.3.2` now; a session in a transaction
    /// finishes its current message first and is closed after that reply.
    public mutating func requestShutdown() -> [Action] {
        guard phase != .closed else { return [] }
        shutdownRequested = true
        if pending == nil, phase != .receivingData, phase != .committing {
            return [.reply(.shuttingDown)] + close()
        }
        return []
    }

    mutating func close() -> [Action] {
        phase = .closed
        pending = nil
        return [.close]
    }

    /// After a transaction's final reply: close if shutting down.
    mutating func closeIfShuttingDown() -> [Action] {
        guard shutdownRequested, phase != .closed else { return [] }
        return [.reply(.shuttingDown)] + close()
    }

    // MARK: - Errors

    /// A 4xx/5xx reply that counts towards the error limit (then `421` and close).
    mutating func error(_ reply: Reply) -> [Action] {
        errorCount += 1
        if errorCount >= configuration.limits.maxErrorsPerSession {
            return [.reply(reply),
                    .reply(Reply(.serviceNotAvailable, EnhancedStatusCode(4, 7, 0), "Too many errors, closing connection"))]
                + close()
        }
        return [.reply(reply)]
    }
}

extension SMTPSession {
    /// Records the peer's addresses (from the socket, or from a trusted PROXY header).
    public mutating func setAddresses(remote: SocketAddress?, local: SocketAddress?) {
        context.remoteAddress = remote
        context.localAddress = local
    }
}
