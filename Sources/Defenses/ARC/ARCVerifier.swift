import Crypto

/// ARC chain validation ([RFC 8617 §5.2](https://www.rfc-editor.org/rfc/rfc8617#section-5.2)):
/// `cv=none` without ARC fields; `fail` for a broken structure, a newest seal saying `cv=fail`,
/// a newest AMS that does not verify, or any seal that does not verify; else `pass` with the
/// oldest-pass instance. Bounded: at most 50 sets, one body hash per distinct (`c=`, `l=`), one
/// key look-up per key name, seals checked before the older AMSs. The AMS is verified by the DKIM code (same tags, canonicalisation, keys
/// at `<s>._domainkey.<d>`); the AS is verified over the ARC fields of sets 1...i in the RFC's
/// order (§5.1.1): for each set AAR, AMS, AS, relaxed header canonicalisation, the seal being
/// checked with an empty `b=` and no final CRLF.
///
/// ```swift
/// let arc = ARCVerifier(resolver: dns)
/// let verification = try await arc.verify(message: bytes)
/// verification.result        // .none .pass .fail
/// ```
public struct ARCVerifier: Sendable {
    /// Verification keys and limits, shared with DKIM (`minimumRSAKeyBits`, header limits, clock).
    public var dkim: DKIMVerifier

    public init(resolver: any DNSResolver, configuration: DKIMVerifierConfiguration = DKIMVerifierConfiguration()) {
        dkim = DKIMVerifier(resolver: resolver, configuration: configuration)
    }

    /// Validates the chain of a whole message (CRLF or LF line ends).
    public func verify(message: some Collection<UInt8>) async throws(MessageError) -> ARCVerification {
        var reader = MessageReader(limits: dkim.configuration.messageLimits)
        let bytes = Array(message)
        let body = try reader.feed(bytes[...])
        let header = try reader.finish()
        return await verify(header: header, body: body)
    }

    /// Validates a chain given the header and the body bytes.
    public func verify(header: MessageHeader, body: some Collection<UInt8>) async -> ARCVerification {
        // Step 1: collect; step 3: structure.
        let sets: [ARCSet]
        switch ARCChain.collect(header) {
        case .failure(let error):
            return ARCVerification(result: .fail, reason: error.description, trail: ["structure: \(error)"])
        case .success(let found):
            sets = found
        }
        guard let newest = sets.last else {
            return ARCVerification(result: .none, trail: ["no ARC fields"])
        }
        var verification = ARCVerification(
            result: .fail, instances: sets.count, latestAuthenticationResults: newest.authenticationResultsPayload.trimmingWSP())
        verification.trail.append("\(sets.count) ARC set(s), instances 1...\(sets.count)")
        func fail(_ reason: String) -> ARCVerification {
            verification.result = .fail
            verification.reason = reason
            verification.trail.append("result fail: \(reason)")
            return verification
        }

        var seals: [ARCSeal] = []
        var states: [ARCSetVerification] = []
        for set in sets {
            do {
                let seal = try ARCSeal.parse(set.seal)
                guard seal.instance == set.instance else { return fail("ARC-Seal instance mismatch") }
                seals.append(seal)
                states.append(ARCSetVerification(instance: set.instance, sealDomain: seal.domain, chainValidation: seal.chainValidation))
            } catch {
                return fail("ARC-Seal i=\(set.instance): \(error)")
            }
        }
        // Step 2: the newest seal already says fail.
        if seals[seals.count - 1].chainValidation == .fail {
            verification.sets = states.reversed()
            return fail("ARC-Seal i=\(sets.count) says cv=fail")
        }
        // §5.2 step 3 (structure): cv=none only on the first set, pass on every later one.
        for seal in seals {
            let expected: ARCChainStatus = seal.instance == 1 ? .none : .pass
            guard seal.chainValidation == expected else {
                verification.sets = states.reversed()
                return fail("ARC-Seal i=\(seal.instance) has cv=\(seal.chainValidation), expected cv=\(expected)")
            }
        }

        var keys: [String: Result<[DKIMKeyRecord], DKIMVerifier.DKIMKeyFailure>] = [:]
        func fetch(_ name: String) async -> Result<[DKIMKeyRecord], DKIMVerifier.DKIMKeyFailure> {
            if let cached = keys[name] { return cached }
            let found = await dkim.fetchKeys(name)
            keys[name] = found
            return found
        }

        // One body hash per (c= body, l=) pair, however many sets share it.
        var bodyHashes: [String: ([UInt8], UInt64)] = [:]
        func bodyHash(_ signature: DKIMSignature) -> ([UInt8], UInt64) {
            let key = "\(signature.bodyCanonicalization)/\(signature.bodyLength.map(String.init) ?? "-")"
            if let known = bodyHashes[key] { return known }
            var hasher = BodyHasher(canonicalization: signature.bodyCanonicalization, limit: signature.bodyLength)
            hasher.update(body)
            let computed = (hasher.finalize(), hasher.canonicalLength)
            bodyHashes[key] = computed
            return computed
        }

        // Step 4: the newest AMS must verify.
        let newestAMS = await verifyAMS(newest, header: header, bodyHash: bodyHash, fetch: fetch)
        states[sets.count - 1].messageSignature = newestAMS
        verification.trail.append("AMS i=\(sets.count): \(newestAMS.result)\(newestAMS.reason.map { " (\($0))" } ?? "")")
        guard newestAMS.result == .pass else {
            verification.sets = states.reversed()
            return fail("ARC-Message-Signature i=\(sets.count) did not verify: \(newestAMS.reason ?? newestAMS.result.rawValue)")
        }
        // Step 6 before step 5: every seal, newest first. The order does not change the result
        // (oldest-pass is only reported for a passing chain), but a forged chain then fails after
        // the newest seal's key look-up instead of after one per older AMS.
        for seal in seals.reversed() {
            let (valid, reason) = await verifySeal(seal, sets: sets, fetch: fetch)
            states[seal.instance - 1].sealValid = valid
            states[seal.instance - 1].sealReason = reason
            verification.trail.append("AS i=\(seal.instance) d=\(seal.domain) s=\(seal.selector): \(valid ? "pass" : "fail")\(reason.map { " (\($0))" } ?? "")")
            guard valid else {
                verification.sets = states.reversed()
                return fail("ARC-Seal i=\(seal.instance) did not verify: \(reason ?? "")")
            }
        }
        // Step 5: oldest-pass, from the newest older AMS down to the first that fails.
        var oldestPass = 0
        for set in sets.dropLast().reversed() {
            let result = await verifyAMS(set, header: header, bodyHash: bodyHash, fetch: fetch)
            states[set.instance - 1].messageSignature = result
            verification.trail.append("AMS i=\(set.instance): \(result.result)\(result.reason.map { " (\($0))" } ?? "")")
            if result.result != .pass {
                oldestPass = set.instance + 1
                break
            }
        }
        // Step 7.
        verification.sets = states.reversed()
        verification.result = .pass
        verification.oldestPass = oldestPass
        verification.trail.append("result pass, oldest-pass \(oldestPass)")
        return verification
    }

