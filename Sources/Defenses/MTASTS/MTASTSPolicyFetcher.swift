import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// Gets a domain's MTA-STS policy body ([RFC 8461 §3.3](https://www.rfc-editor.org/rfc/rfc8461#section-3.3)).
public protocol MTASTSPolicyFetcher: Sendable {
    func fetch(domain: String) async throws(MTASTSFetchError) -> String
}

/// Why a policy could not be fetched; the sender then goes on as if there were no policy
/// (unless a cached one is still valid, §5.1).
public struct MTASTSFetchError: Error, Sendable, Hashable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// `GET https://mta-sts.<domain>/.well-known/mta-sts.txt` over NIO: the host's addresses from
/// our ``DNSResolver``, TLS with the certificate chain and the name `mta-sts.<domain>` verified
/// against ``trustRoots``, HTTP/1.1 with `Connection: close`. Only `200` with a `text/plain`
/// body of at most ``maxBody`` octets counts; redirects are not followed (§3.3: "MUST NOT").
public struct HTTPSPolicyFetcher: MTASTSPolicyFetcher {
    public var dns: any DNSResolver
    /// 443 on the Internet; tests serve on a high port.
    public var port: Int
    public var trustRoots: NIOSSLTrustRoots
    /// For the whole fetch: connect, handshake, response (RFC 8461 §3.3 suggests a minute at most).
    public var timeout: TimeAmount
    /// RFC 8461 §3.3: senders may limit the body; 64 KiB, like Postfix's resolver and mox.
    public var maxBody: Int
    public let group: any EventLoopGroup

    public init(dns: any DNSResolver, port: Int = 443, trustRoots: NIOSSLTrustRoots = .default, timeout: TimeAmount = .seconds(30),
                maxBody: Int = 64 * 1024, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.dns = dns
        self.port = port
        self.trustRoots = trustRoots
        self.timeout = timeout
        self.maxBody = maxBody
        self.group = group
    }

    public func fetch(domain: String) async throws(MTASTSFetchError) -> String {
        let host = "mta-sts." + MTASTSPolicy.normalized(domain)
        var addresses: [String] = []
        var lookupFailure: DNSError?
        do { addresses += try await dns.lookupA(host).records.map(\.description) } catch { if error.isTemporary { lookupFailure = error } }
        do { addresses += try await dns.lookupAAAA(host).records.map(\.description) } catch { if error.isTemporary { lookupFailure = error } }
        guard !addresses.isEmpty else {
            throw MTASTSFetchError("\(host) has no address" + (lookupFailure.map { " (DNS: \($0))" } ?? ""))
        }
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv12
        tls.certificateVerification = .fullVerification
        tls.trustRoots = trustRoots
        let context: NIOSSLContext
        do { context = try NIOSSLContext(configuration: tls) } catch { throw MTASTSFetchError("TLS set-up: \(error)") }
        var last = MTASTSFetchError("no address of \(host) answered")
        for address in addresses {
            do {
                return try await get(host: host, address: address, context: context)
            } catch let error as MTASTSFetchError {
                last = error
            } catch {
                last = MTASTSFetchError("\(address): \(error)")
            }
        }
        throw last
    }

    private func get(host: String, address: String, context: NIOSSLContext) async throws -> String {
        let loop = group.next()
        let promise = loop.makePromise(of: PolicyResponse.self)
        let maxBody = maxBody
        let channel = try await ClientBootstrap(group: loop)
            .connectTimeout(timeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let ssl = try NIOSSLClientHandler(context: context, serverHostname: host)
                    try channel.pipeline.syncOperations.addHandler(ssl)
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(PolicyResponseHandler(host: host, maxBody: maxBody, promise: promise))
                }
            }
            .connect(host: address, port: port).get()
        let timer = loop.scheduleTask(in: timeout) {
            promise.fail(MTASTSFetchError("\(host): no complete answer within \(timeout.nanoseconds / 1_000_000_000) s"))
            channel.close(promise: nil)
        }
        defer { timer.cancel() }
        let response: PolicyResponse
        do {
            response = try await promise.futureResult.get()
        } catch let error as MTASTSFetchError {
            throw error
        } catch {
            throw MTASTSFetchError("\(host) (\(address)): \(error)")
        }
        guard response.status == 200 else {
            let redirect = (300..<400).contains(response.status) ? " (redirects are not followed)" : ""
            throw MTASTSFetchError("\(host): HTTP \(response.status)\(redirect)")
        }
        guard response.contentType.lowercased().hasPrefix("text/plain") else {
            throw MTASTSFetchError("\(host): content type '\(response.contentType)', not text/plain")
        }
        return response.body
    }
}

struct PolicyResponse: Sendable {
    var status: Int
    var contentType: String
    var body: String
}

/// Sends the request once the channel is active and collects the response (head and body up
/// to the limit), then closes.
final class PolicyResponseHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart

    let host: String
    let maxBody: Int
    let promise: EventLoopPromise<PolicyResponse>
    private var head: HTTPResponseHead?
    private var body: ByteBuffer?
    private var done = false

    init(host: String, maxBody: Int, promise: EventLoopPromise<PolicyResponse>) {
        self.host = host
        self.maxBody = maxBody
        self.promise = promise
    }

    func channelActive(context: ChannelHandlerContext) {
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: host)
        headers.add(name: "Accept", value: "text/plain")
        headers.add(name: "Connection", value: "close")
        let request = HTTPRequestHead(version: .http1_1, method: .GET, uri: "/.well-known/mta-sts.txt", headers: headers)
        context.write(wrapOutboundOut(.head(request)), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !done else { return }
        switch unwrapInboundIn(data) {
        case .head(let response):
            head = response
            body = context.channel.allocator.buffer(capacity: 1024)
        case .body(var part):
            guard (body?.readableBytes ?? 0) + part.readableBytes <= maxBody else {
                finish(context, .failure(MTASTSFetchError("\(host): policy larger than \(maxBody) octets")))
                return
            }
            body?.writeBuffer(&part)
        case .end:
            guard let head else { return }
            let text = body.map { String(buffer: $0) } ?? ""
            finish(context, .success(PolicyResponse(status: Int(head.status.code),
                                                    contentType: head.headers.first(name: "Content-Type") ?? "", body: text)))
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        finish(context, .failure(MTASTSFetchError("\(host): \(error)")))
    }

    func channelInactive(context: ChannelHandlerContext) {
        finish(context, .failure(MTASTSFetchError("\(host): connection closed before the answer was complete")))
        context.fireChannelInactive()
    }

    private func finish(_ context: ChannelHandlerContext, _ result: Result<PolicyResponse, MTASTSFetchError>) {
        guard !done else { return }
        done = true
        switch result {
        case .success(let response): promise.succeed(response)
        case .failure(let error): promise.fail(error)
        }
        context.close(promise: nil)
    }
}
