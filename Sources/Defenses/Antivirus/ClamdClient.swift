import NIOCore
import NIOPosix

/// A client for ClamAV's clamd over TCP or a Unix socket (clamd(8): `zPING`, `zVERSION`,
/// `zINSTREAM`), with failover across several instances.
///
/// Each request uses its own connection (clamd serves one command per connection unless a
/// session is opened with `IDSESSION`). All I/O runs on SwiftNIO event loops.
///
/// ```
/// C: zINSTREAM\0 <len:4 BE><data> ... <0:4 BE>
/// S: stream: OK\0 | stream: <Name> FOUND\0 | INSTREAM size limit exceeded. ERROR\0
/// ```
public struct ClamdClient: VirusScanner {
    public let configuration: ClamdConfiguration
    private let group: any EventLoopGroup
    private let health: ClamdHealth

    public init(configuration: ClamdConfiguration, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.configuration = configuration
        self.group = group
        self.health = ClamdHealth(retryAfter: configuration.retryFailedAfter)
    }

    private func exchange(_ endpoint: ClamdEndpoint) -> ClamdExchange {
        ClamdExchange(endpoint: endpoint, group: group, connectTimeout: configuration.connectTimeout,
                      maxReplyLength: configuration.maxReplyLength)
    }

    // MARK: - Health checks

    /// `zPING`: true when `endpoint` answers `PONG`.
    public func ping(_ endpoint: ClamdEndpoint) async -> Result<Void, ScanError> {
        switch await exchange(endpoint).command("zPING\0", timeout: configuration.commandTimeout) {
        case .success(let reply) where reply == "PONG":
            await health.succeeded(endpoint)
            return .success(())
        case .success(let reply):
            await health.failed(endpoint)
            return .failure(.scannerError(endpoint: endpoint.description, reply: reply))
        case .failure(let error):
            await health.failed(endpoint)
            return .failure(error)
        }
    }

    /// `zVERSION`: the engine and database version, e.g. `ClamAV 1.4.6/27480/Mon Nov 23 ...`.
    public func version(_ endpoint: ClamdEndpoint) async -> Result<String, ScanError> {
        await exchange(endpoint).command("zVERSION\0", timeout: configuration.commandTimeout)
    }

    // MARK: - Scanning

    /// Streams `message` to the first instance that answers (recently failed instances last).
    ///
    /// A message longer than ``ClamdConfiguration/maxStreamLength`` is not sent. clamd's own
    /// size-limit reply ends the scan too (another instance would say the same); connection
    /// trouble, timeouts and clamd errors move on to the next instance.
    public func scan(_ message: ByteBuffer) async -> ScanOutcome {
        guard !configuration.endpoints.isEmpty else { return ScanOutcome(result: .error(.noScanner)) }
        guard message.readableBytes <= configuration.maxStreamLength else {
            return ScanOutcome(result: .error(.sizeLimitExceeded(limit: configuration.maxStreamLength)))
        }
        var failures: [String] = []
        var lastError = ScanError.noScanner
        for endpoint in await health.ordered(configuration.endpoints) {
            let reply = await exchange(endpoint).instream(
                message, chunkSize: configuration.chunkSize, timeout: configuration.scanTimeout)
            let result: ScanResult
            switch reply {
            case .success(let line): result = ClamdReply.scanResult(line, endpoint: endpoint)
            case .failure(let error): result = .error(error)
            }
            if case .error(let error) = result, error.isInstanceFailure {
                await health.failed(endpoint)
                failures.append("\(endpoint): \(error)")
                lastError = error
                continue
            }
            await health.succeeded(endpoint)
            return ScanOutcome(result: result, scanner: endpoint.description, failures: failures)
        }
        return ScanOutcome(result: .error(lastError), failures: failures)
    }
}
