import Logging
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS
import SMTPCore

/// What the IMAP sessions of one server share.
public struct IMAPServices: Sendable {
    public var store: any MailboxStore
    public var authenticator: any Authenticator
    /// DM35 limits (APPEND, COPY, GETQUOTA).
    public var quota: QuotaLimits
    public var logger: Logger
    /// Where message files are read (never on an event loop).
    public var threadPool: NIOThreadPool

    public init(store: any MailboxStore, authenticator: any Authenticator, quota: QuotaLimits = QuotaLimits(),
                logger: Logger = Logger(label: "mailnode.imap"), threadPool: NIOThreadPool = .singleton) {
        self.store = store
        self.authenticator = authenticator
        self.quota = quota
        self.logger = logger
        self.threadPool = threadPool
    }

    var commands: IMAPMailboxCommands { IMAPMailboxCommands(store: store, quota: quota, threadPool: threadPool, logger: logger) }
}

/// Performs an ``IMAPSession``'s actions on a channel: sockets, timers, TLS, authentication and
/// the store commands (run as tasks off the event loop, their untagged responses written with
/// back-pressure, their results fed back on the loop), and IDLE's change notifications. One
/// instance per connection, confined to its loop.
final class IMAPServerHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var session: IMAPSession
    private var framer: IMAPCommandFramer
    private let services: IMAPServices
    private let tlsContext: NIOSSLContext?
    private let listenerName: String
    private var logger: Logger
    private var inbound = ByteBuffer()
    private var context: ChannelHandlerContext?
    private var started = false
    private var lastActivity = NIODeadline.now()
    private var idleTimer: Scheduled<Void>?
    private var watching: MailboxChanges.Token?
    /// The body file of a large APPEND being received.
    private var appendWriter: (any BodyWriter)?
    private let sessionID: String
    /// Input held while the session waits (a command running, a login being checked); beyond it
    /// the socket is not read until the session has caught up.
    static let maxBufferedInput = 256 * 1024
    private var readHeld = false

    init(session: IMAPSession, services: IMAPServices, tlsContext: NIOSSLContext?, listenerName: String) {
        self.session = session
        self.framer = IMAPCommandFramer(limits: session.limits)
        self.services = services
        self.tlsContext = tlsContext
        self.listenerName = listenerName
        var generator = SystemRandomNumberGenerator()
        sessionID = String(generator.next() & 0xFFFF_FFFF_FFFF, radix: 36, uppercase: true)
        var logger = services.logger
        logger[metadataKey: "session"] = "\(sessionID)"
        logger[metadataKey: "listener"] = "\(listenerName)"
        self.logger = logger
    }

    // MARK: - Lifecycle

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive { begin(context) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        idleTimer?.cancel()
        stopWatching()
        cancelAppend()
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        begin(context)
        context.fireChannelActive()
    }

    private func begin(_ context: ChannelHandlerContext) {
        guard !started else { return }
        started = true
        logger[metadataKey: "client"] = "\(context.channel.remoteAddress?.ipAddress ?? "-")"
        logger.info("connect")
        perform(session.greeting(), context: context)
        context.flush()
        armIdleTimer(context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        idleTimer?.cancel()
        stopWatching()
        logger.info("disconnect")
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // After LOGOUT many clients close without TLS close_notify: not worth a notice.
        logger.log(level: session.isClosed ? .debug : .notice, "connection error", metadata: ["error": "\(error)"])
        context.close(promise: nil)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let tlsEvent = event as? TLSUserEvent, case .handshakeCompleted = tlsEvent {
            logger.debug("tls established")
            if session.isSuspended {   // STARTTLS, not the implicit-TLS handshake
                session.tlsEstablished()
                process(context)
            }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    /// Removes a half-received APPEND's body file.
    private func cancelAppend() {
        guard let writer = appendWriter else { return }
        appendWriter = nil
        Task { await writer.abort() }
    }

    private func stopWatching() {
        if let token = watching {
            services.store.changes.cancel(token)
            watching = nil
        }
    }

    // MARK: - Input

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        guard !session.isClosed else { return }
        if inbound.readableBytes == 0 { inbound = bytes } else { inbound.writeBuffer(&bytes) }
        lastActivity = .now()
        process(context)
    }

    /// Runs the session over buffered input until it suspends, closes or needs more bytes.
    private func process(_ context: ChannelHandlerContext) {
        while started, !session.isSuspended, !session.isClosed {
            framer.linesOnly = session.wantsLine
            guard let frame = framer.next(&inbound) else { break }
            perform(session.receive(frame), context: context)
        }
        if inbound.readableBytes == 0 { inbound.clear() } else if inbound.readerIndex > 65_536 { inbound.discardReadBytes() }
        context.flush()
        if readHeld, inbound.readableBytes < Self.maxBufferedInput {
            readHeld = false
            context.read()
        }
    }

    // MARK: - Back-pressure

    func read(context: ChannelHandlerContext) {
        if inbound.readableBytes >= Self.maxBufferedInput {
            readHeld = true
        } else {
            context.read()
        }
    }

    // MARK: - Actions

    private func perform(_ actions: [IMAPSession.Action], context: ChannelHandlerContext) {
        for action in actions { perform(action, context: context) }
    }

    private func perform(_ action: IMAPSession.Action, context: ChannelHandlerContext) {
        switch action {
        case .send(let text):
            if let status = Self.failureStatus(text) { logger.info("reply", metadata: ["reply": "\(status)"]) }
            context.write(wrapOutboundOut(context.channel.allocator.buffer(string: text)), promise: nil)

        case .close:
            stopWatching()
            let promise = context.eventLoop.makePromise(of: Void.self)
            context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(capacity: 0)), promise: promise)
            promise.futureResult.assumeIsolated().whenComplete { _ in context.close(promise: nil) }

        case .startTLS:
            context.flush()
            inbound.clear()   // RFC 3501 §6.2.1 / the STARTTLS injection bug: drop plaintext behind STARTTLS
            framer = IMAPCommandFramer(limits: session.limits)
            guard let tlsContext else { context.close(promise: nil); return }
            do {
                try context.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tlsContext), position: .first)
            } catch {
                logger.error("cannot start TLS", metadata: ["error": "\(error)"])
                context.close(promise: nil)
            }

        case .authenticate(let credentials):
            let authenticator = services.authenticator
            var contextForAuth = SessionContext(sessionID: sessionID, remoteAddress: context.channel.remoteAddress,
                                                localAddress: context.channel.localAddress, listenerName: listenerName)
            contextForAuth.tls = TLSDetails(version: "TLS", implicit: false)
            let sessionContext = contextForAuth
            let user = credentials.username
            run(context, { await authenticator.authenticate(credentials, session: sessionContext) }) { handler, result in
                handler.logger.info("login", metadata: ["user": "\(user)", "result": "\(result)"])
                if case .success(let identity) = result { handler.logger[metadataKey: "user"] = "\(identity)" }
                return handler.session.authenticationCompleted(result)
            }

        case .execute(let request):
            let commands = services.commands
            let writer = ChannelResponseWriter(channel: context.channel)
            logger.trace("command", metadata: ["verb": "\(request.command?.verb ?? "IDLE report")"])
            run(context, { await commands.run(request, writer: writer) }) { handler, result in
                handler.session.commandCompleted(result)
            }

        case .watch(let mailboxID):
            stopWatching()
            let loop = context.eventLoop
            let handler = NIOLoopBound(self, eventLoop: loop)
            watching = services.store.changes.observe(mailboxID) { _ in
                loop.execute { handler.value.mailboxChanged() }
            }

        case .stopWatching:
            stopWatching()

        case .beginAppend(let append):
            let commands = services.commands
            let store = services.store
            run(context, { () -> Result<any BodyWriter, AppendRefusal> in
                if let refusal = await commands.prepareAppend(append) { return .failure(AppendRefusal(text: refusal)) }
                do {
                    return .success(try store.stage())
                } catch {
                    return .failure(AppendRefusal(text: "NO [UNAVAILABLE] Try again later"))
                }
            }) { handler, result in
                switch result {
                case .success(let writer):
                    handler.appendWriter = writer
                    return handler.session.appendStarted(refusal: nil)
                case .failure(let refusal):
                    return handler.session.appendStarted(refusal: refusal.text)
                }
            }

        case .appendData(let data):
            guard let writer = appendWriter else {
                perform(session.appendDataWritten(false), context: context)
                return
            }
            let logger = self.logger
            run(context, { () -> Bool in
                do {
                    try await writer.write(data)
                    return true
                } catch {
                    logger.error("append write failed", metadata: ["error": "\(error)"])
                    return false
                }
            }) { handler, written in handler.session.appendDataWritten(written) }

        case .finishAppend(let append, let selected):
            guard let writer = appendWriter else { return }
            appendWriter = nil
            let commands = services.commands
            let output = ChannelResponseWriter(channel: context.channel)
            let logger = self.logger
            run(context, { () -> IMAPCommandResult in
                do {
                    let staged = try await writer.finish()
                    return await commands.appendStaged(staged, append, selected: selected, writer: output)
                } catch {
                    logger.error("append failed", metadata: ["error": "\(error)"])
                    let full = (error as? StoreFileError)?.isDiskFull == true
                    return IMAPCommandResult(tagged: "\(append.tag) " + (full ? "NO [LIMIT] Storage full, try later" : "NO [UNAVAILABLE] Try again later"),
                                             selected: selected)
                }
            }) { handler, result in handler.session.commandCompleted(result) }

        case .cancelAppend:
            cancelAppend()

        case .abandonLiteral:
            framer.abandonLiteral()
        }
    }

    /// A notification from the store (on this loop): IDLE reports it.
    private func mailboxChanged() {
        guard let context, context.channel.isActive else { return }
        perform(session.mailboxChanged(), context: context)
        context.flush()
    }

    /// `tag NO …` / `tag BAD …` for the log (never a command's arguments).
    static func failureStatus(_ text: String) -> Substring? {
        let line = text.prefix { $0 != "\r" }
        let words = line.split(separator: " ", maxSplits: 2)
        guard words.count >= 2, words[1] == "NO" || words[1] == "BAD" else { return nil }
        return line
    }

    /// Runs `work` off the event loop, then feeds its result to the session on the event loop.
    private func run<T: Sendable>(_ context: ChannelHandlerContext, _ work: @escaping @Sendable () async -> T,
                                  then complete: @escaping (IMAPServerHandler, T) -> [IMAPSession.Action]) {
        context.flush()
        let promise = context.eventLoop.makePromise(of: T.self)
        promise.completeWithTask(work)
        promise.futureResult.assumeIsolated().whenSuccess { [weak self] value in
            guard let self, let context = self.context, context.channel.isActive else { return }
            self.lastActivity = .now()
            self.perform(complete(self, value), context: context)
            self.process(context)
        }
    }

    // MARK: - Idle timeout

    private func armIdleTimer(_ context: ChannelHandlerContext) {
        idleTimer?.cancel()
        let deadline = lastActivity + .seconds(session.limits.idleTimeout)
        idleTimer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [weak self] in
            guard let self, let context = self.context, context.channel.isActive else { return }
            if NIODeadline.now() >= self.lastActivity + .seconds(self.session.limits.idleTimeout), !self.session.isSuspended {
                self.logger.info("timeout")
                self.perform(self.session.timedOut(), context: context)
                context.flush()
            } else {
                self.armIdleTimer(context)
            }
        }
    }
}

@available(*, unavailable)
extension IMAPServerHandler: Sendable {}

/// Why a large APPEND was refused before its message came (the response after the tag).
struct AppendRefusal: Error, Sendable {
    let text: String
}

/// Writes a command's untagged responses to the connection, each write awaited (one piece of
/// about 64 KiB in flight per session).
struct ChannelResponseWriter: IMAPResponseWriter {
    let channel: any Channel

    func write(_ bytes: [UInt8]) async throws {
        try await channel.writeAndFlush(channel.allocator.buffer(bytes: bytes)).get()
    }
}
