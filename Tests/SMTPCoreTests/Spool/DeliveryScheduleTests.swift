import Foundation
import Testing
@testable import SMTPCore

@Suite struct DeliveryScheduleTests {
    let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    @Test func popsDueEntriesEarliestFirstAndKeepsTheRest() {
        var schedule = DeliverySchedule()
        schedule.schedule("late", at: t0.addingTimeInterval(300))
        schedule.schedule("b", at: t0.addingTimeInterval(-5))
        schedule.schedule("a", at: t0.addingTimeInterval(-10))
        schedule.schedule("now", at: t0)
        #expect(schedule.nextDue == t0.addingTimeInterval(-10))
        #expect(schedule.popDue(now: t0, limit: 10) == ["a", "b", "now"])
        #expect(schedule.count == 1)
        #expect(schedule.nextDue == t0.addingTimeInterval(300))
        #expect(schedule.popDue(now: t0, limit: 10).isEmpty)
        #expect(schedule.popDue(now: t0.addingTimeInterval(300), limit: 10) == ["late"])
        #expect(schedule.isEmpty && schedule.nextDue == nil)
    }

    /// An operator's hold or delete takes an id out of the middle of the heap; order holds.
    @Test func removeTakesOneIdOutAndKeepsTheOrder() {
        var schedule = DeliverySchedule()
        for index in 0..<50 { schedule.schedule("m\(index)", at: t0.addingTimeInterval(Double((index * 37) % 50))) }
        schedule.remove("m10")
        schedule.remove("m0")
        schedule.remove("absent")
        #expect(schedule.count == 48 && !schedule.contains("m10") && schedule.contains("m11"))
        let expected = (0..<50).filter { $0 != 10 && $0 != 0 }.sorted { ($0 * 37) % 50 < ($1 * 37) % 50 }.map { "m\($0)" }
        #expect(schedule.popDue(now: t0.addingTimeInterval(100), limit: 100) == expected)
    }

    @Test func equalTimesComeOutInSchedulingOrderAndTheLimitHolds() {
        var schedule = DeliverySchedule()
        for index in 0..<10 { schedule.schedule("m\(index)", at: t0) }
        #expect(schedule.popDue(now: t0, limit: 4) == ["m0", "m1", "m2", "m3"])
        #expect(schedule.popDue(now: t0, limit: 100) == ["m4", "m5", "m6", "m7", "m8", "m9"])
    }

    /// A random mix against a sort of the same items: the heap never reorders wrongly.
    @Test func agreesWithASortOnRandomInput() {
        var generator = SystemRandomNumberGenerator()
        var schedule = DeliverySchedule()
        var expected: [(Date, Int)] = []
        for index in 0..<5_000 {
            let due = t0.addingTimeInterval(Double(Int.random(in: -500...500, using: &generator)))
            schedule.schedule("\(index)", at: due)
            expected.append((due, index))
        }
        expected.sort { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 < $1.1 }
        let popped = schedule.popDue(now: t0.addingTimeInterval(1_000), limit: .max)
        #expect(popped == expected.map { "\($0.1)" })
    }
}
