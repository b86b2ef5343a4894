#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS
import SMTPCore

/// What the POP3 sessions of one server share.
public struct POP3Services: Sendable {
    public var store: any MailboxStore
    public var authenticator: any Authenticator
    public var locks: MaildropLocks
    public var logger: Logger
    /// Where message files are read (never on an event loop).
    public var threadPool: NIOThreadPool

    public init(store: any MailboxStore, authenticator: any Authenticator, locks: MaildropLocks = MaildropLocks(),
                logger: Logger = Logger(label: "mailnode.pop3"), threadPool: NIOThreadPool = .singleton) {
        self.store = store
        self.authenticator = authenticator
        self.locks = locks
        self.logger = logger
        self.threadPool = threadPool
    }
}

/// One POP3 session per user at a time on this node (RFC 1939 §8: the maildrop is locked from
/// PASS to QUIT); a second login gets `-ERR [IN-USE]` (RFC 2449 §8.1.2).
public final class MaildropLocks: Sendable {
    private let held = NIOLockedValueBox<Set<String>>([])

    public init() {}

    func acquire(_ user: String) -> Bool { held.withLockedValue { $0.insert(user).inserted } }
    func release(_ user: String) { _ = held.withLockedValue { $0.remove(user) } }
}

/// Performs a ``POP3Session``'s actions on a channel: sockets, timers, TLS, and the
/// asynchronous work (authentication, store queries) with their results fed back on the event
/// loop. Message bodies are read from their files in 64 KiB chunks on the thread pool, each
/// chunk written before the next is read. One instance per connection, confined to its loop.
final class POP3ServerHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var session: POP3Session
    private var framer: POP3LineFramer
    private let services: POP3Services
    private let tlsContext: NIOSSLContext?
    private let listenerName: String
    private var logger: Logger
    private var inbound = ByteBuffer()
    private var context: ChannelHandlerContext?
    private var started = false
    private var lockedUser: String?
    private var lastActivity = NIODeadline.now()
    private var idleTimer: Scheduled<Void>?
    private let sessionID: String
    static let chunkSize = 64 * 1024
    /// Input held while the session waits (a RETR streaming, a login being checked); beyond it
    /// the socket is not read until the session has caught up.
    static let maxBufferedInput = 64 * 1024
    private var readHeld = false

    init(session: POP3Session, services: POP3Services, tlsContext: NIOSSLContext?, listenerName: String) {
        self.session = session
        self.framer = POP3LineFramer(maxLineLength: session.limits.maxLineLength)
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
        releaseLock()
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
        releaseLock()
        logger.info("disconnect")
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // After QUIT many clients close without TLS close_notify: not worth a notice.
        logger.log(level: session.isClosed ? .debug : .notice, "connection error", metadata: ["error": "\(error)"])
        context.close(promise: nil)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let tlsEvent = event as? TLSUserEvent, case .handshakeCompleted = tlsEvent {
            logger.debug("tls established")
            if session.isSuspended {   // STLS, not the implicit-TLS handshake
                session.tlsEstablished()
                process(context)
            }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    private func releaseLock() {
        if let user = lockedUser {
            services.locks.release(user)
            lockedUser = nil
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
        while started, !session.isSuspended, !session.isClosed, let frame = framer.next(&inbound) {
            if case .line(let line) = frame {
                let keyword = line.prefix { $0 != " " }.uppercased()
                logger.trace("command", metadata: ["verb": "\(keyword.count <= 4 ? keyword : "?")"])
            }
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

    private func perform(_ actions: [POP3Session.Action], context: ChannelHandlerContext) {
        for action in actions { perform(action, context: context) }
    }

    private func perform(_ action: POP3Session.Action, context: ChannelHandlerContext) {
        switch action {
        case .send(let text):
            if text.hasPrefix("-ERR") { logger.info("reply", metadata: ["reply": "\(text.prefix { $0 != "\r" })"]) }
            context.write(wrapOutboundOut(context.channel.allocator.buffer(string: text)), promise: nil)

        case .close:
            let promise = context.eventLoop.makePromise(of: Void.self)
            context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(capacity: 0)), promise: promise)
            promise.futureResult.assumeIsolated().whenComplete { _ in context.close(promise: nil) }

        case .startTLS:
            context.flush()
            inbound.clear()   // RFC 2595 §4 / the STARTTLS injection bug: drop plaintext behind STLS
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
                return handler.session.authenticationCompleted(result)
            }

        case .openMaildrop(let user):
            let services = self.services
            guard services.locks.acquire(user) else {
                logger.notice("maildrop in use", metadata: ["user": "\(user)"])
                perform(session.maildropOpened(.failure(.inUse)), context: context)
                return
            }
            lockedUser = user
            let logger = self.logger
            run(context, { () -> Result<Maildrop, MaildropFailure> in
                do {
                    guard let inbox = try await services.store.mailbox(user: user, name: "INBOX") else { return .failure(.unavailable) }
                    let messages = try await services.store.messages(in: inbox.id)
                    return .success(Maildrop(user: user, mailboxID: inbox.id, uidValidity: inbox.uidValidity, messages: messages))
                } catch {
                    logger.error("cannot open maildrop", metadata: ["user": "\(user)", "error": "\(error)"])
                    return .failure(.unavailable)
                }
            }) { handler, result in
                if case .failure = result { handler.releaseLock() }
                if case .success(let drop) = result {
                    handler.logger[metadataKey: "user"] = "\(user)"
                    handler.logger.info("maildrop open", metadata: ["messages": "\(drop.messages.count)"])
                }
                return handler.session.maildropOpened(result)
            }

        case .retrieve(let message, let lines):
            retrieve(message, lines: lines, context: context)

        case .update(let mailboxID, let uids):
            let store = services.store
            let logger = self.logger
            run(context, { () -> Bool in
                do {
                    let removed = try await store.expunge(uids, from: mailboxID)
                    logger.info("deleted at QUIT", metadata: ["messages": "\(removed)"])
                    return true
                } catch {
                    logger.error("cannot delete at QUIT", metadata: ["error": "\(error)"])
                    return false
                }
            }) { handler, success in handler.session.updateCompleted(success) }
        }
    }

    /// Runs `work` off the event loop, then feeds its result to the session on the event loop.
    private func run<T: Sendable>(_ context: ChannelHandlerContext, _ work: @escaping @Sendable () async -> T,
                                  then complete: @escaping (POP3ServerHandler, T) -> [POP3Session.Action]) {
        context.flush()
        let promise = context.eventLoop.makePromise(of: T.self)
        promise.completeWithTask(work)
        promise.futureResult.assumeIsolated().whenSuccess { [weak self] value in
            guard let self, let context = self.context, context.channel.isActive else { return }
            self.perform(complete(self, value), context: context)
            self.process(context)
        }
    }

    // MARK: - RETR / TOP

    private func retrieve(_ message: StoredMessage, lines: Int?, context: ChannelHandlerContext) {
        let path = services.store.bodyPath(message.bodyID)
        let pool = services.threadPool
        let loop = context.eventLoop
        pool.runIfActive(eventLoop: loop) { () throws -> Int32 in
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw StoreFileError(operation: "open", path: path, code: errno) }
            return fd
        }.assumeIsolated().whenComplete { [weak self] result in
            guard let self, let context = self.context else {
                if case .success(let fd) = result { Self.close(fd, pool: pool, loop: loop) }
                return
            }
            switch result {
            case .failure(let error):
                self.logger.error("cannot read message", metadata: ["uid": "\(message.uid)", "error": "\(error)"])
                context.write(self.wrapOutboundOut(context.channel.allocator.buffer(string: "-ERR [SYS/TEMP] Message unavailable\r\n")),
                              promise: nil)
                self.session.retrievalCompleted()
                self.process(context)
            case .success(let fd):
                let status = lines == nil ? "+OK \(message.size) octets\r\n" : "+OK\r\n"
                context.write(self.wrapOutboundOut(context.channel.allocator.buffer(string: status)), promise: nil)
                self.stream(fd: fd, offset: 0, encoder: POP3MessageEncoder(bodyLines: lines), context: context)
            }
        }
    }

    /// Reads the next chunk on the thread pool, writes it dot-stuffed, and continues once the
    /// write completed (back-pressure: one chunk in flight per session).
    private func stream(fd: Int32, offset: Int64, encoder: POP3MessageEncoder, context: ChannelHandlerContext) {
        let pool = services.threadPool
        let loop = context.eventLoop
        let size = Self.chunkSize
        pool.runIfActive(eventLoop: loop) { () throws -> ByteBuffer in
            var buffer = ByteBufferAllocator().buffer(capacity: size)
            _ = try buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: size) { pointer -> Int in
                while true {
                    let count = pread(fd, pointer.baseAddress!, size, off_t(offset))
                    if count >= 0 { return count }
                    if errno != EINTR { throw StoreFileError(operation: "read", path: "fd \(fd)", code: errno) }
                }
            }
            return buffer
        }.assumeIsolated().whenComplete { [weak self] result in
            var encoder = encoder
            guard let self, let context = self.context, context.channel.isActive else {
                Self.close(fd, pool: pool, loop: loop)
                return
            }
            var out = context.channel.allocator.buffer(capacity: Self.chunkSize + 1024)
            switch result {
            case .success(let chunk) where chunk.readableBytes > 0 && !encoder.done:
                encoder.encode(chunk, into: &out)
                let next = offset + Int64(chunk.readableBytes)
                let promise = context.eventLoop.makePromise(of: Void.self)
                context.writeAndFlush(self.wrapOutboundOut(out), promise: promise)
                promise.futureResult.assumeIsolated().whenComplete { [weak self] written in
                    guard let self, let context = self.context, case .success = written else {
                        Self.close(fd, pool: pool, loop: loop)
                        return
                    }
                    self.lastActivity = .now()
                    self.stream(fd: fd, offset: next, encoder: encoder, context: context)
                }
            case .success:
                Self.close(fd, pool: pool, loop: loop)
                encoder.finish(into: &out)
                context.write(self.wrapOutboundOut(out), promise: nil)
                self.session.retrievalCompleted()
                self.process(context)
            case .failure(let error):
                // The +OK line is out: the response cannot be ended honestly. Close.
                Self.close(fd, pool: pool, loop: loop)
                self.logger.error("message read failed mid-response, closing", metadata: ["error": "\(error)"])
                context.close(promise: nil)
            }
        }
    }

    /// Closes a message file on the thread pool.
    private static func close(_ fd: Int32, pool: NIOThreadPool, loop: any EventLoop) {
        _ = pool.runIfActive(eventLoop: loop) { BodyFiles.closeFile(fd) }
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
extension POP3ServerHandler: Sendable {}
