import Foundation
import Testing

@testable import Defenses

/// Chains built by ``ARCSealer`` and checked by ``ARCVerifier`` (keys through ``MockResolver``);
/// dkimpy checks the same code from outside in `ARCCrossImplementationTests`.
@Suite("ARC validation (RFC 8617)")
struct ARCVerifierTests {
    static let message = Array("From: Alice <alice@example.com>\r\nTo: list@lists.example\r\nSubject: hello\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\n\r\nbody line\r\n".utf8)

    struct Hops {
        var dns = MockResolver()
        var keys: [DKIMSigningKey] = []

        init() throws {
            keys = [try DKIMSigningKey(pem: try DKIMFixtures.text("2048_testkey.key")), try DKIMSigningKey.generate(.ed25519)]
            for hop in 1...3 {
                dns.addTXT(keys[hop % 2].keyRecord, at: "arc._domainkey.hop\(hop).example")
            }
        }

        func sealer(_ hop: Int) -> ARCSealer {
            var sealer = ARCSealer(domain: "hop\(hop).example", selector: "arc", key: keys[hop % 2], authservID: "mx.hop\(hop).example")
            sealer.now = { 1_700_000_000 + Int64(hop) }
            return sealer
        }

        /// Seals `message` once per hop, each hop validating first (as a forwarder would), then
        /// applying `modify` (a list adding a subject tag), then sealing.
        func seal(_ message: [UInt8], hops: Int, modify: (Int, [UInt8]) -> [UInt8] = { $1 }) async throws -> [UInt8] {
            var current = message
            for hop in 1...hops {
                let incoming = try await ARCVerifier(resolver: dns).verify(message: current)
                current = modify(hop, current)
                let fields = try sealer(hop).seal(
                    message: current, chainValidation: incoming.result,
                    authenticationResults: [AuthenticationResult(method: "spf", result: "pass", properties: [AuthenticationProperty("smtp", "mailfrom", "example.com")]), .arc(incoming)])
                current = fields.flatMap(\.wireBytes) + current
            }
            return current
        }

        func verify(_ message: [UInt8]) async throws -> ARCVerification {
            try await ARCVerifier(resolver: dns).verify(message: message)
        }
    }

    @Test func noChainIsNone() async throws {
        let result = try await Hops().verify(Self.message)
        #expect(result.result == .none && result.instances == 0)
    }

    @Test(arguments: 1...3)
    func sealedChainsPass(_ hops: Int) async throws {
        let h = try Hops()
        let sealed = try await h.seal(Self.message, hops: hops)
        let result = try await h.verify(sealed)
        #expect(result.result == .pass, "\(result.trail)")
        #expect(result.instances == hops && result.oldestPass == 0)
        #expect(result.sets.map(\.instance) == Array((1...hops).reversed()))
        #expect(result.sets.allSatisfy { $0.sealValid == true && $0.messageSignature?.result == .pass })
        #expect(result.latestAuthenticationResults?.hasPrefix("mx.hop\(hops).example;") == true)
        let aar = try AuthenticationResults.parse(result.latestAuthenticationResults ?? "")
        #expect(aar.results.last?.result == (hops == 1 ? "none" : "pass"))
        #expect(AuthenticationResult.arc(result, remoteIP: IPAddress("192.0.2.1")).text == "arc=pass header.oldest-pass=0 smtp.remote-ip=192.0.2.1")
    }

    @Test func modifiedBodyFailsTheNewestAMS() async throws {
        let h = try Hops()
        let sealed = try await h.seal(Self.message, hops: 2) + Array("appended\r\n".utf8)
        let result = try await h.verify(sealed)
        #expect(result.result == .fail && result.reason?.contains("ARC-Message-Signature i=2") == true)
    }

    @Test func aChangeBetweenHopsMovesOldestPass() async throws {
        // Hop 2 validates (pass), rewrites the subject (a list tag), then seals: AMS 1 no longer
        // verifies, AMS 2 and 3 and every seal do → pass with oldest-pass 2.
        let h = try Hops()
        let sealed = try await h.seal(Self.message, hops: 3) { hop, bytes in
            hop == 2 ? Array(String(decoding: bytes, as: UTF8.self).replacingOccurrences(of: "Subject: hello", with: "Subject: [list] hello").utf8) : bytes
        }
        let result = try await h.verify(sealed)
        #expect(result.result == .pass, "\(result.trail)")
        #expect(result.oldestPass == 2)
        #expect(result.sets.last?.messageSignature?.result == .fail)
    }

