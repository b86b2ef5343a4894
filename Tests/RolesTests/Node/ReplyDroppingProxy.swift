import Foundation
import NIOCore
import NIOPosix

/// A TCP proxy on loopback in front of an SMTP server that loses the server's reply to a
/// committed message (`250 … Queued as …`) a given number of times: instead of passing it on,
/// it closes both connections. The client then cannot know the message was stored — exactly
/// the case where a stage retries a hand-off the next stage already committed.
final class ReplyDroppingProxy: Sendable {
    let channel: any Channel
    let port: Int
    private let counters: Counters

    /// Counts guarded by a lock (handlers on several event loops update them).
    final class Counters: @unchecked Sendable {   // every access holds `lock`
        private let lock = NSLock()
        private var dropsLeft: Int
        private var seen = 0
        private var droppedCount = 0

        init(drops: Int) { dropsLeft = drops }

        /// A server reply passed by; true when it must be dropped.
        func sawQueuedReply() -> Bool {
            lock.lock()
            defer { lock.unlock() }
            seen += 1
            guard dropsLeft > 0 else { return false }
            dropsLeft -= 1
            droppedCount += 1
            return true
        }

        var queuedReplies: Int { lock.lock(); defer { lock.unlock() }; return seen }
        var dropped: Int { lock.lock(); defer { lock.unlock() }; return droppedCount }
    }

    /// Forwards one direction; on the server side, watches for the commit reply.
    final class Forward: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        let peer: any Channel
        let counters: Counters?

        init(to peer: any Channel, watching counters: Counters?) {
            self.peer = peer
            self.counters = counters
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let buffer = unwrapInboundIn(data)
            if let counters, String(buffer: buffer).contains("Queued as"), counters.sawQueuedReply() {
                context.close(promise: nil)
                peer.close(promise: nil)
                return
            }
            peer.writeAndFlush(buffer, promise: nil)
        }

        func channelInactive(context: ChannelHandlerContext) {
            peer.close(promise: nil)
            context.fireChannelInactive()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }
    }

    /// The client's side: connects to the server when the client arrives, then forwards.
    final class ClientSide: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        let target: Int
        let counters: Counters
        private var peer: (any Channel)?

        init(target: Int, counters: Counters) {
            self.target = target
            self.counters = counters
        }

        func channelActive(context: ChannelHandlerContext) {
            let inbound = context.channel
            let counters = self.counters
            ClientBootstrap(group: context.eventLoop)
                .channelInitializer { outbound in
                    outbound.eventLoop.makeCompletedFuture {
                        try outbound.pipeline.syncOperations.addHandler(Forward(to: inbound, watching: counters))
                    }
                }
                .connect(host: "127.0.0.1", port: target)
                .assumeIsolated().whenComplete { result in
                    switch result {
                    case .success(let outbound):
                        self.peer = outbound
                        inbound.setOption(.autoRead, value: true).whenComplete { _ in inbound.read() }
                    case .failure:
                        inbound.close(promise: nil)
                    }
                }
            context.fireChannelActive()
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            peer?.writeAndFlush(unwrapInboundIn(data), promise: nil)
        }

        func channelInactive(context: ChannelHandlerContext) {
            peer?.close(promise: nil)
            context.fireChannelInactive()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }
    }

    private init(channel: any Channel, counters: Counters) {
        self.channel = channel
        self.port = channel.localAddress!.port!
        self.counters = counters
    }

    static func start(target: Int, dropping drops: Int) async throws -> ReplyDroppingProxy {
        let counters = Counters(drops: drops)
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            // Nothing is read from the client until the server connection is up.
            .childChannelOption(.autoRead, value: false)
            .childChannelInitializer { inbound in
                inbound.eventLoop.makeCompletedFuture {
                    try inbound.pipeline.syncOperations.addHandler(ClientSide(target: target, counters: counters))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return ReplyDroppingProxy(channel: channel, counters: counters)
    }

    /// How many commit replies the server sent through the proxy (dropped or not).
    var queuedReplies: Int { counters.queuedReplies }
    var dropped: Int { counters.dropped }

    func stop() async {
        try? await channel.close()
    }
}

@available(*, unavailable)
extension ReplyDroppingProxy.Forward: Sendable {}

@available(*, unavailable)
extension ReplyDroppingProxy.ClientSide: Sendable {}
