#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Crypto

/// Limits and local values of DKIM verification.
public struct DKIMVerifierConfiguration: Sendable {
    /// Signatures checked per message, top-most first; further ones get ``DKIMResult/permerror``
    /// without a DNS query (RFC 6376 §6.1: verifiers "MAY limit the number of signatures").
    public var maxSignatures: Int
    /// The smallest RSA key accepted; values below 1024 are raised to 1024
    /// ([RFC 8301 §3.2](https://www.rfc-editor.org/rfc/rfc8301#section-3.2)).
    public var minimumRSAKeyBits: Int
    /// How far in the future `t=` may be before the signature is refused (clock skew, seconds).
    public var clockSkew: Int64
    /// Whether `x=` in the past makes a signature ``DKIMResult/permerror`` (§3.5 `x=`).
    public var enforceExpiration: Bool
    /// Bounds on the header section (``MessageReader``).
    public var messageLimits: MessageLimits
    /// Seconds since the epoch.
    public var now: @Sendable () -> Int64

    public init(
        maxSignatures: Int = 10, minimumRSAKeyBits: Int = 1024, clockSkew: Int64 = 300, enforceExpiration: Bool = true,
        messageLimits: MessageLimits = MessageLimits(), now: @escaping @Sendable () -> Int64 = { Int64(time(nil)) }
    ) {
        self.maxSignatures = maxSignatures
        self.minimumRSAKeyBits = minimumRSAKeyBits
        self.clockSkew = clockSkew
        self.enforceExpiration = enforceExpiration
        self.messageLimits = messageLimits
        self.now = now
    }
}

/// DKIM verification ([RFC 6376 §6](https://www.rfc-editor.org/rfc/rfc6376#section-6)),
/// `rsa-sha256` and `ed25519-sha256` ([RFC 8463](https://www.rfc-editor.org/rfc/rfc8463)), with a
/// result per signature. Keys come through the injected ``DNSResolver`` (``MockResolver`` in
/// unit tests): `<s>._domainkey.<d>` TXT.
///
/// Whole message:
/// ```swift
/// let verifier = DKIMVerifier(resolver: resolver)
/// for signature in try await verifier.verify(message: bytes) { print(signature) }
/// ```
/// Streaming (the body is hashed as it passes and never held):
/// ```swift
/// var reader = MessageReader()
/// var pending: DKIMPendingVerification?
/// for chunk in chunks {
///     let body = try reader.feed(chunk)
///     if pending == nil, let header = reader.header { pending = verifier.begin(header: header) }
///     pending?.update(body)
/// }
/// let results = await verifier.finish(pending ?? verifier.begin(header: try reader.finish()))
/// ```
public struct DKIMVerifier: Sendable {
    /// DM31 "DomainKeys" (today DKIM) in the defense catalog.
    public static let defenseID = DefenseID.domainKeys

    /// Where key records come from (put a ``DNSCachingResolver`` in front for a busy node).
    public var resolver: any DNSResolver
    /// Limits and clock.
    public var configuration: DKIMVerifierConfiguration

    /// Parsed key records and built keys, shared by the copies of this verifier.
    let keyCache = DKIMKeyCache()

    public init(resolver: any DNSResolver, configuration: DKIMVerifierConfiguration = DKIMVerifierConfiguration()) {
        self.resolver = resolver
        self.configuration = configuration
    }

    /// Verifies every signature of a whole message (CRLF or LF line ends). An empty array means
    /// the message is unsigned (``DKIMResult/none``).
    public func verify(message: some Collection<UInt8>) async throws(MessageError) -> [DKIMVerification] {
        var reader = MessageReader(limits: configuration.messageLimits)
        let bytes = Array(message)
        let body = try reader.feed(bytes[...])
        var pending = begin(header: try reader.finish())
        pending.update(body)
        return await finish(pending)
    }

