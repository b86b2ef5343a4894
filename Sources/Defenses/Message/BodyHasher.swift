import Crypto

/// The DKIM body hash, computed while the body streams past
/// ([RFC 6376 §3.7](https://www.rfc-editor.org/rfc/rfc6376#section-3.7)): canonicalise
/// (``BodyCanonicalizer``), keep the first `l=` octets when a limit is set
/// ([§3.5](https://www.rfc-editor.org/rfc/rfc6376#section-3.5) `l=`), SHA-256.
///
/// Memory is constant whatever the body size; the canonical length is counted in full so a
/// verifier can tell whether `l=` exceeds the body.
public struct BodyHasher: Sendable {
    /// The body canonicalisation (`c=` body part).
    public let canonicalization: Canonicalization
    /// The `l=` limit: canonical octets hashed; `nil` for the whole body.
    public let limit: UInt64?
    private var canonicalizer: BodyCanonicalizer
    private var state: State

    /// The digest and counters, kept apart from the canonicaliser so that feeding one into the
    /// other copies neither (the canonicaliser's buffer stays uniquely referenced).
    private struct State: Sendable {
        var sha = SHA256()
        var hashed: UInt64 = 0
        var canonicalLength: UInt64 = 0
        let limit: UInt64?

        mutating func absorb(_ piece: [UInt8]) {
            canonicalLength += UInt64(piece.count)
            var take = piece.count
            if let limit {
                let room = limit > hashed ? limit - hashed : 0
                take = Int(min(UInt64(piece.count), room))
            }
            guard take > 0 else { return }
            piece.withUnsafeBytes { sha.update(bufferPointer: UnsafeRawBufferPointer(rebasing: $0[..<take])) }
            hashed += UInt64(take)
        }
    }

    public init(canonicalization: Canonicalization, limit: UInt64? = nil) {
        self.canonicalization = canonicalization
        self.limit = limit
        self.canonicalizer = BodyCanonicalizer(canonicalization)
        self.state = State(limit: limit)
    }

    /// Canonical octets seen so far, hashed or not.
    public var canonicalLength: UInt64 { state.canonicalLength }

    /// Hashes the next raw body bytes.
    public mutating func update(_ bytes: some Sequence<UInt8>) {
        var state = self.state
        canonicalizer.update(bytes) { state.absorb($0) }
        self.state = state
    }

    /// Ends the body and returns the SHA-256 digest (the `bh=` value before base64).
    public mutating func finalize() -> [UInt8] {
        var state = self.state
        canonicalizer.finish { state.absorb($0) }
        self.state = state
        return Array(state.sha.finalize())
    }
}
