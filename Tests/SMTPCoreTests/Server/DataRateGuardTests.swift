import NIOCore
import Testing
@testable import SMTPCore

/// DM33 without sockets: the floor's arithmetic, the session with a mock clock, the
/// bandwidth cap's bucket.
@Suite struct DataRateGuardTests {
    static let t0 = NIODeadline.uptimeNanoseconds(1_000_000_000)

    // MARK: DataRateGuard

    @Test func floorAppliesOnlyAfterTheGracePeriod() {
        var rateGuard = DataRateGuard(floor: 1000, grace: .seconds(2), start: Self.t0)
        rateGuard.record(100)
        #expect(!rateGuard.isBelowFloor(at: Self.t0 + .milliseconds(1999)))
        #expect(rateGuard.isBelowFloor(at: Self.t0 + .seconds(2)))
        #expect(rateGuard.rate(at: Self.t0 + .seconds(2)) == 50)
    }

    @Test func octetsMoveTheDeadline() {
        var rateGuard = DataRateGuard(floor: 1000, grace: .seconds(2), start: Self.t0)
        rateGuard.record(5000)
        #expect(rateGuard.deadline == Self.t0 + .seconds(5))
        #expect(!rateGuard.isBelowFloor(at: Self.t0 + .milliseconds(4999)))
        #expect(rateGuard.isBelowFloor(at: Self.t0 + .seconds(5)))
    }

    @Test func pausedReadsDoNotCount() {
        var rateGuard = DataRateGuard(floor: 1000, grace: .seconds(2), start: Self.t0)
        rateGuard.record(1000)
        rateGuard.readsPaused(at: Self.t0 + .seconds(1))
        #expect(rateGuard.deadline == nil)
        #expect(!rateGuard.isBelowFloor(at: Self.t0 + .seconds(60)))
        rateGuard.readsResumed(at: Self.t0 + .seconds(11))
        // 10 s paused: the 2 s grace ends at 12 s.
        #expect(rateGuard.deadline == Self.t0 + .seconds(12))
        #expect(rateGuard.elapsed(at: Self.t0 + .seconds(12)) == .seconds(2))
        #expect(rateGuard.rate(at: Self.t0 + .seconds(12)) == 500)
    }

    @Test func guardStartedWhileReadsArePausedWaits() {
        var rateGuard = DataRateGuard(floor: 1000, grace: .seconds(2), start: Self.t0, readsPaused: true)
        #expect(rateGuard.deadline == nil)
        rateGuard.readsResumed(at: Self.t0 + .seconds(3))
        #expect(rateGuard.deadline == Self.t0 + .seconds(5))
    }

    // MARK: The session (mock clock)

    static let transaction = "EHLO c\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<b@mx.test>\r\nDATA\r\n"

    static func slowFloor(_ floor: Int = 1000, grace: Int64 = 2) -> SMTPSessionConfiguration {
        .test { $0.limits.minDataRate = floor; $0.limits.dataRateGrace = grace }
    }

    @Test func slowDataIsCutOffWith421AndNothingIsStored() {
        var harness = SessionHarness(Self.slowFloor())
        #expect(harness.codes(Self.transaction) == [250, 250, 250, 354])
        harness.send(String(repeating: "x", count: 100))
        #expect(harness.advance(seconds: 1).isEmpty)
        let replies = harness.advance(seconds: 1)
        #expect(replies == [.dataRateTooLow])
        #expect(replies.first?.code == .serviceNotAvailable)
        #expect(replies.first?.enhancedCode == EnhancedStatusCode(4, 4, 2))
        #expect(harness.closed)
        #expect(harness.aborted == 1)
        #expect(harness.messages.isEmpty)
        #expect(harness.session.timeoutCause == .dataRateBelowFloor(rate: 50, floor: 1000, octets: 100))
    }

    @Test func dataAboveTheFloorIsAccepted() {
        var harness = SessionHarness(Self.slowFloor())
        harness.send(Self.transaction)
        for _ in 0..<5 {
            harness.send(String(repeating: String(repeating: "y", count: 498) + "\r\n", count: 3))
            #expect(harness.advance(seconds: 1).isEmpty)
        }
        #expect(harness.codes(".\r\n") == [250])
        #expect(harness.messages.count == 1)
        // After the message the floor no longer applies: only the command timeout.
        #expect(harness.advance(seconds: 60).isEmpty)
    }