    private func verifyAMS(
        _ set: ARCSet, header: MessageHeader, bodyHash: (DKIMSignature) -> ([UInt8], UInt64),
        fetch: (String) async -> Result<[DKIMKeyRecord], DKIMVerifier.DKIMKeyFailure>
    ) async -> DKIMVerification {
        let ams: ARCMessageSignature
        do {
            ams = try ARCMessageSignature.parse(set.messageSignature)
        } catch {
            return DKIMVerification(field: set.messageSignature, signature: nil, result: .permerror, reason: error.description)
        }
        let (digest, length) = bodyHash(ams.signature)
        return dkim.check(ams.signature, header: header, bodyHash: digest, canonicalBodyLength: length, keys: await fetch(ams.signature.keyName))
    }

    private func verifySeal(
        _ seal: ARCSeal, sets: [ARCSet], fetch: (String) async -> Result<[DKIMKeyRecord], DKIMVerifier.DKIMKeyFailure>
    ) async -> (Bool, String?) {
        let records: [DKIMKeyRecord]
        switch await fetch(seal.keyName) {
        case .failure(let failure): return (false, failure.reason)
        case .success(let found): records = found
        }
        let key: DKIMPublicKey
        switch dkim.usableKey(records, algorithm: seal.algorithm, identityIsDomain: true) {
        case .failure(let error): return (false, error.description)
        case .success(let chosen): key = chosen.1
        }
        let digest = Self.sealHash(sets: sets.prefix(seal.instance), seal: seal)
        return key.isValid(signature: seal.signature, digest: digest) ? (true, nil) : (false, "signature did not verify")
    }

    /// The seal's signing input (§5.1.1): the fields of sets 1...i, each set AAR, AMS, AS, in
    /// relaxed canonicalisation; the last one (the seal itself) with `b=` emptied and no CRLF.
    static func sealHash(sets: ArraySlice<ARCSet>, seal: ARCSeal, emptied: [UInt8]? = nil) -> SHA256Digest {
        var sha = SHA256()
        for set in sets {
            for field in set.fields where field != set.seal || set.instance != seal.instance {
                let canonical = Canonicalization.relaxed.canonicalize(field)
                canonical.withUnsafeBytes { sha.update(bufferPointer: $0) }
            }
        }
        let raw = seal.field.raw
        let span = seal.tags.tags.first { $0.name == "b" }?.valueSpan ?? raw.endIndex..<raw.endIndex
        let emptied = emptied ?? Array(raw[..<span.lowerBound] + raw[span.upperBound...])
        let canonical = Canonicalization.relaxed.canonicalize(raw: emptied[...])
        canonical.withUnsafeBytes { sha.update(bufferPointer: $0) }
        return sha.finalize()
    }
}

extension AuthenticationResult {
    /// `arc=pass header.oldest-pass=0 smtp.remote-ip=192.0.2.1`
    /// ([RFC 8617 §10.1](https://www.rfc-editor.org/rfc/rfc8617#section-10.1) registers
    /// `arc` with `header.oldest-pass` and `smtp.remote-ip`).
    public static func arc(_ verification: ARCVerification, remoteIP: IPAddress? = nil) -> AuthenticationResult {
        var result = AuthenticationResult(method: "arc", result: verification.result.rawValue)
        if verification.result == .fail { result.reason = verification.reason }
        if verification.result == .pass, let oldestPass = verification.oldestPass {
            result.properties.append(AuthenticationProperty("header", "oldest-pass", String(oldestPass)))
        }
        if let remoteIP { result.properties.append(AuthenticationProperty("smtp", "remote-ip", remoteIP.description)) }
        return result
    }
}
