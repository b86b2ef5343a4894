import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import SMTPCore

/// Serves a node's ``DefenseMetrics`` over HTTP for Prometheus: `GET /metrics` answers with the
/// [text exposition format](https://prometheus.io/docs/instrumenting/exposition_formats/); any other
/// path is `404`, any other method `405`. One response per connection (`Connection: close`), no
/// TLS, no authentication: bind it to loopback or a management network (`metrics.listen`, default
/// `127.0.0.1:9325`). The counters hold no secrets: ids, outcomes and totals only.
public final class MetricsServer: Sendable {
    public let address: ListenAddress
    let metrics: DefenseMetrics
    let group: any EventLoopGroup
    let logger: Logger
    private let channel = NIOLockedValueBox<(any Channel)?>(nil)

    public init(address: ListenAddress, metrics: DefenseMetrics, group: any EventLoopGroup, logger: Logger) {
        self.address = address
        self.metrics = metrics
        self.group = group
        self.logger = logger
    }

    /// Binds the listener; returns its address (port 0 picks a free one).
    @discardableResult
    public func start() async throws -> SocketAddress {
        let metrics = self.metrics
        let bound = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 16)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(MetricsHTTPHandler(metrics: metrics))
                }
            }
            .bind(host: address.host, port: address.port).get()
        channel.withLockedValue { $0 = bound }
        let local = bound.localAddress!
        logger.info("metrics listening", metadata: ["address": "\(local)"])
        return local
    }

    /// The bound address once started.
    public var localAddress: SocketAddress? { channel.withLockedValue { $0?.localAddress } }

    public func stop() async {
        let open = channel.withLockedValue { channel -> (any Channel)? in
            defer { channel = nil }
            return channel
        }
        try? await open?.close()
    }
}

/// One HTTP/1.1 exchange: the request head decides, the body (if any) is ignored.
final class MetricsHTTPHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let metrics: DefenseMetrics
    private var head: HTTPRequestHead?

    init(metrics: DefenseMetrics) {
        self.metrics = metrics
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let request):
            head = request
        case .body:
            break
        case .end:
            guard let request = head else { return }
            head = nil
            respond(to: request, context: context)
        }
    }

    private func respond(to request: HTTPRequestHead, context: ChannelHandlerContext) {
        let path = request.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? request.uri
        let (status, body, type): (HTTPResponseStatus, String, String)
        if request.method != .GET && request.method != .HEAD {
            (status, body, type) = (.methodNotAllowed, "only GET\n", "text/plain; charset=utf-8")
        } else if path == "/metrics" {
            (status, body, type) = (.ok, metrics.prometheusText(), "text/plain; version=0.0.4; charset=utf-8")
        } else {
            (status, body, type) = (.notFound, "try /metrics\n", "text/plain; charset=utf-8")
        }
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: type)
        headers.add(name: "Content-Length", value: "\(body.utf8.count)")
        headers.add(name: "Connection", value: "close")
        if status == .methodNotAllowed { headers.add(name: "Allow", value: "GET, HEAD") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: request.version, status: status, headers: headers))), promise: nil)
        if request.method != .HEAD {
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: body)))), promise: nil)
        }
        context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }
}
