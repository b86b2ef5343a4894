import NIOCore

/// Collects one NUL-terminated clamd reply (the `z` command form, clamd(8)) and completes
/// `promise` with its text, or with a ``ScanError`` when the connection ends first, fails, or
/// the reply grows beyond `maxLength`. Lives on its channel's event loop.
final class ClamdReplyHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let promise: EventLoopPromise<String>
    private let endpoint: String
    private let maxLength: Int
    private var buffer = ByteBuffer()
    private var lastError: String?

    init(promise: EventLoopPromise<String>, endpoint: String, maxLength: Int) {
        self.promise = promise
        self.endpoint = endpoint
        self.maxLength = maxLength
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var chunk = unwrapInboundIn(data)
        buffer.writeBuffer(&chunk)
        let readable = buffer.readableBytesView
        if let nul = readable.firstIndex(of: 0) {
            let text = String(decoding: readable[readable.startIndex..<nul], as: UTF8.self)
            promise.succeed(text)
            context.close(promise: nil)
        } else if buffer.readableBytes > maxLength {
            promise.fail(ScanError.scannerError(endpoint: endpoint, reply: "reply longer than \(maxLength) octets"))
            context.close(promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A reset after clamd's reply (it closes while we still write) is not an error: the
        // reply, if any, was read before; channelInactive decides.
        lastError = "\(error)"
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if buffer.readableBytes > 0 {
            // A reply without its NUL (clamd closed right after writing it).
            promise.succeed(String(decoding: buffer.readableBytesView, as: UTF8.self))
        } else {
            promise.fail(ScanError.connectionLost(endpoint: endpoint, reason: lastError ?? "closed without a reply"))
        }
        context.fireChannelInactive()
    }
}

@available(*, unavailable)
extension ClamdReplyHandler: Sendable {}
