/// How mailnode talks to clamd. Every limit has a default.
public struct ClamdConfiguration: Hashable, Sendable {
    /// The clamd instances, tried in this order; an instance that failed recently is tried
    /// after the others until ``retryFailedAfter`` has passed.
    public var endpoints: [ClamdEndpoint]
    /// Time allowed for the TCP or Unix-socket connect. Default 2 s.
    public var connectTimeout: Duration
    /// Time allowed for one whole exchange after connecting (sending the stream and reading the
    /// reply). A clamd that stops answering costs at most this per instance. Default 60 s.
    public var scanTimeout: Duration
    /// Time allowed for `zPING`/`zVERSION`. Default 5 s.
    public var commandTimeout: Duration
    /// Payload octets per INSTREAM chunk. Default 64 KiB.
    public var chunkSize: Int
    /// The longest stream we send. Should not exceed clamd's `StreamMaxLength` (default 25 MB in
    /// clamd.conf(5)); a longer message is not sent at all and yields
    /// ``ScanError/sizeLimitExceeded(limit:)``. Default 25 MiB.
    public var maxStreamLength: Int
    /// The longest reply line we read before calling the reply garbage. Default 4 KiB.
    public var maxReplyLength: Int
    /// How long an instance that failed is tried only after the others. Default 30 s.
    public var retryFailedAfter: Duration

    public init(
        endpoints: [ClamdEndpoint],
        connectTimeout: Duration = .seconds(2),
        scanTimeout: Duration = .seconds(60),
        commandTimeout: Duration = .seconds(5),
        chunkSize: Int = 64 * 1024,
        maxStreamLength: Int = 25 * 1024 * 1024,
        maxReplyLength: Int = 4096,
        retryFailedAfter: Duration = .seconds(30)
    ) {
        self.endpoints = endpoints
        self.connectTimeout = connectTimeout
        self.scanTimeout = scanTimeout
        self.commandTimeout = commandTimeout
        self.chunkSize = max(1, chunkSize)
        self.maxStreamLength = maxStreamLength
        self.maxReplyLength = maxReplyLength
        self.retryFailedAfter = retryFailedAfter
    }
}
