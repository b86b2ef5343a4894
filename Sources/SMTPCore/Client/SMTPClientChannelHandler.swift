import NIOCore
import NIOSSL
import NIOTLS  // TLSUserEvent; see the report: SMTPCore should list the NIOTLS product

/// The client's end of the pipeline: parses server replies with ``ReplyParser`` and hands
/// them out one at a time, writes with a deadline, and inserts TLS for STARTTLS.
///
/// Every method runs on the channel's event loop (``SMTPClientConnection`` runs there as its
/// executor). A timeout, a parse error, a read error or the end of the connection is
/// terminal: waiters fail, the channel closes and every later call fails the same way.
final class SMTPClientChannelHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Why the connection ended.
    private enum Termination {
        case closed
        case timeout(SMTPClientStage)
        case failed(SMTPClientError)

        func error(at stage: SMTPClientStage) -> SMTPClientError {
            switch self {
            case .closed: return .connectionClosed(stage)
            case .timeout(let stage): return .timeout(stage)
            case .failed(let error): return error
            }
        }
    }

    private struct Waiter<Value> {
        var promise: EventLoopPromise<Value>
        var timer: Scheduled<Void>
        var stage: SMTPClientStage
    }

    private let maxLineLength: Int
    private let maxLines: Int
    private var parser: ReplyParser
    private var inbound = ByteBuffer()
    private var replies = CircularBuffer<Reply>()
    private var replyWaiter: Waiter<Reply>?
    private var handshakeWaiter: Waiter<Void>?
    private var termination: Termination?
    private var context: ChannelHandlerContext?
    /// Replies the server may send ahead of our reads before it counts as flooding.
    private let maxQueuedReplies = 1_000

    private let eventLoop: any EventLoop

    init(eventLoop: any EventLoop, maxLineLength: Int, maxLines: Int) {
        self.eventLoop = eventLoop
        self.maxLineLength = maxLineLength
        self.maxLines = maxLines
        self.parser = ReplyParser(maxLineLength: maxLineLength, maxLines: maxLines)
    }

    // MARK: - API for the connection (event loop only)

    /// True once a STARTTLS handshake has completed.
    private(set) var isTLSActive = false

    /// True while nothing terminal has happened.
    var isOpen: Bool { termination == nil && context != nil }

    /// The next reply, or a failure after `timeout`.
    func nextReply(stage: SMTPClientStage, timeout: TimeAmount) -> EventLoopFuture<Reply> {
        // Replies that arrived before the server closed still count (`221` to QUIT, `421`).
        if !replies.isEmpty { return eventLoop.makeSucceededFuture(replies.removeFirst()) }
        if let termination { return eventLoop.makeFailedFuture(termination.error(at: stage)) }
        guard let context else { return failedFuture(.connectionClosed(stage)) }
        precondition(replyWaiter == nil, "one reply read at a time")
        let promise = context.eventLoop.makePromise(of: Reply.self)
        let timer = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) {
            self.terminate(.timeout(stage))
        }
        replyWaiter = Waiter(promise: promise, timer: timer, stage: stage)
        return promise.futureResult
    }

    /// Writes and flushes `buffer`; fails (and closes the connection) when the write does not
    /// complete within `timeout` — the peer stopped reading.
    func write(_ buffer: ByteBuffer, stage: SMTPClientStage, timeout: TimeAmount) -> EventLoopFuture<Void> {
        guard let context else { return failedFuture(.connectionClosed(stage)) }
        if let termination { return context.eventLoop.makeFailedFuture(termination.error(at: stage)) }
        let promise = context.eventLoop.makePromise(of: Void.self)
        let timer = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) {
            self.terminate(.timeout(stage))
            promise.fail(SMTPClientError.timeout(stage))
        }
        context.writeAndFlush(wrapOutboundOut(buffer)).assumeIsolated().whenComplete { result in
            timer.cancel()
            switch result {
            case .success:
                promise.succeed()
            case .failure:
                promise.fail(self.termination?.error(at: stage) ?? .connectionClosed(stage))
            }
        }
        return promise.futureResult
    }

    /// Inserts a TLS client handler in front of this one and waits for the handshake.
    ///
    /// Anything the server sent after its `220` to STARTTLS is still plaintext; it is a
    /// protocol violation (response injection, RFC 3207 §6), so the connection is dropped.
    func startTLS(context sslContext: NIOSSLContext, serverHostname: String?,
                  verification: NIOSSLCustomVerificationCallback? = nil,
                  timeout: TimeAmount) -> EventLoopFuture<Void> {
        guard let context else { return failedFuture(.connectionClosed(.startTLS)) }
        if let termination { return context.eventLoop.makeFailedFuture(termination.error(at: .startTLS)) }
        guard replies.isEmpty, inbound.readableBytes == 0 else {
            let error = SMTPClientError.protocolViolation("server sent data after its reply to STARTTLS")
            terminate(.failed(error))
            return context.eventLoop.makeFailedFuture(error)
        }
        parser = ReplyParser(maxLineLength: maxLineLength, maxLines: maxLines)
        let promise = context.eventLoop.makePromise(of: Void.self)
        let timer = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) {
            self.terminate(.timeout(.startTLS))
        }
        handshakeWaiter = Waiter(promise: promise, timer: timer, stage: .startTLS)
        do {
            let tlsHandler = try NIOSSLClientHandler(context: sslContext, serverHostname: serverHostname,
                                                     customVerificationCallback: verification, configuration: .init())
            try context.pipeline.syncOperations.addHandler(tlsHandler, position: .first)
        } catch {
            terminate(.failed(.tlsFailed(String(describing: error))))
        }
        return promise.futureResult
    }

    /// Closes the channel; later calls fail with `connectionClosed`.
    func close() {
        terminate(.closed)
    }

    // MARK: - ChannelInboundHandler

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        terminate(.closed)
        self.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        guard termination == nil else { return }
        inbound.writeBuffer(&bytes)
        while termination == nil {
            let reply: Reply?
            do {
                reply = try parser.next(from: &inbound)
            } catch {
                terminate(.failed(.protocolViolation("malformed reply: \(error)")))
                return
            }
            guard let reply else { break }
            deliver(reply)
        }
        if inbound.readerIndex > 4096 { inbound.discardReadBytes() }
    }

    func channelInactive(context: ChannelHandlerContext) {
        terminate(.closed)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if handshakeWaiter != nil || error is NIOSSLError || error is BoringSSLError {
            if case NIOSSLError.uncleanShutdown = error {
                terminate(.closed)
            } else {
                terminate(.failed(.tlsFailed(String(describing: error))))
            }
        } else {
            terminate(.failed(.connectionClosed(replyWaiter?.stage ?? .connect)))
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? TLSUserEvent, case .handshakeCompleted = event,
           let waiter = handshakeWaiter {
            handshakeWaiter = nil
            isTLSActive = true
            waiter.timer.cancel()
            waiter.promise.succeed()
        }
        context.fireUserInboundEventTriggered(event)
    }

    // MARK: - Private

    private func deliver(_ reply: Reply) {
        if let waiter = replyWaiter {
            replyWaiter = nil
            waiter.timer.cancel()
            waiter.promise.succeed(reply)
        } else if replies.count < maxQueuedReplies {
            replies.append(reply)
        } else {
            terminate(.failed(.protocolViolation("too many unsolicited replies")))
        }
    }

    private func terminate(_ reason: Termination) {
        if termination == nil { termination = reason }
        let termination = self.termination ?? reason
        if let waiter = replyWaiter {
            replyWaiter = nil
            waiter.timer.cancel()
            waiter.promise.fail(termination.error(at: waiter.stage))
        }
        if let waiter = handshakeWaiter {
            handshakeWaiter = nil
            waiter.timer.cancel()
            let error: SMTPClientError
            if case .closed = termination { error = .tlsFailed("connection closed during the TLS handshake") }
            else { error = termination.error(at: .startTLS) }
            waiter.promise.fail(error)
        }
        context?.close(promise: nil)
    }

    private func failedFuture<Value>(_ error: SMTPClientError) -> EventLoopFuture<Value> {
        eventLoop.makeFailedFuture(error)
    }
}

@available(*, unavailable)
extension SMTPClientChannelHandler: Sendable {}