    /// Parses the signatures of a header and prepares their body hashes.
    public func begin(header: MessageHeader) -> DKIMPendingVerification {
        var pending = DKIMPendingVerification(header: header)
        let now = configuration.now()
        for field in header.fields(named: "DKIM-Signature") {
            let slot = pending.slots.count
            guard slot < configuration.maxSignatures else {
                pending.slots.append(.done(DKIMVerification(
                    field: field, signature: nil, result: .permerror,
                    reason: "not checked: more than \(configuration.maxSignatures) signatures")))
                continue
            }
            let signature: DKIMSignature
            do {
                signature = try DKIMSignature.parse(field)
            } catch {
                pending.slots.append(.done(DKIMVerification(field: field, signature: nil, result: .permerror, reason: error.description)))
                continue
            }
            if configuration.enforceExpiration, let expiration = signature.expiration, expiration < now {
                pending.slots.append(.done(DKIMVerification(field: field, signature: signature, result: .permerror, reason: "signature expired")))
                continue
            }
            if let timestamp = signature.timestamp, timestamp > now + configuration.clockSkew {
                pending.slots.append(.done(DKIMVerification(
                    field: field, signature: signature, result: .permerror, reason: "signature timestamp in the future")))
                continue
            }
            let hasher = pending.hasherIndex(signature.bodyCanonicalization, signature.bodyLength)
            pending.slots.append(.pending(signature, hasher: hasher))
        }
        return pending
    }

    /// Completes the body hashes, fetches keys and checks each signature, in header order.
    public func finish(_ pending: DKIMPendingVerification) async -> [DKIMVerification] {
        var hashers = pending.hashers
        var digests: [[UInt8]] = []
        for index in hashers.indices { digests.append(hashers[index].finalize()) }
        var keys: [String: Result<[DKIMKeyRecord], DKIMKeyFailure>] = [:]
        var results: [DKIMVerification] = []
        for slot in pending.slots {
            switch slot {
            case .done(let verification):
                results.append(verification)
            case .pending(let signature, let hasher):
                let records: Result<[DKIMKeyRecord], DKIMKeyFailure>
                if let cached = keys[signature.keyName] {
                    records = cached
                } else {
                    records = await fetchKeys(signature.keyName)
                    keys[signature.keyName] = records
                }
                results.append(check(
                    signature, header: pending.header, bodyHash: digests[hasher],
                    canonicalBodyLength: hashers[hasher].canonicalLength, keys: records))
            }
        }
        return results
    }

    // MARK: - Steps

    /// Why no key record could be had.
    struct DKIMKeyFailure: Error, Hashable {
        var result: DKIMResult
        var reason: String
    }

    /// TXT records at the key name (§3.6.2.2: the strings of one record are concatenated).
    func fetchKeys(_ name: String) async -> Result<[DKIMKeyRecord], DKIMKeyFailure> {
        let answer: DNSAnswer<TXTRecord>
        do {
            answer = try await resolver.lookupTXT(name)
        } catch {
            if error.isNotFound {
                // §6.1.2: no key record → PERMFAIL (no key for signature).
                return .failure(DKIMKeyFailure(result: .permerror, reason: "no key for signature (\(error))"))
            }
            if case .invalidName = error {
                return .failure(DKIMKeyFailure(result: .permerror, reason: "\(error)"))
            }
            // §6.1.2: a failed query → TEMPFAIL (key unavailable).
            return .failure(DKIMKeyFailure(result: .temperror, reason: "key unavailable: \(error)"))
        }
        var parsed: [DKIMKeyRecord] = []
        var firstError: DKIMKeyRecordError?
        for record in answer.records {
            switch keyCache.record(record.text) {
            case .success(let key): parsed.append(key)
            case .failure(let error): firstError = firstError ?? error
            }
        }
        guard !parsed.isEmpty else {
            return .failure(DKIMKeyFailure(result: .permerror, reason: "key record: \(firstError?.description ?? "none usable")"))
        }
        return .success(parsed)
    }

    func check(
        _ signature: DKIMSignature, header: MessageHeader, bodyHash: [UInt8], canonicalBodyLength: UInt64,
        keys: Result<[DKIMKeyRecord], DKIMKeyFailure>
    ) -> DKIMVerification {
        var verification = DKIMVerification(field: signature.field, signature: signature, result: .permerror)
        func outcome(_ result: DKIMResult, _ reason: String?) -> DKIMVerification {
            verification.result = result
            verification.reason = reason
            return verification
        }
        // §3.5 l=: "MUST NOT be larger than the actual number of octets in the canonicalized body".
        if let length = signature.bodyLength, length > canonicalBodyLength {
            return outcome(.permerror, "l=\(length) is longer than the body (\(canonicalBodyLength) octets)")
        }
        // §6.1.3 step 4 (checked first: no DNS query for a body that was changed).
        guard bodyHash == signature.bodyHash else { return outcome(.fail, "body hash did not verify") }

        let records: [DKIMKeyRecord]
        switch keys {
        case .failure(let failure): return outcome(failure.result, failure.reason)
        case .success(let found): records = found
        }
        let record: DKIMKeyRecord
        let key: DKIMPublicKey
        switch usableKey(records, algorithm: signature.algorithm, identityIsDomain: signature.identityDomain == signature.domain) {
        case .failure(let error): return outcome(.permerror, error.description)
        case .success(let chosen): (record, key) = chosen
        }
        verification.testing = record.testing
        if case .rsa(_, let bits) = key { verification.keyBits = bits }

        let digest = DKIMVerifier.headerHash(signature, header: header)
        guard key.isValid(signature: signature.signature, digest: digest) else {
            if record.testing { return outcome(.neutral, "signature did not verify (key in testing mode, t=y)") }
            return outcome(.fail, "signature did not verify")
        }
        return outcome(.pass, nil)
    }

