import NIOCore
import NIOPosix

/// One query/reply exchange with one server over UDP or TCP, on NIO event loops.
///
/// Each exchange opens its own socket, so every UDP query leaves from a fresh random source port
/// ([RFC 5452 §9.2](https://www.rfc-editor.org/rfc/rfc5452#section-9.2)); the UDP socket is
/// connected, so the kernel drops datagrams from any other address. The deadline is an event-loop
/// timer that fails the exchange: nothing here ever waits on a thread.
struct DNSTransport: Sendable {
    let group: any EventLoopGroup

    enum Failure: Error {
        case timeout
        case network(String)
        case cancelled
    }

    /// Sends `query` over UDP and returns the first datagram `matcher` accepts.
    func udp(_ query: [UInt8], matcher: DNSWire.ReplyMatcher, server: SocketAddress, timeout: Duration) async throws(Failure) -> [UInt8] {
        let loop = group.next()
        let promise = loop.makePromise(of: [UInt8].self)
        let connecting = DatagramBootstrap(group: loop)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        UDPReplyHandler(server: server, matcher: matcher, promise: promise))
                }
            }
            .connect(to: server)
        return try await exchange(framed: query, connecting: connecting, promise: promise, timeout: timeout, loop: loop)
    }

    /// Sends `query` over TCP ([RFC 7766](https://www.rfc-editor.org/rfc/rfc7766)) and returns the
    /// first reply `matcher` accepts; `timeout` covers connecting too.
    func tcp(_ query: [UInt8], matcher: DNSWire.ReplyMatcher, server: SocketAddress, timeout: Duration) async throws(Failure) -> [UInt8] {
        let loop = group.next()
        let promise = loop.makePromise(of: [UInt8].self)
        let connecting = ClientBootstrap(group: loop)
            .connectTimeout(TimeAmount(timeout))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(TCPReplyHandler(matcher: matcher, promise: promise))
                }
            }
            .connect(to: server)
        return try await exchange(
            framed: DNSWire.tcpFrame(query), connecting: connecting, promise: promise, timeout: timeout, loop: loop)
    }

    private func exchange(
        framed: [UInt8], connecting: EventLoopFuture<any Channel>,
        promise: EventLoopPromise<[UInt8]>, timeout: Duration, loop: any EventLoop
    ) async throws(Failure) -> [UInt8] {
        let deadline = loop.scheduleTask(in: TimeAmount(timeout)) { promise.fail(Failure.timeout) }
        connecting.whenComplete { result in
            switch result {
            case .success(let channel):
                promise.futureResult.whenComplete { _ in channel.close(promise: nil) }
                channel.writeAndFlush(ByteBuffer(bytes: framed)).whenFailure { error in
                    promise.fail(Failure.network("\(error)"))
                }
            case .failure(let error):
                promise.fail(Failure.network("\(error)"))
            }
        }
        promise.futureResult.whenComplete { _ in deadline.cancel() }
        do {
            return try await withTaskCancellationHandler {
                try await promise.futureResult.get()
            } onCancel: {
                promise.fail(Failure.cancelled)
            }
        } catch let failure as Failure {
            throw failure
        } catch {
            throw .network("\(error)")
        }
    }
}

/// Hands the first matching datagram to the promise; ignores the rest.
private final class UDPReplyHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>

    private let server: SocketAddress
    private let matcher: DNSWire.ReplyMatcher
    private let promise: EventLoopPromise<[UInt8]>

    init(server: SocketAddress, matcher: DNSWire.ReplyMatcher, promise: EventLoopPromise<[UInt8]>) {
        self.server = server
        self.matcher = matcher
        self.promise = promise
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = Self.unwrapInboundIn(data)
        let bytes = Array(envelope.data.readableBytesView)
        // RFC 5452 §9.1: a reply from elsewhere, with another ID or another question, is not ours.
        guard envelope.remoteAddress == server, matcher.matches(bytes) else { return }
        promise.succeed(bytes)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // On a connected UDP socket this is typically ECONNREFUSED from an ICMP port unreachable.
        promise.fail(DNSTransport.Failure.network("\(error)"))
    }
}

@available(*, unavailable)
extension UDPReplyHandler: Sendable {}

/// Reassembles length-prefixed messages and hands the first matching one to the promise.
private final class TCPReplyHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let matcher: DNSWire.ReplyMatcher
    private let promise: EventLoopPromise<[UInt8]>
    private var decoder = DNSWire.TCPFrameDecoder()

    init(matcher: DNSWire.ReplyMatcher, promise: EventLoopPromise<[UInt8]>) {
        self.matcher = matcher
        self.promise = promise
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        decoder.append(Self.unwrapInboundIn(data).readableBytesView)
        while let message = decoder.nextMessage() {
            if matcher.matches(message) {
                promise.succeed(message)
                return
            }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise.fail(DNSTransport.Failure.network("connection closed before the reply"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        promise.fail(DNSTransport.Failure.network("\(error)"))
    }
}

@available(*, unavailable)
extension TCPReplyHandler: Sendable {}
