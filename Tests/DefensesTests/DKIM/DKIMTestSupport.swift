import Foundation
import Testing

@testable import Defenses

/// Files and DNS for the DKIM tests.
enum DKIMFixtures {
    static var dkimpy: URL { DNSFixtures.root.appendingPathComponent("Fixtures/dkim/dkimpy") }

    static func bytes(_ name: String) throws -> [UInt8] {
        Array(try Data(contentsOf: dkimpy.appendingPathComponent(name)))
    }

    static func text(_ name: String) throws -> String {
        try String(contentsOf: dkimpy.appendingPathComponent(name), encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// A file with every LF turned into CRLF (EXPECTED.md: "convert every LF to CRLF").
    static func message(_ name: String) throws -> [UInt8] {
        crlf(try bytes(name))
    }

    static func crlf(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + bytes.count / 20)
        var previous: UInt8 = 0
        for byte in bytes {
            if byte == 0x0A && previous != 0x0D { out.append(0x0D) }
            out.append(byte)
            previous = byte
        }
        return out
    }

    /// dkimpy's DNS answers (EXPECTED.md table).
    static func resolver() throws -> MockResolver {
        var dns = MockResolver()
        let test = try text("test.txt")
        dns.addTXT(test, at: "test._domainkey.example.com")
        dns.addTXT(test, at: "test._domainkey.football.example.com")
        dns.addTXT("v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=", at: "brisbane._domainkey.football.example.com")
        dns.addTXT("v=DKIM1; k=ed25519; p=yi50DjK5O9pqbFpNHklsv9lqaS0ArSYu02qp1S0DW1Y=", at: "test._domainkey.example.net")
        dns.addTXT(try text("eximtest.dns"), at: "sed._domainkey.test.ex")
        dns.addTXT(
            "k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA1Kd87/UeJjenpabgbFwh+eBCsSTrqmwIYYvywlbhbqoo2DymndFkbjOVIPIldNs/m40KF+yzMn1skyoxcTUGCQs8g3FgD2Ap3ZB5DekAo5wMmk4wimDO+U8QzI3SD07y2+07wlNWwIt8svnxgdxGkVbbhzY8i+RQ9DpSVpPbF7ykQxtKXkv/ahW3KjViiAH+ghvvIhkx4xYSIc9oSwVmAl5OctMEeWUwg8Istjqz8BZeTWbf41fbNhte7Y+YqZOwq1Sd0DbvYAD9NOZK9vlfuac0598HY+vtSBczUiKERHv1yRbcaQtZFh5wtiRrN04BLUTD21MycBX5jYchHjPY/wIDAQAB",
            at: "20120113._domainkey.gmail.com")
        return dns
    }

    /// A key record as a zone file's TXT data: quoted character-strings of at most 255 bytes
    /// (RFC 1035 §3.3.14; an RSA-2048 record needs two).
    static func zoneTXT(_ record: String) -> String {
        let bytes = Array(record.utf8)
        return stride(from: 0, to: bytes.count, by: 255)
            .map { "\"" + String(decoding: bytes[$0..<min($0 + 255, bytes.count)], as: UTF8.self) + "\"" }
            .joined(separator: " ")
    }

    /// The 512-bit key of dkimpy's canonical.com test.
    static let key512 =
        "k=rsa; s=email; p=MFwwDQYJKoZIhvcNAQEBBQADSwAwSAJBANmBe10IgY+u7h3enWTukkqtUD5PR52Tb/mPfjC0QJTocVBq6Za/PlzfV+Py92VaCak19F4WrbVTK5Gg5tW220MCAwEAAQ=="

    static func verifier(_ resolver: any DNSResolver, now: Int64? = nil) -> DKIMVerifier {
        var configuration = DKIMVerifierConfiguration()
        if let now { configuration.now = { now } }
        return DKIMVerifier(resolver: resolver, configuration: configuration)
    }
}

extension MockResolver {
    /// Adds a TXT record, split into 255-byte character-strings as a zone would hold it.
    mutating func addTXT(_ text: String, at name: String) {
        let bytes = Array(text.utf8)
        let strings = stride(from: 0, to: max(bytes.count, 1), by: 255).map { Array(bytes[$0..<min($0 + 255, bytes.count)]) }
        add(.txt(TXTRecord(strings: strings)), at: name)
    }
}
