import Logging
import NIOCore

/// The addresses a load balancer reports in a PROXY protocol header (HAProxy's spec, v1 and v2).
public struct ProxyHeader: Hashable, Sendable {
    /// The original client; nil for `UNKNOWN` (v1) or `LOCAL` (v2) headers.
    public var source: SocketAddress?
    public var destination: SocketAddress?

    public init(source: SocketAddress?, destination: SocketAddress?) {
        self.source = source
        self.destination = destination
    }
}

/// Parses a PROXY protocol v1 or v2 header at the start of a connection.
public enum ProxyHeaderParser {
    public enum Error: Swift.Error, Hashable, Sendable {
        case notProxyProtocol
        case malformed(String)
    }

    static let v2Signature: [UInt8] = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A]
    /// v1: the longest header is 107 octets including CRLF.
    static let v1MaxLength = 107

    /// Consumes a complete header from `buffer`; nil when more bytes are needed.
    public static func parse(_ buffer: inout ByteBuffer) throws(Error) -> ProxyHeader? {
        let view = buffer.readableBytesView
        if let first = view.first, first == 0x0D {
            let prefix = Array(view.prefix(v2Signature.count))
            guard prefix == Array(v2Signature.prefix(prefix.count)) else { throw .notProxyProtocol }
            if prefix.count < v2Signature.count { return nil }
            return try parseV2(&buffer)
        }
        let prefix = Array(view.prefix(6))
        guard prefix == Array("PROXY ".utf8.prefix(prefix.count)) else { throw .notProxyProtocol }
        return try parseV1(&buffer)
    }

    /// `PROXY TCP4 192.0.2.1 198.51.100.1 56324 25\r\n`
    static func parseV1(_ buffer: inout ByteBuffer) throws(Error) -> ProxyHeader? {
        let view = buffer.readableBytesView
        guard let lf = view.firstIndex(of: UInt8(ascii: "\n")) else {
            if view.count >= v1MaxLength { throw .malformed("v1 header too long") }
            return nil
        }
        let length = lf - view.startIndex + 1
        guard length <= v1MaxLength, length >= 2, view[lf - 1] == UInt8(ascii: "\r") else {
            throw .malformed("v1 header not CRLF-terminated")
        }
        // Read without the CRLF (as bytes: "\r\n" is a single Character in Swift).
        let line = buffer.readString(length: length - 2)!
        buffer.moveReaderIndex(forwardBy: 2)
        let fields = line.split(separator: " ", omittingEmptySubsequences: false)
        guard fields.count >= 2 else { throw .malformed("v1 header too short") }
        if fields[1] == "UNKNOWN" { return ProxyHeader(source: nil, destination: nil) }
        guard fields.count == 6, fields[1] == "TCP4" || fields[1] == "TCP6",
              let sourcePort = Int(fields[4]), let destinationPort = Int(fields[5]),
              (0...65535).contains(sourcePort), (0...65535).contains(destinationPort),
              let source = try? SocketAddress(ipAddress: String(fields[2]), port: sourcePort),
              let destination = try? SocketAddress(ipAddress: String(fields[3]), port: destinationPort)
        else { throw .malformed("v1 header fields") }
        return ProxyHeader(source: source, destination: destination)
    }

    static func parseV2(_ buffer: inout ByteBuffer) throws(Error) -> ProxyHeader? {
        guard buffer.readableBytes >= 16 else { return nil }
        let start = buffer.readerIndex
        let versionCommand = buffer.getInteger(at: start + 12, as: UInt8.self)!
        let family = buffer.getInteger(at: start + 13, as: UInt8.self)!
        let length = Int(buffer.getInteger(at: start + 14, as: UInt16.self)!)
        guard versionCommand >> 4 == 2 else { throw .malformed("v2 version") }
        guard buffer.readableBytes >= 16 + length else { return nil }
        buffer.moveReaderIndex(forwardBy: 16)
        var body = buffer.readSlice(length: length)!
        switch versionCommand & 0x0F {
        case 0x0:
            return ProxyHeader(source: nil, destination: nil)   // LOCAL: health check by the proxy
        case 0x1:
            break
        default:
            throw .malformed("v2 command")
        }
        switch family {
        case 0x11:   // TCP over IPv4
            guard let src = body.readBytes(length: 4), let dst = body.readBytes(length: 4),
                  let sport = body.readInteger(as: UInt16.self), let dport = body.readInteger(as: UInt16.self)
            else { throw .malformed("v2 IPv4 addresses") }
            return ProxyHeader(source: address(src, sport), destination: address(dst, dport))
        case 0x21:   // TCP over IPv6
            guard let src = body.readBytes(length: 16), let dst = body.readBytes(length: 16),
                  let sport = body.readInteger(as: UInt16.self), let dport = body.readInteger(as: UInt16.self)
            else { throw .malformed("v2 IPv6 addresses") }
            return ProxyHeader(source: address(src, sport), destination: address(dst, dport))
        case 0x00:
            return ProxyHeader(source: nil, destination: nil)
        default:
            throw .malformed("v2 address family \(family)")
        }
    }

    static func address(_ bytes: [UInt8], _ port: UInt16) -> SocketAddress? {
        try? SocketAddress(ipAddress: IPNetwork.text(of: bytes), port: Int(port))
    }
}

/// Reads the PROXY header first on listeners that enable it, from trusted senders only, then
/// hands the real client address to the session and removes itself.
final class ProxyProtocolHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let trusted: [IPNetwork]
    private let logger: Logger
    private var buffer = ByteBuffer()
    private var timeout: Scheduled<Void>?
    private var done = false

    init(trusted: [IPNetwork], logger: Logger) {
        self.trusted = trusted
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { check(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        check(context)
        context.fireChannelActive()
    }

    private func check(_ context: ChannelHandlerContext) {
        guard timeout == nil else { return }
        guard let peer = context.channel.remoteAddress, trusted.contains(where: { $0.contains(peer) }) else {
            logger.warning("PROXY header from untrusted peer refused", metadata: ["peer": "\(context.channel.remoteAddress.map { "\($0)" } ?? "-")"])
            context.close(promise: nil)
            return
        }
        timeout = context.eventLoop.assumeIsolated().scheduleTask(in: .seconds(10)) {
            self.logger.notice("no PROXY header within 10 s")
            context.close(promise: nil)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        guard !done else { context.fireChannelRead(wrapInboundOut(bytes)); return }
        buffer.writeBuffer(&bytes)
        do {
            guard let header = try ProxyHeaderParser.parse(&buffer) else { return }
            done = true
            timeout?.cancel()
            context.fireUserInboundEventTriggered(header)
            if buffer.readableBytes > 0 { context.fireChannelRead(wrapInboundOut(buffer)) }
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        } catch {
            logger.notice("bad PROXY header", metadata: ["error": "\(error)"])
            timeout?.cancel()
            context.close(promise: nil)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timeout?.cancel()
    }
}

@available(*, unavailable)
extension ProxyProtocolHandler: Sendable {}
