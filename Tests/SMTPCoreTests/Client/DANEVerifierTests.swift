import Foundation
import NIOSSL
import Testing

@testable import SMTPCore

/// ``DANEVerifier`` against the test certificates: `dane-mx.pem` (for `mx.dane.test`, issued by
/// the test CA `ca.pem`) and `server.pem` (another key, same CA). The digests were computed
/// outside Swift, with OpenSSL:
/// `openssl x509 -in F -noout -pubkey | openssl pkey -pubin -outform DER | sha256sum` (SPKI) and
/// `openssl x509 -in F -outform DER | sha256sum` / `sha512sum` (whole certificate).
@Suite("DANEVerifier")
struct DANEVerifierTests {
    static let daneMXSPKI256 = "65d4a34b80a5d58d8e31e3e40cf5160a6ba080603b506f67b44b712a289d62ee"
    static let daneMXCert512 = "bc9ed1de4eeb65930f2c1d7d214ca6d0fb343de6c376bbeba27031342b5d30854317cc0827e29927e615de1311877c9e7c95b7261089e46d3cbdbee4851cef47"
    static let serverSPKI256 = "5771fd4a632e5b6ffd6a3e2d642ba9f971e396043a9ac02d69e828d2fadf254c"
    static let caCert256 = "f5da40c655d08f0fbd8fdf1c65e73f5ecacbba48fce50b353d2df500cd8ee27d"
    static let caSPKI256 = "7113c0aa0d9be8f8599cfd957ecc5c4f97848c7f2260153c14e2ef1c58ce3c92"

    static func certificate(_ name: String) throws -> NIOSSLCertificate {
        try NIOSSLCertificate.fromPEMFile(FixturePaths.root.appendingPathComponent("tls/\(name).pem").path)[0]
    }

    static func bytes(_ hex: String) -> [UInt8] {
        var result: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            result.append(UInt8(hex[index..<next], radix: 16)!)
            index = next
        }
        return result
    }

    static func record(_ usage: UInt8, _ selector: UInt8, _ matching: UInt8, _ hex: String) -> TLSAAssociation {
        TLSAAssociation(usage: usage, selector: selector, matchingType: matching, data: bytes(hex))
    }

    static func verifier(_ records: [TLSAAssociation], names: [String] = ["mx.dane.test"]) -> DANEVerifier {
        DANEVerifier(DANEAuthentication(records: records, baseDomain: names[0], referenceNames: names))
    }

    @Test func daneEEMatchesTheServersKeyOrCertificateWhateverItsName() async throws {
        let chain = [try Self.certificate("dane-mx")]
        #expect(await Self.verifier([Self.record(3, 1, 1, Self.daneMXSPKI256)], names: ["unrelated.example"]).check(chain) == nil)
        #expect(await Self.verifier([Self.record(3, 0, 2, Self.daneMXCert512)]).check(chain) == nil)
        let other = await Self.verifier([Self.record(3, 1, 1, Self.serverSPKI256)]).check(chain)
        #expect(other?.hasPrefix("DANE: no TLSA record of _25._tcp.mx.dane.test matches") == true, "\(other ?? "-")")
        // A DANE-EE record does not vouch for the CA's certificate at the end of the chain.
        let anchorAsEE = await Self.verifier([Self.record(3, 0, 1, Self.caCert256)]).check(chain + [try Self.certificate("ca")])
        #expect(anchorAsEE != nil)
    }

    @Test func daneTANeedsAChainToTheAnchorIssuedToAReferenceName() async throws {
        let leaf = try Self.certificate("dane-mx")
        let ca = try Self.certificate("ca")
        let anchor = Self.record(2, 0, 1, Self.caCert256)
        #expect(await Self.verifier([anchor]).check([leaf, ca]) == nil)
        #expect(await Self.verifier([Self.record(2, 1, 1, Self.caSPKI256)], names: ["other.test", "mx.dane.test"]).check([leaf, ca]) == nil)
        // The right anchor, the wrong name: refused, saying so.
        let wrongName = await Self.verifier([anchor], names: ["mx-other.dane.test", "dane.test"]).check([leaf, ca])
        #expect(wrongName?.contains("does not chain to the trust anchor") == true && wrongName?.contains("mx-other.dane.test") == true,
                "\(wrongName ?? "-")")
        // A digest names an anchor only if the server sends it.
        #expect(await Self.verifier([anchor]).check([leaf]) != nil)
        // A record with the whole anchor certificate needs no copy in the chain.
        let full = TLSAAssociation(usage: 2, selector: 0, matchingType: 0, data: try ca.toDERBytes())
        #expect(await Self.verifier([full]).check([leaf]) == nil)
        // The anchor must have issued the server's certificate: server.pem's CA is the same, but
        // naming dane-mx.pem's own key as a TA does not make server.pem valid.
        let notIssuer = await Self.verifier([Self.record(2, 1, 1, Self.daneMXSPKI256)]).check([try Self.certificate("server"), leaf])
        #expect(notIssuer != nil)
    }

    @Test func usableRecords() {
        #expect(Self.record(3, 1, 1, Self.caCert256).isUsable)
        #expect(Self.record(2, 0, 2, Self.daneMXCert512).isUsable)
        #expect(!Self.record(0, 0, 1, Self.caCert256).isUsable)    // PKIX-TA: unusable for SMTP (RFC 7672 §3.1.3)
        #expect(!Self.record(1, 1, 1, Self.caCert256).isUsable)    // PKIX-EE
        #expect(!Self.record(3, 2, 1, Self.caCert256).isUsable)    // unknown selector
        #expect(!Self.record(3, 1, 3, Self.caCert256).isUsable)    // unknown matching type
        #expect(!Self.record(3, 1, 1, "abcd").isUsable)            // a SHA-256 digest is 32 bytes
        #expect(Self.record(3, 1, 1, "0a0b").description == "3 1 1 0a0b")
    }

    @Test func noCertificateNoMatch() async {
        #expect(await Self.verifier([Self.record(3, 1, 1, Self.daneMXSPKI256)]).check([]) == "DANE: the server sent no certificate")
    }
}
