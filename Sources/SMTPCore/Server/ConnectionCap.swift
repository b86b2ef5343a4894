import NIOCore

/// How many connections one ``SMTPServer`` holds at once, over all its listeners.
///
/// DM12 "Max. number of server processes" and DM13 "Max. number of connections per server
/// process" of the paper's catalog, translated to one process: the node-wide cap stands for
/// the process limit (Postfix `default_process_limit`), and each NIO event loop thread, which
/// runs its sessions one after another like a process, gets its own cap. A connection beyond
/// either cap is answered ``Reply/tooManyConnections`` and closed at once: no hook runs, no
/// session starts.
public struct ConnectionCaps: Sendable, Hashable {
    /// DM12: open connections on the whole server. Default 1000: well under the open-files
    /// limit the node raises to at start (each session needs a socket, and a spool file while
    /// a message arrives), and far more than a single mx node serves in practice (Postfix runs
    /// 100 `smtpd` processes by default).
    public var maxConnections: Int = 1000
    /// DM13: open connections per event loop; `0` turns it off (the default). NIO hands new
    /// connections to the loops in turn, so with the node-wide cap alone each loop already
    /// holds about `maxConnections / loops`; set it to bound how many sessions share one
    /// thread's CPU regardless of the core count. A loop at its cap refuses the connection
    /// handed to it even when another loop has room, as a full process would.
    public var maxConnectionsPerEventLoop: Int = 0

    public init(maxConnections: Int = 1000, maxConnectionsPerEventLoop: Int = 0) {
        self.maxConnections = maxConnections
        self.maxConnectionsPerEventLoop = maxConnectionsPerEventLoop
    }
}

/// Counts open connections, overall and per event loop, against ``ConnectionCaps``.
/// A plain value; ``SMTPServer`` keeps it under its lock.
struct ConnectionCounter: Sendable, Hashable {
    /// Why a connection was not admitted.
    enum Refusal: Sendable, Hashable {
        /// DM12: the node-wide cap.
        case node(open: Int, limit: Int)
        /// DM13: the cap of the connection's event loop.
        case eventLoop(open: Int, limit: Int)

        /// The catalog id for the log line.
        var defense: String {
            switch self {
            case .node: return "DM12"
            case .eventLoop: return "DM13"
            }
        }
    }

    let caps: ConnectionCaps
    private(set) var total = 0
    private(set) var perLoop: [ObjectIdentifier: Int] = [:]

    init(caps: ConnectionCaps) {
        self.caps = caps
    }

    /// Counts a connection on `loop`, or says which cap refuses it (and counts nothing).
    mutating func admit(loop: ObjectIdentifier) -> Refusal? {
        if caps.maxConnections > 0, total >= caps.maxConnections {
            return .node(open: total, limit: caps.maxConnections)
        }
        let onLoop = perLoop[loop, default: 0]
        if caps.maxConnectionsPerEventLoop > 0, onLoop >= caps.maxConnectionsPerEventLoop {
            return .eventLoop(open: onLoop, limit: caps.maxConnectionsPerEventLoop)
        }
        total += 1
        perLoop[loop] = onLoop + 1
        return nil
    }

    /// An admitted connection on `loop` closed; call exactly once per admitted connection.
    mutating func release(loop: ObjectIdentifier) {
        guard let onLoop = perLoop[loop], onLoop > 0 else {
            assertionFailure("released a connection that was never admitted")
            return
        }
        total -= 1
        perLoop[loop] = onLoop == 1 ? nil : onLoop - 1
    }

    /// Open connections on `loop`.
    func count(on loop: ObjectIdentifier) -> Int { perLoop[loop, default: 0] }
}

/// Answers a connection beyond a ``ConnectionCaps`` cap and closes it; nothing else runs.
final class ConnectionRefusalHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let reply: Reply?
    private var sent = false

    /// `reply` nil closes without a word (implicit TLS: a plaintext reply would be garbage
    /// to a client that starts with a TLS handshake).
    init(reply: Reply?) {
        self.reply = reply
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { refuse(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        refuse(context)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // Whatever the client sends is ignored.
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    private func refuse(_ context: ChannelHandlerContext) {
        guard !sent else { return }
        sent = true
        guard let reply else {
            context.close(promise: nil)
            return
        }
        var buffer = context.channel.allocator.buffer(capacity: 64)
        reply.write(into: &buffer)
        let promise = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(buffer), promise: promise)
        promise.futureResult.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }
}

@available(*, unavailable)
extension ConnectionRefusalHandler: Sendable {}

extension Reply {
    /// DM12/DM13: `421 4.3.2 Too many connections, try again later`.
    ///
    /// 421 because the server closes at once ([RFC 5321 §3.8](https://www.rfc-editor.org/rfc/rfc5321#section-3.8),
    /// §4.2.3 "service not available, closing transmission channel"), which a client treats as
    /// a temporary failure and retries later. 4.3.2 is RFC 3463
    /// [§3.4](https://www.rfc-editor.org/rfc/rfc3463#section-3.4) "System not accepting network
    /// messages", what Postfix's postscreen answers when all server ports are busy and what
    /// our shutdown reply uses; X.4.5 "mail system congestion" speaks of the message, which
    /// was not even offered yet.
    public static let tooManyConnections = Reply(.serviceNotAvailable, .systemNotAccepting, "Too many connections, try again later")
}
