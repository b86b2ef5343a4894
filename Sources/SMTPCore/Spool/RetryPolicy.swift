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
    /// After this long in the queue, a recipient still pending gets one delayed-delivery warning
    /// (RFC 3464 `Action: delayed`) to the sender, at the first attempt past it; `0` = never.
    ///
    /// 4 hours, sendmail's `Timeout.queuewarn`: long enough that an outage the backoff rides out
    /// (a restarting next hop, a greylisting receiver) warns no one, short enough that a sender
    /// learns the same working day that the message is stuck. Postfix's `delay_warning_time` is
    /// off by default; an operator of a mail service usually expects the warning.
    public var delayWarning: TimeInterval = RetryPolicy.defaultDelayWarning

    public static let defaultDelayWarning: TimeInterval = 4 * 3600

    public init(initialDelay: TimeInterval = 30, factor: Double = 2, maxDelay: TimeInterval = 30 * 60,
                jitter: Double = 0.2, maxLifetime: TimeInterval = 5 * 24 * 3600,
                delayWarning: TimeInterval = RetryPolicy.defaultDelayWarning) {
        self.initialDelay = initialDelay
        self.factor = factor
        self.maxDelay = maxDelay
        self.jitter = jitter
        self.maxLifetime = maxLifetime
        self.delayWarning = delayWarning
    }

    /// Whether a recipient pending `age` seconds after arrival is due its delay warning.
    public func warnsOfDelay(age: TimeInterval) -> Bool {
        delayWarning > 0 && age >= delayWarning
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