    @Test func tamperedSealedFieldsFail() async throws {
        let h = try Hops()
        let sealed = String(decoding: try await h.seal(Self.message, hops: 2), as: UTF8.self)
        // The AAR of set 1 is covered by seals 1 and 2 only.
        let forged = sealed.replacingOccurrences(of: "i=1; mx.hop1.example;\r\n\tspf=pass", with: "i=1; mx.hop1.example;\r\n\tspf=fail")
        #expect(forged != sealed)
        let result = try await h.verify(Array(forged.utf8))
        #expect(result.result == .fail && result.reason?.contains("ARC-Seal i=2 did not verify") == true, "\(result.trail)")
        // Relaxed canonicalisation: re-folding white space does not matter.
        let refolded = sealed.replacingOccurrences(of: "i=1; mx.hop1.example;\r\n\tspf=pass", with: "i=1;   mx.hop1.example;\r\n   spf=pass")
        #expect(try await h.verify(Array(refolded.utf8)).result == .pass)
    }

    @Test func missingKeyFails() async throws {
        var h = try Hops()
        let sealed = try await h.seal(Self.message, hops: 2)
        h.dns = MockResolver()
        h.dns.addTXT(h.keys[0].keyRecord, at: "arc._domainkey.hop2.example")
        let result = try await h.verify(sealed)
        #expect(result.result == .fail && result.reason?.contains("ARC-Seal i=1") == true, "\(result.trail)")
    }

    static func field(_ text: String) -> String { text + "\r\n" }

    @Test func structuralErrors() async throws {
        let h = try Hops()
        let sealed = String(decoding: try await h.seal(Self.message, hops: 2), as: UTF8.self)
        var lines = sealed.components(separatedBy: "\r\n")
        // Drop the AAR of set 2 (one physical line here): incomplete set.
        let aar2 = try #require(lines.firstIndex { $0.hasPrefix("ARC-Authentication-Results: i=2;") })
        var missing = lines
        while missing.count > aar2 + 1, missing[aar2 + 1].hasPrefix("\t") { missing.remove(at: aar2 + 1) }
        missing.remove(at: aar2)
        #expect(try await h.verify(Array(missing.joined(separator: "\r\n").utf8)).reason?.contains("incomplete") == true)
        // A duplicate AAR.
        lines.insert("ARC-Authentication-Results: i=1; other.example; none", at: 0)
        #expect(try await h.verify(Array(lines.joined(separator: "\r\n").utf8)).reason?.contains("two ARC-Authentication-Results") == true)

        for bad in ["ARC-Seal: i=51; cv=pass; a=rsa-sha256; d=x.example; s=s; b=AA==", "ARC-Seal: cv=none; a=rsa-sha256; d=x.example; s=s; b=AA==",
                    "ARC-Authentication-Results: no instance; x; none"] {
            let result = try await h.verify(Array((Self.field(bad) + String(decoding: Self.message, as: UTF8.self)).utf8))
            #expect(result.result == .fail, "\(bad)")
        }
    }

    @Test func sealsStatingFailOrWrongCV() async throws {
        let h = try Hops()
        let one = try await h.seal(Self.message, hops: 1)
        // Hop 2 seals with cv=fail: the chain is failed whatever the signatures say.
        let failed = try h.sealer(2).seal(message: one, chainValidation: .fail, authenticationResults: [])
        let result = try await h.verify(failed.flatMap(\.wireBytes) + one)
        #expect(result.result == .fail && result.reason == "ARC-Seal i=2 says cv=fail")
        // A first seal with cv=pass is a structural error (the sealer refuses to make one).
        #expect(throws: DKIMSigningError.self) { try h.sealer(1).seal(message: Self.message, chainValidation: .pass, authenticationResults: []) }
        #expect(throws: DKIMSigningError.self) { try h.sealer(2).seal(message: one, chainValidation: .none, authenticationResults: []) }
    }

