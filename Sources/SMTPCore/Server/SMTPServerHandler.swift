import Logging
import NIOCore
import NIOSSL
import NIOTLS

/// The services one listener's sessions use.
public struct SMTPServerServices: Sendable {
    public var receiver: any MessageReceiver
    public var hooks: any SessionHooks
    public var authenticator: (any Authenticator)?
    public var logger: Logger
    /// Where the server counts connections, accepted messages and what its own defenses did
    /// (DM12, DM13, DM33); share it with the hooks' ``DefenseMetrics`` users.
    public var metrics: DefenseMetrics
    /// Run each session's hook and receiver calls as tasks on its connection's own event loop
    /// (a task executor preference, SE-0417) instead of the global executor (default off).
    ///
    /// For a process whose global executor is NIO's event loop group — the `mailnode` binary
    /// (main.swift): there those calls run on the loops anyway, and this keeps each on its
    /// connection's loop, saving a hop to another loop and back per SMTP command (~200 µs of
    /// CPU per mx message, bench/README.md). Elsewhere (Swift's default pool: tests, most
    /// embedders) it would move hook work onto the loops that carry every socket — a hook that
    /// computes for long then delays other connections' reads and timers.
    public var sessionTasksOnConnectionLoop: Bool

    public init(receiver: any MessageReceiver, hooks: any SessionHooks = NoHooks(),
                authenticator: (any Authenticator)? = nil, logger: Logger = Logger(label: "mailnode.smtp"),
                metrics: DefenseMetrics = DefenseMetrics(), sessionTasksOnConnectionLoop: Bool = false) {
        self.receiver = receiver
        self.hooks = hooks
        self.authenticator = authenticator
        self.logger = logger
        self.metrics = metrics
        self.sessionTasksOnConnectionLoop = sessionTasksOnConnectionLoop
    }
}

/// Asks every session of a server to wind down (sent as a user inbound event).
public struct SMTPShutdownEvent: Sendable {
    public init() {}
}

