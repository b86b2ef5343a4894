#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Crypto
import SMTPCore

/// Adds an ARC Set to a message ([RFC 8617 §5.1](https://www.rfc-editor.org/rfc/rfc8617#section-5.1)):
/// the intermediary's `ARC-Authentication-Results`, an `ARC-Message-Signature` over the message
/// (relaxed/relaxed, the ``DKIMSigner`` header list over-signed, plus any DKIM-Signature fields)
/// and an `ARC-Seal` over the chain.
///
/// Minimal: for forwarders and tests. The caller validates the incoming chain first
/// (``ARCVerifier``) and passes its status: `none` starts a chain, `pass` extends it, `fail` seals
/// a broken one (the new seal then covers its own set only, so the next hop sees where it broke).
///
/// ```swift
/// let sealer = ARCSealer(domain: "forwarder.example", selector: "arc", key: key, authservID: "mx.forwarder.example")
/// let fields = try sealer.seal(message: bytes, chainValidation: incoming.result,
///                              authenticationResults: [.spf(spf), .dkim(dkimResult)])
/// let sealed = fields.flatMap(\.wireBytes) + bytes      // AS, AMS, AAR on top
/// ```
public struct ARCSealer: Sendable {
    public var domain: String
    public var selector: String
    public var key: DKIMSigningKey
    /// Our `authserv-id` in the AAR.
    public var authservID: String
    /// Field names the AMS signs (over-signed like ``DKIMSigner``).
    public var headers: [String] = DKIMSigner.defaultHeaders
    /// Seconds since the epoch, for `t=`.
    public var now: @Sendable () -> Int64 = { Int64(time(nil)) }

    public init(domain: String, selector: String, key: DKIMSigningKey, authservID: String) {
        self.domain = domain
        self.selector = selector
        self.key = key
        self.authservID = authservID
    }

    /// The new set's fields, top first (AS, AMS, AAR): prepend them to the message.
    public func seal(
        message: some Collection<UInt8>, chainValidation: ARCChainStatus, authenticationResults: [AuthenticationResult],
        limits: MessageLimits = MessageLimits()
    ) throws(DKIMSigningError) -> [HeaderField] {
        var reader = MessageReader(limits: limits)
        let bytes = Array(message)
        let header: MessageHeader
        let body: ArraySlice<UInt8>
        do {
            body = try reader.feed(bytes[...])
            header = try reader.finish()
        } catch {
            throw DKIMSigningError(error.description)
        }
        guard DKIMSignature.isDomainName(domain), DKIMSignature.isSelector(selector) else { throw DKIMSigningError("invalid domain or selector") }
        guard header.first(named: "from") != nil else { throw DKIMSigningError("the message has no From field") }

        let existing: [ARCSet]
        switch ARCChain.collect(header) {
        case .success(let sets): existing = sets
        case .failure(let error):
            guard chainValidation == .fail else { throw DKIMSigningError("the ARC chain is broken (\(error)): seal with cv=fail") }
            existing = []
        }
        let instance = chainValidation == .fail ? (header.count(named: "ARC-Seal") + 1) : existing.count + 1
        guard instance <= ARCChain.maxInstances else { throw DKIMSigningError("the chain already has \(ARCChain.maxInstances) sets") }
        switch chainValidation {
        case .none where !existing.isEmpty: throw DKIMSigningError("cv=none but the message has an ARC chain")
        case .pass where existing.isEmpty: throw DKIMSigningError("cv=pass but the message has no ARC chain")
        default: break
        }
        let timestamp = now()

        // AAR (§4.1.1): i=N; then an authres-payload.
        let payload = AuthenticationResults(authservID: authservID, results: authenticationResults).fieldValue
        let aar = HeaderField(name: "ARC-Authentication-Results", value: " i=\(instance);" + payload)

        // AMS (§4.1.2): DKIM over the message as it is now.
        var hasher = BodyHasher(canonicalization: .relaxed)
        hasher.update(body)
        var names: [String] = []
        for name in headers + ["dkim-signature"] {
            let lower = MessageASCII.lowercased(name)
            names += Array(repeating: lower, count: header.count(named: lower) + (lower == "dkim-signature" ? 0 : 1))
        }
        var fold = HeaderFolder(name: "ARC-Message-Signature")
        fold.append("i=\(instance);")
        fold.append("a=\(key.algorithm);")
        fold.append("c=relaxed/relaxed;")
        fold.append("d=\(domain);")
        fold.append("s=\(selector);")
        fold.append("t=\(timestamp);")
        for (index, name) in names.enumerated() {
            fold.append((index == 0 ? "h=" : "") + name + (index == names.count - 1 ? ";" : ":"), spaced: index == 0)
        }
        fold.append("bh=\(Base64.encode(hasher.finalize()));")
        fold.breakLine()
        fold.append("b=", spaced: false)
        let amsUnsigned = fold.text
        let ams: ARCMessageSignature
        do {
            ams = try ARCMessageSignature.parse(HeaderField(raw: Array((amsUnsigned + "AA==").utf8)))
        } catch {
            throw DKIMSigningError("built an unparseable ARC-Message-Signature: \(error)")
        }
        let amsDigest = DKIMVerifier.headerHash(ams.signature, header: header, emptied: Array(amsUnsigned.utf8))
        let amsField = try Self.finish(fold, try Self.sign(key, amsDigest))

        // AS (§4.1.3, §5.1.1): over the chain including the new AAR and AMS.
        var sealFold = HeaderFolder(name: "ARC-Seal")
        sealFold.append("i=\(instance);")
        sealFold.append("a=\(key.algorithm);")
        sealFold.append("t=\(timestamp);")
        sealFold.append("cv=\(chainValidation);")
        sealFold.append("d=\(domain);")
        sealFold.append("s=\(selector);")
        sealFold.breakLine()
        sealFold.append("b=", spaced: false)
        let sealUnsigned = sealFold.text
        let seal: ARCSeal
        do {
            seal = try ARCSeal.parse(HeaderField(raw: Array((sealUnsigned + "AA==").utf8)))
        } catch {
            throw DKIMSigningError("built an unparseable ARC-Seal: \(error)")
        }
        let newSet = ARCSet(instance: instance, authenticationResults: aar, messageSignature: amsField, seal: seal.field)
        let covered = chainValidation == .fail ? [newSet] : existing + [newSet]
        let sealDigest = ARCVerifier.sealHash(sets: covered[...], seal: seal, emptied: Array(sealUnsigned.utf8))
        let sealField = try Self.finish(sealFold, try Self.sign(key, sealDigest))
        return [sealField, amsField, aar]
    }

    private static func sign(_ key: DKIMSigningKey, _ digest: SHA256Digest) throws(DKIMSigningError) -> [UInt8] {
        do {
            return try key.signature(for: digest)
        } catch {
            throw DKIMSigningError(error.description)
        }
    }

    /// Appends the base64 signature in 64-character pieces.
    private static func finish(_ fold: HeaderFolder, _ signature: [UInt8]) throws(DKIMSigningError) -> HeaderField {
        var fold = fold
        let encoded = Array(Base64.encode(signature).utf8)
        var start = 0
        while start < encoded.count {
            let end = min(start + 64, encoded.count)
            fold.append(String(decoding: encoded[start..<end], as: UTF8.self), spaced: false)
            start = end
        }
        return HeaderField(raw: Array(fold.text.utf8))
    }
}