    @Test func sealAndSignatureParsers() throws {
        #expect(throws: ARCSignatureError.self) { try ARCSeal.parse(HeaderField(name: "ARC-Seal", value: " i=1; cv=none; a=rsa-sha256; d=x.example; s=s; h=from; b=AA==")) }
        #expect(throws: ARCSignatureError.self) { try ARCSeal.parse(HeaderField(name: "ARC-Seal", value: " i=1; cv=maybe; a=rsa-sha256; d=x.example; s=s; b=AA==")) }
        #expect(throws: ARCSignatureError.self) { try ARCSeal.parse(HeaderField(name: "ARC-Seal", value: " i=1; cv=none; a=rsa-sha1; d=x.example; s=s; b=AA==")) }
        #expect(throws: ARCSignatureError.self) {
            try ARCMessageSignature.parse(HeaderField(name: "ARC-Message-Signature", value: " i=1; a=rsa-sha256; d=x.example; s=s; h=from:arc-seal; bh=AA==; b=AA=="))
        }
        let ams = try ARCMessageSignature.parse(HeaderField(name: "ARC-Message-Signature", value: " i=7; a=ed25519-sha256; c=relaxed/relaxed; d=X.example; s=S; h=from : to; bh=AA==; b=AA=="))
        #expect(ams.instance == 7 && ams.signature.domain == "x.example" && ams.signature.signedHeaders == ["from", "to"])
        #expect(ARCChain.aarInstance(" i = 3 ; host; none") == 3)
        #expect(ARCChain.aarInstance("i=3 host") == nil)
    }

    @Test func randomMutationsNeverCrash() async throws {
        let h = try Hops()
        let sealed = try await h.seal(Self.message, hops: 2)
        var random = DKIMMessageGenerator.SplitMix(seed: 42)
        var outcomes: [ARCChainStatus: Int] = [:]
        for _ in 0..<300 {
            var bytes = sealed
            for _ in 0..<(1 + Int(random.next() % 3)) {
                let index = Int(random.next() % UInt64(bytes.count))
                bytes[index] = [UInt8(ascii: ";"), UInt8(ascii: "="), UInt8(ascii: " "), UInt8(ascii: "\n"), UInt8(ascii: "1"), 0x80][Int(random.next() % 6)]
            }
            let result = try? await h.verify(bytes)
            outcomes[result?.result ?? .fail, default: 0] += 1
        }
        #expect((outcomes[.fail] ?? 0) > 100)
    }
}

extension ARCVerifierTests {
    /// 50 sets (the RFC's maximum) pass; a 51st is refused by the sealer; a chain whose newest
    /// seal is forged fails after two key look-ups, not one per set.
    @Test func longestChainAndBoundedWork() async throws {
        var dns = MockResolver()
        let key = try DKIMSigningKey.generate(.ed25519)
        dns.addTXT(key.keyRecord, at: "arc._domainkey.relay.example")
        var message = Self.message
        for hop in 1...ARCChain.maxInstances {
            let sealer = ARCSealer(domain: "relay.example", selector: "arc", key: key, authservID: "hop\(hop).relay.example")
            message = try sealer.seal(message: message, chainValidation: hop == 1 ? .none : .pass, authenticationResults: []).flatMap(\.wireBytes) + message
        }
        let counting = CountingResolver(dns)
        let result = try await ARCVerifier(resolver: counting).verify(message: message)
        #expect(result.result == .pass && result.instances == 50 && result.oldestPass == 0, "\(result.reason ?? "")")
        #expect(await counting.count == 1)  // one key name, fetched once
        let sealer = ARCSealer(domain: "relay.example", selector: "arc", key: key, authservID: "too.many")
        #expect(throws: DKIMSigningError.self) { try sealer.seal(message: message, chainValidation: .pass, authenticationResults: []) }

        // Newest seal signed by a key nobody published under that name: fail after its look-up.
        var forgedDNS = MockResolver()
        for hop in 1...3 { forgedDNS.addTXT(key.keyRecord, at: "s\(hop)._domainkey.relay\(hop).example") }
        var chain = Self.message
        for hop in 1...3 {
            let signer = hop == 3 ? try DKIMSigningKey.generate(.ed25519) : key
            let sealer = ARCSealer(domain: "relay\(hop).example", selector: "s\(hop)", key: signer, authservID: "x")
            chain = try sealer.seal(message: chain, chainValidation: hop == 1 ? .none : .pass, authenticationResults: []).flatMap(\.wireBytes) + chain
        }
        let forgedCounting = CountingResolver(forgedDNS)
        let forged = try await ARCVerifier(resolver: forgedCounting).verify(message: chain)
        #expect(forged.result == .fail)
        #expect(await forgedCounting.questions.map(\.name) == ["s3._domainkey.relay3.example"])
    }
}
