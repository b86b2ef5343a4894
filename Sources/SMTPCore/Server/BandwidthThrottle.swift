import NIOCore

/// DM33, the cap of "Data rate (bps) limit of each SMTP flow": a token bucket over the octets
/// one connection sends us, refilled at ``SMTPLimits/maxDataRate`` octets per second.
///
/// The handler asks ``resumeTime(now:)`` before each socket read; while the bucket is in debt
/// it does not read, so the kernel's receive window fills and TCP flow control slows the
/// client down — no busy loop, one timer per pause. Reads are at most ``readSize`` octets
/// (the handler sets a fixed receive buffer of that size), so a read can overdraw the bucket
/// by at most one read; the average never exceeds the rate by more than `burst + readSize`
/// over any interval.
public struct BandwidthThrottle: Sendable, Hashable {
    /// Octets per second.
    public let rate: Int
    /// Octets the bucket holds when full (what may arrive at once after a quiet spell).
    public let burst: Int
    /// The largest single read (a tenth of a second's worth, 512 octets to 64 KiB).
    public var readSize: Int { Self.readSize(forRate: rate) }
    private var tokens: Double
    private var refilled: NIODeadline

    /// `rate` must be positive.
    public init(rate: Int, now: NIODeadline) {
        precondition(rate > 0, "a BandwidthThrottle needs a positive rate")
        self.rate = rate
        self.burst = Self.readSize(forRate: rate)
        self.tokens = Double(burst)
        self.refilled = now
    }

    static func readSize(forRate rate: Int) -> Int {
        min(max(rate / 10, 512), 65_536)
    }

    private mutating func refill(_ now: NIODeadline) {
        guard now > refilled else { return }
        tokens = min(Double(burst), tokens + Double(rate) * Double((now - refilled).nanoseconds) / 1e9)
        refilled = now
    }

    /// `count` octets were read.
    public mutating func consume(_ count: Int, now: NIODeadline) {
        refill(now)
        tokens -= Double(count)
    }

    /// When the next read may start; `nil` if it may start now.
    public mutating func resumeTime(now: NIODeadline) -> NIODeadline? {
        refill(now)
        guard tokens < 0 else { return nil }
        return now + .nanoseconds(Int64((-tokens / Double(rate) * 1e9).rounded(.up)))
    }
}
