import NIOCore

/// DM33, the floor of "Data rate (bps) limit of each SMTP flow": the average rate of one
/// message's data phase, measured against ``SMTPLimits/minDataRate`` once
/// ``SMTPLimits/dataRateGrace`` has passed.
///
/// The data phase starts at the 354 (DATA) or when the first BDAT chunk is read, and lasts to
/// the final dot or the `LAST` chunk; the time between BDAT chunks counts (a client that sends
/// one-octet chunks is as slow as one that drips DATA). Time in which the server did not read
/// (storage back-pressure, the bandwidth cap) is not the client's fault and is left out.
///
/// Instead of sampling the rate periodically the guard computes the moment the average would
/// fall below the floor if nothing more arrived (``deadline``); the session's one timer covers
/// it, and every octet received moves it later.
public struct DataRateGuard: Sendable, Hashable {
    /// Octets per second the average must reach.
    public let floor: Int
    /// How long the phase may run before the floor applies.
    public let grace: TimeAmount
    /// When the data phase started.
    public let start: NIODeadline
    /// Octets received in the data phase so far (after dot-unstuffing, discarded ones included).
    public private(set) var octets = 0
    /// Time the server held reads, not counted.
    private var paused: TimeAmount = .zero
    private var pausedSince: NIODeadline?

    /// `floor` must be positive; a zero floor means no guard at all.
    public init(floor: Int, grace: TimeAmount, start: NIODeadline, readsPaused: Bool = false) {
        precondition(floor > 0, "a DataRateGuard needs a positive floor")
        self.floor = floor
        self.grace = grace
        self.start = start
        self.pausedSince = readsPaused ? start : nil
    }

    /// The client sent `count` more octets of the message.
    public mutating func record(_ count: Int) {
        octets += count
    }

    /// The server stopped reading from the connection.
    public mutating func readsPaused(at now: NIODeadline) {
        if pausedSince == nil { pausedSince = now }
    }

    /// The server reads again.
    public mutating func readsResumed(at now: NIODeadline) {
        guard let since = pausedSince else { return }
        paused = paused + max(now - since, .zero)
        pausedSince = nil
    }

    /// The time that counts against the client: since ``start``, without paused reads.
    public func elapsed(at now: NIODeadline) -> TimeAmount {
        var elapsed = now - start - paused
        if let pausedSince { elapsed = elapsed - max(now - pausedSince, .zero) }
        return max(elapsed, .zero)
    }

    /// The average rate in octets per second (octets so far when less than a millisecond passed).
    public func rate(at now: NIODeadline) -> Int {
        let nanoseconds = elapsed(at: now).nanoseconds
        guard nanoseconds >= 1_000_000 else { return octets }
        return Int((Double(octets) * 1e9 / Double(nanoseconds)).rounded(.down))
    }

    /// When the phase falls below the floor unless more octets arrive: `start + max(grace,
    /// octets / floor)`, plus paused time; `nil` while reads are paused.
    public var deadline: NIODeadline? {
        guard pausedSince == nil else { return nil }
        // Octets the floor allows for: in nanoseconds, without overflow for any realistic size.
        let earned = TimeAmount.nanoseconds(Int64((Double(octets) / Double(floor) * 1e9).rounded(.up)))
        return start + paused + max(grace, earned)
    }

    /// True once the grace period is over and the average is below the floor.
    public func isBelowFloor(at now: NIODeadline) -> Bool {
        guard let deadline else { return false }
        return now >= deadline
    }
}

extension Reply {
    /// DM33: `421 4.4.2`, the data phase fell below ``SMTPLimits/minDataRate``.
    ///
    /// 421, not 451: the server closes the connection in the middle of the data, and RFC 5321
    /// [§3.8](https://www.rfc-editor.org/rfc/rfc5321#section-3.8) lets it do that only with 421
    /// (a 451 answers a completed DATA, which never comes). 4.4.2 is RFC 3463
    /// [§3.5](https://www.rfc-editor.org/rfc/rfc3463#section-3.5) "Bad connection: ... unable
    /// to complete the message transaction, either because of time-out, or inadequate
    /// connection quality", the code the server's timeouts already use. The reply is a
    /// temporary failure: a legitimate sender on a bad link tries again later.
    public static let dataRateTooLow = Reply(.serviceNotAvailable, .timeout, "Data rate too low, closing connection")
}