    @Test func zeroFloorTurnsTheGuardOff() {
        var harness = SessionHarness(.test { $0.limits.minDataRate = 0; $0.limits.dataTimeout = 300 })
        harness.send(Self.transaction + "x")
        #expect(harness.session.deadline == harness.now + .seconds(300))
        #expect(harness.advance(seconds: 299).isEmpty)
        #expect(harness.session.timeoutCause == nil)
    }

    @Test func defaultFloorIsPostfixsAfterThirtySeconds() {
        let limits = SMTPLimits()
        #expect(limits.minDataRate == 500)
        #expect(limits.dataRateGrace == 30)
        #expect(limits.maxDataRate == 0)
        var harness = SessionHarness()
        harness.send(Self.transaction + "x")
        #expect(harness.advance(seconds: 29).isEmpty)
        #expect(harness.advance(seconds: 1) == [.dataRateTooLow])
    }

    @Test func pauseBetweenBDATChunksCounts() {
        var harness = SessionHarness(Self.slowFloor())
        #expect(harness.codes("EHLO c\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<b@mx.test>\r\nBDAT 10\r\n0123456789") == [250, 250, 250, 250])
        #expect(harness.advance(seconds: 1).isEmpty)
        // Between chunks, in the transaction phase: still the same message's data phase.
        #expect(harness.advance(seconds: 1) == [.dataRateTooLow])
        #expect(harness.aborted == 1)
        #expect(harness.messages.isEmpty)
    }

    @Test func pausedReadsAreNotTheClientsFault() {
        var harness = SessionHarness(Self.slowFloor())
        harness.send(Self.transaction + "x")
        harness.session.readingPaused(now: harness.now)
        #expect(harness.advance(seconds: 20).isEmpty)
        harness.session.readingResumed(now: harness.now)
        #expect(harness.advance(seconds: 1).isEmpty)
        #expect(harness.advance(seconds: 1) == [.dataRateTooLow])
    }

    @Test func rsetEndsTheDataPhase() {
        var harness = SessionHarness(Self.slowFloor())
        #expect(harness.codes("EHLO c\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<b@mx.test>\r\nBDAT 1\r\nz") == [250, 250, 250, 250])
        #expect(harness.codes("RSET\r\n") == [250])
        #expect(harness.advance(seconds: 10).isEmpty)
        #expect(!harness.closed)
    }

    // MARK: BandwidthThrottle

    @Test func bucketPausesReadsByTheDebt() {
        var throttle = BandwidthThrottle(rate: 10_000, now: Self.t0)
        #expect(throttle.readSize == 1000)
        #expect(throttle.burst == 1000)
        throttle.consume(1000, now: Self.t0)
        #expect(throttle.resumeTime(now: Self.t0) == nil)
        throttle.consume(1000, now: Self.t0)
        let resume = throttle.resumeTime(now: Self.t0)
        #expect(resume.map { Self.isNear($0, Self.t0 + .milliseconds(100)) } == true)
        #expect(throttle.resumeTime(now: Self.t0 + .milliseconds(101)) == nil)
    }

    @Test func bucketNeverHoldsMoreThanTheBurst() {
        var throttle = BandwidthThrottle(rate: 10_000, now: Self.t0)
        // A long quiet spell does not store up more than one burst.
        throttle.consume(3000, now: Self.t0 + .seconds(60))
        let resume = throttle.resumeTime(now: Self.t0 + .seconds(60))
        #expect(resume.map { Self.isNear($0, Self.t0 + .seconds(60) + .milliseconds(200)) } == true)
    }

    /// Within a microsecond (the bucket counts in floating point); mock clock, not wall clock.
    static func isNear(_ a: NIODeadline, _ b: NIODeadline) -> Bool {
        abs(Int64(a.uptimeNanoseconds) - Int64(b.uptimeNanoseconds)) < 1000
    }

    @Test func readSizeIsBounded() {
        #expect(BandwidthThrottle(rate: 1024, now: Self.t0).readSize == 512)
        #expect(BandwidthThrottle(rate: 100_000_000, now: Self.t0).readSize == 65_536)
    }
}
