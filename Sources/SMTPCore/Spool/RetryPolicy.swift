import Foundation

/// When to try a deferred message again, and when to give up.
///
/// Exponential backoff with jitter: attempt n waits `initialDelay × factor^(n-1)`, capped at
/// `maxDelay`, then spread by ±`jitter` so that a next hop that comes back is not hit by every
/// queued message at once. Postfix waits 5 min → 4000 s over 5 days; between our own stages
/// a quicker start is better (the hop is usually back within seconds).
public struct RetryPolicy: Sendable, Hashable, Codable {
    public var initialDelay: TimeInterval = 30
    public var factor: Double = 2
    public var maxDelay: TimeInterval = 30 * 60
    /// Fraction of the delay added or removed at random (0.2 = ±20 %).
    public var jitter: Double = 0.2
    /// After this long in the queue, pending recipients fail (RFC 5321 §4.5.4.1: 4–5 days).
    public var maxLifetime: TimeInterval = 5 * 24 * 3600

    public init(initialDelay: TimeInterval = 30, factor: Double = 2, maxDelay: TimeInterval = 30 * 60,
                jitter: Double = 0.2, maxLifetime: TimeInterval = 5 * 24 * 3600) {
        self.initialDelay = initialDelay
        self.factor = factor
        self.maxDelay = maxDelay
        self.jitter = jitter
        self.maxLifetime = maxLifetime
    }

    /// The wait before the next try after `attempts` failed tries (≥ 1).
    public func delay<R: RandomNumberGenerator>(afterAttempts attempts: Int, using generator: inout R) -> TimeInterval {
        let base = min(maxDelay, initialDelay * pow(factor, Double(max(0, attempts - 1))))
        guard jitter > 0 else { return base }
        return base * (1 + Double.random(in: -jitter...jitter, using: &generator))
    }

    public func delay(afterAttempts attempts: Int) -> TimeInterval {
        var generator = SystemRandomNumberGenerator()
        return delay(afterAttempts: attempts, using: &generator)
    }
}
