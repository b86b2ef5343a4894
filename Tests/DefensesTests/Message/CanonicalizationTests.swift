import Crypto
import SMTPCore
import Testing

@testable import Defenses

@Suite("RFC 6376 canonicalization and body hashes")
struct CanonicalizationTests {
    /// RFC 6376 §3.4.5, header fields.
    @Test func headerExamples() throws {
        let header = try MessageHeader.parse(Array("A: X\r\nB : Y\t\r\n\tZ  \r\n".utf8))
        #expect(header.fields.flatMap(Canonicalization.relaxed.canonicalize) == Array("a:X\r\nb:Y Z\r\n".utf8))
        #expect(header.fields.flatMap(Canonicalization.simple.canonicalize) == Array("A: X\r\nB : Y\t\r\n\tZ  \r\n".utf8))
    }

    static func canonical(_ body: String, _ canonicalization: Canonicalization) -> String {
        var canonicalizer = BodyCanonicalizer(canonicalization)
        var out: [UInt8] = []
        canonicalizer.update(Array(body.utf8)) { out += $0 }
        canonicalizer.finish { out += $0 }
        return String(decoding: out, as: UTF8.self)
    }

    /// RFC 6376 §3.4.5, body.
    @Test func bodyExamples() {
        let body = " C \r\nD \t E\r\n\r\n\r\n"
        #expect(Self.canonical(body, .relaxed) == " C\r\nD E\r\n")
        #expect(Self.canonical(body, .simple) == " C \r\nD \t E\r\n")
    }

    @Test(arguments: [
        // (body, simple, relaxed)
        ("", "\r\n", ""),
        ("\r\n\r\n", "\r\n", ""),
        ("  \t\r\n", "  \t\r\n", ""),
        ("abc", "abc\r\n", "abc\r\n"),
        ("a\nb\n\n", "a\r\nb\r\n", "a\r\nb\r\n"),
        ("a\r\n\r\nb \r\n \r\n", "a\r\n\r\nb \r\n \r\n", "a\r\n\r\nb\r\n"),
        ("bare\rcr\r\n", "bare\rcr\r\n", "bare\rcr\r\n"),
        ("x \r", "x \r\r\n", "x \r\r\n"),
    ])
    func bodyEdgeCases(_ body: String, _ simple: String, _ relaxed: String) {
        #expect(Self.canonical(body, .simple) == simple)
        #expect(Self.canonical(body, .relaxed) == relaxed)
    }

    /// Well-known body hashes of the empty body (RFC 6376 §3.4.3/§3.4.4).
    @Test func emptyBodyHashes() {
        var simple = BodyHasher(canonicalization: .simple)
        #expect(Base64.encode(simple.finalize()) == "frcCV1k9oG9oKj3dpUqdJg1PxRT2RSN/XKdLCPjaYaY=")
        var relaxed = BodyHasher(canonicalization: .relaxed)
        #expect(Base64.encode(relaxed.finalize()) == "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=")
    }

    /// The RFC 6376 Appendix A body hash is that of the body with ONE space after "game." — the
    /// RFC's printed text shows two (the erratum noted in shared/conformance/README.md).
    @Test func appendixABodyHashNeedsOneSpace() {
        var one = BodyHasher(canonicalization: .simple)
        one.update(Array("Hi.\r\n\r\nWe lost the game. Are you hungry yet?\r\n\r\nJoe.\r\n".utf8))
        #expect(Base64.encode(one.finalize()) == "2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=")
        var two = BodyHasher(canonicalization: .simple)
        two.update(Array("Hi.\r\n\r\nWe lost the game.  Are you hungry yet?\r\n\r\nJoe.\r\n".utf8))
        #expect(Base64.encode(two.finalize()) != "2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=")
    }

    @Test func lengthLimitHashesOnlyThePrefix() {
        var limited = BodyHasher(canonicalization: .relaxed, limit: 5)
        limited.update(Array("Hello world\r\n".utf8))
        let digest = limited.finalize()
        #expect(digest == Array(SHA256.hash(data: Array("Hello".utf8))))
        #expect(limited.canonicalLength == 13)
    }