    /// The first record that fits the algorithm (one usable record is expected; with several, the
    /// first that fits is used), as a verification key.
    func usableKey(
        _ records: [DKIMKeyRecord], algorithm: DKIMAlgorithm, identityIsDomain: Bool
    ) -> Result<(DKIMKeyRecord, DKIMPublicKey), DKIMKeyRecordError> {
        var keyError: DKIMKeyRecordError?
        for record in records {
            do throws(DKIMKeyRecordError) {
                guard !record.isRevoked else { throw DKIMKeyRecordError("key revoked") }
                try record.check(algorithm)
                if record.strictIdentity && !identityIsDomain {
                    throw DKIMKeyRecordError("key requires i= domain to equal d= (t=s)")
                }
                return .success((record, try keyCache.key(record, minimumRSABits: configuration.minimumRSAKeyBits).get()))
            } catch {
                keyError = keyError ?? error
            }
        }
        return .failure(keyError ?? DKIMKeyRecordError("no usable key"))
    }

    /// The header hash of §3.7: the fields named by `h=` picked bottom-up, each canonicalised,
    /// then the signature field itself with an empty `b=` value and no final CRLF.
    /// `emptied` is the signature field with its `b=` value already removed (the signer's case);
    /// `nil` removes it from ``DKIMSignature/field``.
    static func headerHash(_ signature: DKIMSignature, header: MessageHeader, emptied: [UInt8]? = nil) -> SHA256Digest {
        var sha = SHA256()
        var selector = HeaderFieldSelector(header)
        for name in signature.signedHeaders {
            // §5.4.2: a name with no (more) instances signs as the null string.
            guard let (_, field) = selector.next(named: name) else { continue }
            let canonical = signature.headerCanonicalization.canonicalize(field)
            canonical.withUnsafeBytes { sha.update(bufferPointer: $0) }
        }
        let raw = signature.field.raw
        let span = signature.tags.tags.first { $0.name == "b" }?.valueSpan ?? raw.endIndex..<raw.endIndex
        let emptied = emptied ?? Array(raw[..<span.lowerBound] + raw[span.upperBound...])
        let canonical = signature.headerCanonicalization.canonicalize(raw: emptied[...])
        canonical.withUnsafeBytes { sha.update(bufferPointer: $0) }
        return sha.finalize()
    }
}

/// A verification between ``DKIMVerifier/begin(header:)`` and ``DKIMVerifier/finish(_:)``:
/// feed it the body with ``update(_:)``. One body hash is kept per distinct (`c=` body, `l=`).
public struct DKIMPendingVerification: Sendable {
    enum Slot: Sendable {
        case done(DKIMVerification)
        case pending(DKIMSignature, hasher: Int)
    }

    let header: MessageHeader
    var slots: [Slot] = []
    var hashers: [BodyHasher] = []

    init(header: MessageHeader) {
        self.header = header
    }

    /// How many signatures still need the body.
    public var pendingCount: Int {
        slots.filter { if case .pending = $0 { true } else { false } }.count
    }

    /// Hashes the next body bytes for every signature.
    public mutating func update(_ body: some Collection<UInt8>) {
        guard !body.isEmpty else { return }
        for index in hashers.indices { hashers[index].update(body) }
    }

    mutating func hasherIndex(_ canonicalization: Canonicalization, _ limit: UInt64?) -> Int {
        if let index = hashers.firstIndex(where: { $0.canonicalization == canonicalization && $0.limit == limit }) {
            return index
        }
        hashers.append(BodyHasher(canonicalization: canonicalization, limit: limit))
        return hashers.count - 1
    }
}
