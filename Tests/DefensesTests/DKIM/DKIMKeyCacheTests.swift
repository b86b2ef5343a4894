import Foundation
import Testing

@testable import Defenses

/// ``DKIMKeyCache``: a long-lived verifier parses each key record and builds each key once, and
/// its results are the same as without the cache — pass stays pass, a key too small stays refused.
struct DKIMKeyCacheTests {
    @Test func oneVerifierParsesAndBuildsEachKeyOnceAndStillPasses() async throws {
        let dns = try DKIMFixtures.resolver()
        let verifier = DKIMFixtures.verifier(dns)
        let message = try DKIMFixtures.message("rfc6376.signed.rsa.msg")
        for _ in 0..<3 {
            let results = try await verifier.verify(message: message)
            #expect(results.map(\.result) == [.pass])
        }
        #expect(verifier.keyCache.counts == (records: 1, keys: 1))
        // A copy with a higher RSA minimum shares the parsed record but builds (and refuses) its own key.
        var strict = verifier
        strict.configuration.minimumRSAKeyBits = 4096
        let refused = try await strict.verify(message: message)
        #expect(refused.map(\.result) != [.pass])
        #expect(verifier.keyCache.counts == (records: 1, keys: 2))
        #expect(try await verifier.verify(message: message).map(\.result) == [.pass])
    }

    @Test func aFullCacheStartsOver() {
        let cache = DKIMKeyCache(capacity: 2)
        for selector in ["a", "b", "c"] { _ = cache.record("v=DKIM1; k=ed25519; n=\(selector); p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=") }
        #expect(cache.counts.records == 1)
        #expect(throws: DKIMKeyRecordError.self) { try cache.record("v=DKIM1; k=rsa; p=!!!!").get() }
    }
}
