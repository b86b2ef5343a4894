import Testing

@testable import Defenses

/// Random mutations of real fields through the Authentication-Results, DMARC record and From
/// parsers: no crash, and whatever parses renders to text that parses back to the same value.
@Suite("Parsers under random mutation")
struct ParserMutationTests {
    static let seeds = [
        " mx.example.net 1; spf=pass (sender OK) smtp.mailfrom=user@example.org;\r\n\tdkim=fail reason=\"bad sig\" header.d=example.com header.b=Ab/+9x=Q",
        "(c) host; auth/1=pass smtp.auth=a@b; iprev=pass policy.iprev=192.0.2.1 (x (nested))",
        "host; none",
        "\"quoted id\"; dmarc=fail (p=reject dis=reject) header.from=example.com policy.dmarc=reject",
    ]

    static func mutate(_ text: String, _ random: inout DKIMMessageGenerator.SplitMix) -> String {
        var bytes = Array(text.utf8)
        let alphabet = Array(";=.()\"\\ \t\r\n/@aZ09-_".utf8) + [0x01, 0x7F, 0xC3]
        for _ in 0..<(1 + Int(random.next() % 4)) {
            let index = Int(random.next() % UInt64(bytes.count + 1))
            switch random.next() % 3 {
            case 0 where index < bytes.count: bytes[index] = alphabet[Int(random.next() % UInt64(alphabet.count))]
            case 1: bytes.insert(alphabet[Int(random.next() % UInt64(alphabet.count))], at: index)
            default: if index < bytes.count { bytes.remove(at: index) }
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func hasControl(_ results: AuthenticationResults) -> Bool {
        var texts = [results.authservID]
        for result in results.results {
            texts += [result.method, result.result, result.reason ?? "", result.comment ?? ""]
            texts += result.properties.flatMap { [$0.ptype, $0.name, $0.value] }
        }
        return texts.contains { $0.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F } }
    }

    @Test func authenticationResultsRoundTrip() {
        var random = DKIMMessageGenerator.SplitMix(seed: 7)
        var parsed = 0
        var mismatches: [String] = []
        for round in 0..<4000 {
            let input = Self.mutate(Self.seeds[round % Self.seeds.count], &random)
            guard let results = try? AuthenticationResults.parse(input) else { continue }
            parsed += 1
            guard !Self.hasControl(results) else { continue }
            let again = try? AuthenticationResults.parse(results.fieldValue)
            if again != results { mismatches.append("\(input.debugDescription) → \(results.fieldValue.debugDescription)") }
            _ = AuthenticationResults.authservID(in: input)
        }
        #expect(parsed > 500)
        #expect(mismatches.isEmpty, "\(mismatches.prefix(3))")
    }

    @Test func dmarcRecordAndFromNeverCrash() {
        var random = DKIMMessageGenerator.SplitMix(seed: 11)
        var records = 0
        var froms = 0
        for _ in 0..<3000 {
            let record = Self.mutate("v=DMARC1; p=reject; sp=none; pct=50; rua=mailto:a@example.com,mailto:b@example.net!10m; adkim=s", &random)
            if let parsed = try? DMARCRecord.parse(record) {
                records += 1
                #expect((0...100).contains(parsed.percentage))
                #expect((try? DMARCRecord.parse(parsed.text)).map(\.policy) == parsed.policy)
            }
            let from = Self.mutate("\"Doe, J. (x)\" <j@example.com>, Team: a@example.com (c);", &random)
            if case .success(let domain) = DMARCFromDomain.domain(inFieldValue: Array(from.utf8)) {
                froms += 1
                #expect(PublicSuffixList.labels(domain) != nil)
            }
        }
        #expect(records > 100 && froms > 100)
    }
}
