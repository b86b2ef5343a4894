/// Which clamd instances failed recently, so failover tries the healthy ones first. One per
/// ``ClamdClient``; no global state.
actor ClamdHealth {
    private var failedAt: [ClamdEndpoint: ContinuousClock.Instant] = [:]
    private let retryAfter: Duration

    init(retryAfter: Duration) {
        self.retryAfter = retryAfter
    }

    /// `endpoints` with the recently failed ones moved to the end (in their configured order):
    /// a failed instance is still tried when every other one fails too.
    func ordered(_ endpoints: [ClamdEndpoint], now: ContinuousClock.Instant = .now) -> [ClamdEndpoint] {
        let isDown: (ClamdEndpoint) -> Bool = { endpoint in
            guard let failed = self.failedAt[endpoint] else { return false }
            return now - failed < self.retryAfter
        }
        return endpoints.filter { !isDown($0) } + endpoints.filter(isDown)
    }

    func failed(_ endpoint: ClamdEndpoint, now: ContinuousClock.Instant = .now) {
        failedAt[endpoint] = now
    }

    func succeeded(_ endpoint: ClamdEndpoint) {
        failedAt[endpoint] = nil
    }
}
