import SMTPCore
import Testing

@testable import Defenses

/// ``SPFRecordCache``: a long-lived checker parses each record text once, and its answers are the
/// ones it gave without the cache — pass stays pass, fail stays fail, a broken record stays permerror.
struct SPFRecordCacheTests {
    private static let zone = """
        example.org.        TXT  "v=spf1 ip4:192.0.2.0/24 -all"
        broken.example.org. TXT  "v=spf1 ip4:192.0.2.300 -all"
        """

    @Test func oneCheckerParsesEachRecordOnceWithTheSameResults() async throws {
        let spf = SPFChecker(resolver: try MockResolver(zone: Self.zone))
        for _ in 0..<3 {
            #expect(await spf.checkMailFrom(clientIP: IPAddress("192.0.2.1")!, mailFrom: "a@example.org", helo: "h.example").result == .pass)
            #expect(await spf.checkMailFrom(clientIP: IPAddress("198.51.100.1")!, mailFrom: "a@example.org", helo: "h.example").result == .fail)
            #expect(await spf.checkMailFrom(clientIP: IPAddress("192.0.2.1")!, mailFrom: "a@broken.example.org", helo: "h.example").result == .permerror)
        }
        #expect(spf.records.count == 2)
    }

    @Test func aFullCacheStartsOver() throws {
        let cache = SPFRecordCache(capacity: 2)
        for network in ["192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24"] { _ = try cache.record("v=spf1 ip4:\(network) -all") }
        #expect(cache.count == 1)
        #expect(throws: SPFSyntaxError.self) { try cache.record("v=spf1 ip4:192.0.2.300 -all") }
        #expect(throws: SPFSyntaxError.self) { try cache.record("v=spf1 ip4:192.0.2.300 -all") }
    }
}