/// Performs an ``SMTPSession``'s actions on a channel: the only place that touches sockets,
/// timers and the async services. One instance per connection, confined to its event loop.
final class SMTPServerHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = Never
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var session: SMTPSession
    private let services: SMTPServerServices
    private let tlsContext: NIOSSLContext?
    private let implicitTLS: Bool
    /// Wait for a PROXY header before greeting.
    private let awaitProxyHeader: Bool
    private var logger: Logger
    private var inbound = ByteBuffer()
    private var context: ChannelHandlerContext?
    private var transfer: MessageTransfer?
    private var readHeld = false
    private var needsFlush = false
    private var timer: Scheduled<Void>?
    private var timerDeadline: NIODeadline?
    private var started = false
    /// DM33's bandwidth cap (nil when ``SMTPLimits/maxDataRate`` is 0) and its resume timer.
    private var throttle: BandwidthThrottle?
    private var throttleTimer: Scheduled<Void>?
    /// Where the services' asynchronous work runs: this connection's event loop.
    private var taskExecutor: EventLoopTaskExecutor?

    init(configuration: SMTPSessionConfiguration, services: SMTPServerServices, tlsContext: NIOSSLContext?,
         implicitTLS: Bool, awaitProxyHeader: Bool, listenerName: String) {
        let id = SMTPServerHandler.makeSessionID()
        self.session = SMTPSession(configuration: configuration,
                                   context: SessionContext(sessionID: id, listenerName: listenerName),
                                   now: .now())
        self.services = services
        self.tlsContext = tlsContext
        self.implicitTLS = implicitTLS
        self.awaitProxyHeader = awaitProxyHeader
        var logger = services.logger
        logger[metadataKey: "session"] = "\(id)"
        logger[metadataKey: "listener"] = "\(listenerName)"
        self.logger = logger
        if configuration.limits.maxDataRate > 0 {
            self.throttle = BandwidthThrottle(rate: configuration.limits.maxDataRate, now: .now())
        }
    }

    /// `192.0.2.1:4711` / `[2001:db8::1]:4711` for logs.
    static func logText(_ address: SocketAddress) -> String {
        guard let ip = address.ipAddress, let port = address.port else { return "\(address)" }
        return ip.contains(":") ? "[\(ip)]:\(port)" : "\(ip):\(port)"
    }

    static func makeSessionID() -> String {
        var generator = SystemRandomNumberGenerator()
        return String(generator.next() & 0xFFFF_FFFF_FFFF, radix: 36, uppercase: true)
    }

    // MARK: - Lifecycle

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        taskExecutor = EventLoopTaskExecutor(context.eventLoop)
        if let throttle, let options = context.channel.syncOptions {
            // Small, fixed reads: the bucket is checked between them (see BandwidthThrottle).
            try? options.setOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: throttle.readSize))
            try? options.setOption(.maxMessagesPerRead, value: 1)
        }
        if context.channel.isActive { channelBecameActive(context) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        throttleTimer?.cancel()
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        channelBecameActive(context)
        context.fireChannelActive()
    }

    private func channelBecameActive(_ context: ChannelHandlerContext) {
        guard !started else { return }
        session.setAddresses(remote: context.channel.remoteAddress, local: context.channel.localAddress)
        if !awaitProxyHeader { begin(context) }
    }

    private func begin(_ context: ChannelHandlerContext) {
        guard !started else { return }
        started = true
        logger[metadataKey: "client"] = "\(session.context.remoteAddress.map(Self.logText) ?? "-")"
        logger.info("connect")
        perform(session.start(), context: context)
        process(context)   // the greeting, when no connect hook runs, and anything pipelined
        armTimer(context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        throttleTimer?.cancel()
        throttleTimer = nil
        if let transfer {
            transfer.abort()
            self.transfer = nil
        }
        session.context.attributes.removeAll()
        logger.info("disconnect")
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // TLS handshake failures, resets: this connection ends, the node goes on.
        logger.notice("connection error", metadata: ["error": "\(error)"])
        context.close(promise: nil)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch event {
        case let tlsEvent as TLSUserEvent:
            if case .handshakeCompleted = tlsEvent {
                let tlsHandler = try? context.pipeline.syncOperations.handler(type: NIOSSLServerHandler.self)
                let version = tlsHandler?.tlsVersion.map { "\($0)" } ?? "TLS"
                // A client certificate is there only when the listener asked for one, and then the
                // handshake verified it against the listener's client CAs (optional verification).
                let identity = tlsHandler?.peerCertificate.map(ClientCertificateIdentity.init)
                session.tlsEstablished(TLSDetails(version: version, implicit: implicitTLS, peerCertificateSubject: identity?.subject,
                                                  clientCertificateNames: identity?.names ?? []))
                logger[metadataKey: "tls"] = "\(version)"
                logger.debug("tls established")
                process(context)
            }
        case let proxy as ProxyHeader:
            session.setAddresses(remote: proxy.source ?? context.channel.remoteAddress,
                                 local: proxy.destination ?? context.channel.localAddress)
            begin(context)
        case is SMTPShutdownEvent:
            perform(session.requestShutdown(), context: context)
            flush(context)
        default:
            context.fireUserInboundEventTriggered(event)
        }
    }

    // MARK: - Input

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        throttle?.consume(bytes.readableBytes, now: .now())
        guard !session.isClosed else { return }
        if inbound.readableBytes == 0 {
            inbound = bytes
        } else {
            inbound.writeBuffer(&bytes)
        }
        session.noteActivity(now: .now())
        if started, session.phase == .connecting {
            // RFC 5321 §3.1: the client waits for the greeting. A connect hook may act on it (DM32).
            session.context.attributes[SessionContext.earlyInputKey] = true
        }
        process(context)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        flush(context)
    }

    /// Runs the session over buffered input until it suspends, closes or needs more bytes.
    private func process(_ context: ChannelHandlerContext) {
        while started, !session.isSuspended, !session.isClosed {
            guard let actions = session.step(&inbound, now: .now()) else { break }
            perform(actions, context: context)
        }
        if inbound.readableBytes == 0 {
            inbound.clear()
        } else if inbound.readerIndex > 65_536 {
            inbound.discardReadBytes()
        }
        flush(context)
        resumeReadingIfPossible(context)
        rearmTimerIfEarlier(context)
    }

    // MARK: - Back-pressure

    private var shouldHoldReads: Bool {
        inbound.readableBytes >= session.configuration.limits.maxBufferedInput
            || (transfer?.queuedBytes ?? 0) >= session.configuration.limits.maxBufferedInput
    }

    func read(context: ChannelHandlerContext) {
        if shouldHoldReads || isThrottled(context) {
            if !readHeld {
                readHeld = true
                session.readingPaused(now: .now())   // DM33: our pause is not the client's slowness
            }
        } else {
            context.read()
        }
    }

    private func resumeReadingIfPossible(_ context: ChannelHandlerContext) {
        if readHeld, !shouldHoldReads, !isThrottled(context) {
            readHeld = false
            session.readingResumed(now: .now())
            context.read()
            rearmTimerIfEarlier(context)
        }
    }

    /// DM33 bandwidth cap: true while the flow is over ``SMTPLimits/maxDataRate``; then one
    /// timer resumes reading when the bucket allows it again.
    private func isThrottled(_ context: ChannelHandlerContext) -> Bool {
        guard let resume = throttle?.resumeTime(now: .now()) else { return false }
        if throttleTimer == nil {
            throttleTimer = context.eventLoop.assumeIsolated().scheduleTask(deadline: resume) { [weak self] in
                guard let self else { return }
                self.throttleTimer = nil
                guard let context = self.context, context.channel.isActive else { return }
                self.resumeReadingIfPossible(context)
            }
        }
        return true
    }

    // MARK: - Actions

    private func perform(_ actions: [SMTPSession.Action], context: ChannelHandlerContext) {
        if actions.contains(where: { if case .close = $0 { true } else { false } }) {
            // Before the last reply leaves: a client that reconnects on reading it finds its
            // resources (DM10's slot) already free.
            session.context.attributes.removeAll()
        }
        for action in actions {
            perform(action, context: context)
        }
    }

    private func perform(_ action: SMTPSession.Action, context: ChannelHandlerContext) {
        switch action {
        case .reply(let reply):
            if !reply.code.isPositiveCompletion, !reply.code.isPositiveIntermediate {
                logger.info("reply", metadata: ["reply": "\(reply)"])
            } else {
                logger.trace("reply", metadata: ["reply": "\(reply)"])
            }
            var buffer = context.channel.allocator.buffer(capacity: 64)
            reply.write(into: &buffer)
            context.write(wrapOutboundOut(buffer), promise: nil)
            needsFlush = true

        case .close:
            needsFlush = false
            let promise = context.eventLoop.makePromise(of: Void.self)
            context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(capacity: 0)), promise: promise)
            promise.futureResult.assumeIsolated().whenComplete { _ in context.close(promise: nil) }

        case .startTLS:
            flush(context)
            inbound.clear()   // RFC 3207 §4: drop plaintext pipelined behind STARTTLS
            guard let tlsContext else { context.close(promise: nil); return }
            do {
                try context.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tlsContext), position: .first)
            } catch {
                logger.error("cannot start TLS", metadata: ["error": "\(error)"])
                context.close(promise: nil)
            }

        case .runHook(let call):
            let hooks = services.hooks
            guard hooks.stages.contains(call.stage) else {
                // No hook at this stage: the default decision, without an asynchronous round trip.
                perform(session.hookCompleted(.continue, now: .now()), context: context)
                return
            }
            let sessionContext = session.context
            run(context, {
                switch call {
                case .connected: return await hooks.connected(sessionContext)
                case .helo(let host): return await hooks.helo(host, session: sessionContext)
                case .mailFrom(let path, let parameters):
                    return await hooks.mailFrom(path, parameters: parameters, session: sessionContext)
                case .rcptTo(let recipient, let envelope):
                    return await hooks.rcptTo(recipient, envelope: envelope, session: sessionContext)
                case .dataStart(let envelope): return await hooks.dataStart(envelope, session: sessionContext)
                case .dataEnd(let envelope, let summary):
                    return await hooks.dataEnd(envelope, summary: summary, session: sessionContext)
                }
            }) { handler, decision in
                if case .reply(let reply) = decision, !reply.code.isPositiveCompletion {
                    handler.logger.info("hook decision", metadata: ["stage": "\(call.stageName)", "reply": "\(reply)"])
                }
                return handler.session.hookCompleted(decision, now: .now())
            }

        case .authenticate(let credentials):
            let authenticator = services.authenticator
            let sessionContext = session.context
            let username = credentials.username
            run(context, {
                await authenticator?.authenticate(credentials, session: sessionContext) ?? .temporaryFailure
            }) { handler, result in
                handler.logger.info("auth", metadata: ["user": "\(username)", "result": "\(result)"])
                return handler.session.authenticationCompleted(result, now: .now())
            }

        case .openMessage(let envelope):
            let receiver = services.receiver
            let sessionContext = session.context
            let logger = self.logger
            run(context, { () -> Result<any MessageWriter, any Error> in
                do {
                    return .success(try await receiver.open(envelope: envelope, session: sessionContext))
                } catch {
                    logger.error("cannot open message", metadata: ["error": "\(error)"])
                    return .failure(error)
                }
            }) { handler, opened in
                if case .success(let writer) = opened {
                    let transfer = MessageTransfer(writer: writer, eventLoop: context.eventLoop, executor: handler.executor(context),
                                                   logger: handler.logger)
                    transfer.onDrain = { [weak handler] in
                        guard let handler, let context = handler.context else { return }
                        handler.resumeReadingIfPossible(context)
                    }
                    handler.transfer = transfer
                }
                if case .failure(let error) = opened {
                    return handler.session.messageOpened(success: false, failure: StorageFailureReply.reply(for: error), now: .now())
                }
                return handler.session.messageOpened(success: true, now: .now())
            }

        case .writeMessageData(let chunk):
            transfer?.append(chunk)

        case .commitMessage(let summary):
            guard let transfer else {
                perform(session.commitCompleted(nil, now: .now()), context: context)
                return
            }
            self.transfer = nil
            transfer.commit(summary: summary) { [weak self] outcome in
                guard let self, let context = self.context else { return }
                let result = try? outcome.get()
                if let result {
                    let replies = result.recipientReplies ?? [result.reply]
                    let accepted = replies.filter(\.code.isPositiveCompletion).count
                    if accepted > 0 { self.services.metrics.record(.messagesAccepted) }
                    self.logger.info(accepted > 0 ? "message accepted" : "message not accepted", metadata: [
                        "queue_id": "\(result.queueID ?? "-")", "size": "\(summary.octets)",
                        "from": "\(self.session.currentEnvelope?.reversePath.description ?? "-")",
                        "rcpts": "\(self.session.currentEnvelope?.recipients.count ?? 0)",
                        "accepted": "\(accepted)", "reply": "\(replies.first { !$0.code.isPositiveCompletion } ?? result.reply)",
                    ])
                }
                var failure: Reply?
                if case .failure(let error) = outcome { failure = StorageFailureReply.reply(for: error) }
                self.perform(self.session.commitCompleted(result, failure: failure, now: .now()), context: context)
                self.process(context)
            }

        case .abortMessage:
            transfer?.abort()
            transfer = nil
        }
    }

    /// Runs `work` as a task on this connection's event loop (see ``EventLoopTaskExecutor``),
    /// then feeds its result to the session.
    private func run<T: Sendable>(_ context: ChannelHandlerContext, _ work: @escaping @Sendable () async -> T,
                                  then complete: @escaping (SMTPServerHandler, T) -> [SMTPSession.Action]) {
        flush(context)
        let promise = context.eventLoop.makePromise(of: T.self)
        promise.completeWithTask(on: executor(context), work)
        promise.futureResult.assumeIsolated().whenSuccess { [weak self] value in
            guard let self, let context = self.context else { return }
            guard context.channel.isActive else { return }
            self.perform(complete(self, value), context: context)
            self.process(context)
        }
    }

    private func executor(_ context: ChannelHandlerContext) -> EventLoopTaskExecutor? {
        guard services.sessionTasksOnConnectionLoop else { return nil }
        if let taskExecutor { return taskExecutor }
        let executor = EventLoopTaskExecutor(context.eventLoop)
        taskExecutor = executor
        return executor
    }

    private func flush(_ context: ChannelHandlerContext) {
        if needsFlush {
            needsFlush = false
            context.flush()
        }
    }

    // MARK: - Timeouts

    private func armTimer(_ context: ChannelHandlerContext) {
        timer?.cancel()
        let deadline = session.deadline
        timerDeadline = deadline
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [weak self] in
            guard let self, let context = self.context else { return }
            let actions = self.session.checkTimeout(now: .now())
            if actions.isEmpty {
                self.armTimer(context)
            } else {
                switch self.session.timeoutCause {
                case .dataRateBelowFloor(let rate, let floor, let octets):
                    self.services.metrics.record("DM33", .disconnected)
                    self.logger.notice("data rate below floor, closing", metadata: [
                        "defense": "DM33", "rate": "\(rate)", "floor": "\(floor)", "octets": "\(octets)",
                    ])
                case .sessionDuration:
                    self.logger.info("timeout", metadata: ["cause": "session duration"])
                case .idle, nil:
                    self.logger.info("timeout")
                }
                self.perform(actions, context: context)
                self.flush(context)
            }
        }
    }

    private func rearmTimerIfEarlier(_ context: ChannelHandlerContext) {
        guard started, !session.isClosed else { return }
        if let timerDeadline, session.deadline >= timerDeadline { return }
        armTimer(context)
    }
}

@available(*, unavailable)
extension SMTPServerHandler: Sendable {}

extension SMTPSession.HookCall {
    /// The stage as a member of ``HookStages``.
    var stage: HookStages {
        switch self {
        case .connected: return .connected
        case .helo: return .helo
        case .mailFrom: return .mailFrom
        case .rcptTo: return .rcptTo
        case .dataStart: return .dataStart
        case .dataEnd: return .dataEnd
        }
    }

    /// The stage's name in logs.
    var stageName: String {
        switch self {
        case .connected: return "connect"
        case .helo: return "helo"
        case .mailFrom: return "mail"
        case .rcptTo: return "rcpt"
        case .dataStart: return "data"
        case .dataEnd: return "data-end"
        }
    }
}
