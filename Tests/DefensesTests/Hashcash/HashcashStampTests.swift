import Foundation
import Testing

@testable import Defenses

/// ``HashcashStamp``: the version 1 format, the value (SHA-1 leading zero bits), and agreement
/// with the hashcash tool itself (Debian `hashcash`, Adam Back's reference implementation).
@Suite struct HashcashStampTests {
    /// The example stamp of the hashcash documentation (20 bits, 2006-04-08).
    static let documented = "1:20:060408:adam@cypherspace.org::1QTjaYd7niiQA/sc:ePa"

    /// A stamp for `resource` worth at least `bits`, claiming `claim` (default `bits`), minted by brute force.
    static func mint(_ resource: String, bits: Int, date: String, claim: Int? = nil) -> String {
        let rand = String(UInt64.random(in: 0...UInt64.max), radix: 36)
        var counter = 0
        while true {
            let text = "1:\(claim ?? bits):\(date):\(resource)::\(rand):\(String(counter, radix: 36))"
            if let stamp = HashcashStamp(text), stamp.value >= bits { return text }
            counter += 1
        }
    }

    @Test func theDocumentedStampIsWorthTwentyBits() throws {
        let stamp = try #require(HashcashStamp(Self.documented))
        #expect(stamp.claimedBits == 20 && stamp.value == 20)
        #expect(stamp.resource == "adam@cypherspace.org")
        #expect(stamp.date == Date(timeIntervalSince1970: 1_144_454_400))   // 2006-04-08T00:00:00Z
        #expect(stamp.isPaid(required: 20) && stamp.isPaid(required: 1))
        #expect(!stamp.isPaid(required: 21))
        // One character of the counter changed: the work is gone.
        let changed = try #require(HashcashStamp(String(Self.documented.dropLast()) + "b"))
        #expect(changed.value < 20 && !changed.isPaid(required: 20))
    }

    @Test func aClaimAboveTheWorkDoesNotPay() throws {
        // At least 8 zero bits, but the stamp says 24.
        var text = ""
        repeat { text = Self.mint("r@mx.test", bits: 8, date: "261207", claim: 24) } while HashcashStamp(text)!.value >= 24
        let stamp = try #require(HashcashStamp(text))
        #expect(stamp.claimedBits == 24 && stamp.value >= 8)
        #expect(!stamp.isPaid(required: 8), "the claim is what is checked against the work")
        let honest = try #require(HashcashStamp(Self.mint("r@mx.test", bits: 8, date: "261207")))
        #expect(honest.isPaid(required: 8) && !honest.isPaid(required: 9))
    }

    @Test(arguments: [("261207", 1_796_601_600.0), ("2612071530", 1_796_657_400.0), ("261207153045", 1_796_657_445.0)])
    func datesWithDayMinuteOrSecondResolution(field: String, epoch: Double) throws {
        let stamp = try #require(HashcashStamp("1:20:\(field):r@mx.test::abc:1"))
        #expect(stamp.date == Date(timeIntervalSince1970: epoch))
    }

    @Test(arguments: [
        "0:061208:r@mx.test:abc",                          // version 0
        "1:20:261207:r@mx.test::abc",                     // six fields
        "1:20:261207:r@mx.test::abc:1:2",                 // eight
        "1:20:261207:::abc:1",                            // no resource
        "1:2x:261207:r@mx.test::abc:1",                   // bits not a number
        "1:-1:261207:r@mx.test::abc:1",
        "1:161:261207:r@mx.test::abc:1",
        "1:20:261307:r@mx.test::abc:1",                   // month 13
        "1:20:260230:r@mx.test::abc:1",                   // 30 February
        "1:20:2612:r@mx.test::abc:1",                     // four digits
        "1:20:26120a:r@mx.test::abc:1",
        "1:20:2612072460:r@mx.test::abc:1",               // 24:60
        "1:20:261207:r@mx.test::a bc:1",                  // white space inside
        "1:20:261207:r@mx.test:::1",                      // no rand
        "1:20:261207:r@mx.test::abc:",                    // no counter
        "",
    ])
    func malformedStampsAreRefused(text: String) {
        #expect(HashcashStamp(text) == nil, "\(text)")
    }

    @Test func overlongStampsAreRefused() {
        let ext = String(repeating: "x", count: HashcashStamp.maxLength)
        #expect(HashcashStamp("1:20:261207:r@mx.test:\(ext):abc:1") == nil)
        #expect(HashcashStamp("  1:20:261207:r@mx.test::abc:1 ") != nil, "surrounding white space is not the stamp")
    }

    /// Stamps minted by the hashcash tool are paid here; with one character changed, this
    /// implementation and the tool's check agree on every stamp.
    @Test func agreesWithTheHashcashTool() async throws {
        guard let tool = ["/usr/bin/hashcash", "/usr/local/bin/hashcash"].first(where: FileManager.default.isExecutableFile(atPath:)) else {
            Issue.record("hashcash is not installed (.ci/install-deps installs it)")
            return
        }
        for index in 0..<8 {
            let resource = "user\(index)@mx.test"
            let minted = try await Self.run(tool, ["-m", "-q", "-b", "14", "-r", resource]).output
            let stamp = try #require(HashcashStamp(minted), "\(minted)")
            #expect(stamp.resource == resource && stamp.claimedBits == 14 && stamp.value >= 14 && stamp.isPaid(required: 14))
            // `hashcash -c` without a double-spend database: 2 = valid (not checked for double spending), 1 = invalid.
            #expect(try await Self.run(tool, ["-c", "-b", "14", "-r", resource, minted]).status == 2, "the tool accepts its own stamp")
            // A changed counter: both sides decide the same (nearly always "not paid").
            let last = minted.last!
            let mutated = String(minted.dropLast()) + (last == "A" ? "B" : "A")
            let ours = HashcashStamp(mutated)?.isPaid(required: 14) ?? false
            let theirs = try await Self.run(tool, ["-c", "-b", "14", "-r", resource, mutated]).status == 2
            #expect(ours == theirs, "\(mutated): mailnode \(ours), hashcash \(theirs)")
        }
    }

    static func run(_ tool: String, _ arguments: [String]) async throws -> (status: Int32, output: String) {
        try await offThePool {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: tool)
            process.arguments = arguments
            let out = Pipe()
            process.standardOutput = out
            process.standardError = FileHandle.nullDevice
            try process.run()
            let data = out.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return (process.terminationStatus, String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
        }
    }
}