    /// Every two-chunk split of a tricky body canonicalises like the whole, in both modes.
    @Test(arguments: Canonicalization.allCases)
    func everyChunkingGivesTheSameHash(_ canonicalization: Canonicalization) {
        let body = Array("  lead \t ws\r\n\r\nbare\rcr\nlf only\r\n \t \r\n\r\n\r\n".utf8)
        var whole = BodyHasher(canonicalization: canonicalization)
        whole.update(body)
        let expected = whole.finalize()
        for split in 0...body.count {
            var hasher = BodyHasher(canonicalization: canonicalization)
            hasher.update(body[..<split])
            hasher.update(body[split...])
            #expect(hasher.finalize() == expected, "split at \(split)")
        }
    }

    /// Millions of trailing empty lines cost no memory and are dropped.
    @Test func manyEmptyLinesStayBounded() {
        var hasher = BodyHasher(canonicalization: .simple)
        hasher.update(Array("x\r\n".utf8))
        let chunk = [UInt8](repeating: 0, count: 1 << 16).indices.map { $0 % 2 == 0 ? UInt8(ascii: "\r") : UInt8(ascii: "\n") }
        for _ in 0..<64 { hasher.update(chunk) }
        #expect(hasher.finalize() == Array(SHA256.hash(data: Array("x\r\n".utf8))))
    }

    /// RFC 6376 §3.4.3/§3.4.4 applied to a whole body at once, line by line, as the RFC words it:
    /// the oracle for the streaming canonicaliser. Lines end at LF (a CR before it belongs to the
    /// line end); any other CR is content.
    static func reference(_ body: [UInt8], _ canonicalization: Canonicalization) -> [UInt8] {
        var lines = body.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map(Array.init)
        let last = lines.removeLast()   // after the last LF: a line without its end, or nothing
        lines = lines.map { $0.last == UInt8(ascii: "\r") ? Array($0.dropLast()) : $0 }
        if !last.isEmpty { lines.append(last) }
        if canonicalization == .relaxed {
            lines = lines.map { line in
                var out: [UInt8] = []
                var inSpace = false
                for byte in line {
                    if byte == 0x20 || byte == 0x09 { inSpace = true; continue }
                    if inSpace { out.append(0x20); inSpace = false }
                    out.append(byte)
                }
                return out
            }
        }
        while lines.last?.isEmpty == true { lines.removeLast() }
        if lines.isEmpty { return canonicalization == .simple ? Array("\r\n".utf8) : [] }
        return lines.flatMap { $0 + Array("\r\n".utf8) }
    }

    /// Random bodies of the awkward bytes, fed in random pieces, canonicalise as the reference
    /// says, in both modes.
    @Test(arguments: Canonicalization.allCases)
    func randomBodiesAgreeWithTheReference(_ canonicalization: Canonicalization) {
        var generator = SystemRandomNumberGenerator()
        let alphabet: [[UInt8]] = ["a", "b", " ", "  ", "\t", "\r", "\n", "\r\n", "\r\n\r\n", "xyz "].map { Array($0.utf8) }
        for round in 0..<2_000 {
            var body: [UInt8] = []
            for _ in 0..<Int.random(in: 0...40, using: &generator) { body += alphabet.randomElement(using: &generator)! }
            var canonicalizer = BodyCanonicalizer(canonicalization)
            var out: [UInt8] = []
            var rest = body[...]
            while !rest.isEmpty {
                let take = Int.random(in: 1...max(1, rest.count), using: &generator)
                canonicalizer.update(rest.prefix(take)) { out += $0 }
                rest = rest.dropFirst(take)
            }
            canonicalizer.finish { out += $0 }
            let expected = Self.reference(body, canonicalization)
            #expect(out == expected, "round \(round): \(String(decoding: body, as: UTF8.self).debugDescription)")
            if out != expected { return }
        }
    }

    /// A non-contiguous sequence (no `withContiguousStorageIfAvailable`) canonicalises the same.
    @Test func nonContiguousInputGivesTheSameBytes() {
        let body = " C \r\nD \t E\r\n\r\n\r\n"
        for canonicalization in Canonicalization.allCases {
            var canonicalizer = BodyCanonicalizer(canonicalization)
            var out: [UInt8] = []
            canonicalizer.update(body.utf8.lazy.map { $0 }) { out += $0 }
            canonicalizer.finish { out += $0 }
            #expect(String(decoding: out, as: UTF8.self) == Self.canonical(body, canonicalization))
        }
    }
}
