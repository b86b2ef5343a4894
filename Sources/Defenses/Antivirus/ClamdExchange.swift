import NIOCore
import NIOPosix

/// One request/reply exchange with one clamd instance on a fresh connection: connect, send a
/// `z`-prefixed command (and for INSTREAM the chunked stream), read the NUL-terminated reply,
/// close. Everything runs on a NIO event loop; the caller only awaits futures, so no event
/// loop thread ever blocks (DESIGN.md §3.3).
struct ClamdExchange: Sendable {
    let endpoint: ClamdEndpoint
    let group: any EventLoopGroup
    let connectTimeout: Duration
    let maxReplyLength: Int

    /// Sends `command` (e.g. `zPING\0`) and returns the reply text.
    func command(_ command: String, timeout: Duration) async -> Result<String, ScanError> {
        await run(timeout: timeout) { channel in
            try await channel.writeAndFlush(ByteBuffer(string: command)).get()
        }
    }

    /// `zINSTREAM\0`, then `message` in chunks of at most `chunkSize` octets, each preceded by
    /// its length as a 4-octet big-endian integer, then a zero-length chunk (clamd(8)).
    ///
    /// When clamd stops the stream early (its `StreamMaxLength`: it answers
    /// `INSTREAM size limit exceeded. ERROR` and closes) our writes fail; the reply already
    /// read decides, so an early stop never hangs.
    func instream(_ message: ByteBuffer, chunkSize: Int, timeout: Duration) async -> Result<String, ScanError> {
        await run(timeout: timeout) { channel in
            try await channel.writeAndFlush(ByteBuffer(string: "zINSTREAM\0")).get()
            var remaining = message
            while remaining.readableBytes > 0 {
                let length = min(chunkSize, remaining.readableBytes)
                guard let payload = remaining.readSlice(length: length) else { break }
                var frame = channel.allocator.buffer(capacity: 4)
                frame.writeInteger(UInt32(length), endianness: .big)
                channel.write(frame, promise: nil)
                // Awaiting each chunk's write gives back-pressure: at most one chunk waits in NIO.
                try await channel.writeAndFlush(payload).get()
            }
            var end = channel.allocator.buffer(capacity: 4)
            end.writeInteger(UInt32(0), endianness: .big)
            try await channel.writeAndFlush(end).get()
        }
    }

    private func run(timeout: Duration, send: @escaping @Sendable (any Channel) async throws -> Void) async -> Result<String, ScanError> {
        let loop = group.next()
        let promise = loop.makePromise(of: String.self)
        let name = endpoint.description
        let maxReplyLength = maxReplyLength
        let bootstrap = ClientBootstrap(group: loop)
            .connectTimeout(TimeAmount(connectTimeout))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        ClamdReplyHandler(promise: promise, endpoint: name, maxLength: maxReplyLength))
                }
            }
        let channel: any Channel
        do {
            switch endpoint {
            case .tcp(let host, let port): channel = try await bootstrap.connect(host: host, port: port).get()
            case .unixSocket(let path): channel = try await bootstrap.connect(unixDomainSocketPath: path).get()
            }
        } catch {
            promise.fail(error)
            return .failure(.connectFailed(endpoint: name, reason: "\(error)"))
        }
        let deadline = loop.scheduleTask(in: TimeAmount(timeout)) {
            promise.fail(ScanError.timedOut(endpoint: name))
            channel.close(promise: nil)
        }
        promise.futureResult.whenComplete { _ in
            deadline.cancel()
            channel.close(promise: nil)
        }
        // Write failures are not reported by themselves: clamd may have answered and closed
        // (size limit); the reply handler completes the promise either way.
        try? await send(channel)
        do {
            return try await withTaskCancellationHandler {
                .success(try await promise.futureResult.get())
            } onCancel: {
                promise.fail(ScanError.connectionLost(endpoint: name, reason: "cancelled"))
            }
        } catch let error as ScanError {
            return .failure(error)
        } catch {
            return .failure(.connectionLost(endpoint: name, reason: "\(error)"))
        }
    }
}
