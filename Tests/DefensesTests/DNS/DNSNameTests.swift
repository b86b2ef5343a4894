import Testing

@testable import Defenses

/// ``DNSName/normalize(_:)``'s fast path gives exactly what the wire round trip gives, and
/// leaves every name it does not recognise to it.
struct DNSNameTests {
    @Test func theFastPathAgreesWithTheWireRoundTrip() throws {
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789-_")
        var checked = 0
        for _ in 0..<3000 {
            let labels = (0..<Int.random(in: 1...6, using: &generator)).map { _ in
                String((0..<Int.random(in: 1...70, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! })
            }
            let name = labels.joined(separator: ".") + (Bool.random(using: &generator) ? "." : "")
            let slow = Result { () throws(DNSError) in try DNSName.normalizeThroughWire(name) }
            if let fast = DNSName.canonicalAlready(name) {
                #expect(try slow.get() == fast, "\(name)")
                checked += 1
            } else {
                // Left to the slow path only when it is not plainly canonical: a label over 63 octets
                // or a name over 255.
                let bare = name.hasSuffix(".") ? name.dropLast() : Substring(name)
                #expect(labels.contains { $0.count > 63 } || bare.utf8.count + 2 > 255, "\(name)")
            }
        }
        #expect(checked > 500)
    }

    @Test(arguments: ["Example.COM", "a\\.b.test", "a..b", ".", "", ".a", "b\u{fc}cher.example", "a b.test", "x.\u{7f}"])
    func namesOutsideTheCanonicalFormTakeTheSlowPath(name: String) {
        #expect(DNSName.canonicalAlready(name) == nil)
    }

    @Test func theFastPathKeepsWhatItMayAndDropsTheTrailingDot() throws {
        #expect(DNSName.canonicalAlready("1.0.0.127.bl.test") == "1.0.0.127.bl.test")
        #expect(DNSName.canonicalAlready("_dmarc.sender.test.") == "_dmarc.sender.test")
        #expect(try DNSName.normalize("Sender.TEST.") == "sender.test")   // the slow path still lower-cases
    }
}
