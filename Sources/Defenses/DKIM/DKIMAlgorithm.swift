/// The signing algorithms of the `a=` tag that this project verifies and signs.
///
/// `rsa-sha1` is deliberately absent: signers must not use it and verifiers must not accept it
/// ([RFC 8301 §3.1](https://www.rfc-editor.org/rfc/rfc8301#section-3.1)); such signatures get
/// ``DKIMResult/permerror``.
public enum DKIMAlgorithm: String, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    /// RSASSA-PKCS1-v1_5 over SHA-256 ([RFC 6376 §3.3.2](https://www.rfc-editor.org/rfc/rfc6376#section-3.3.2)).
    case rsaSHA256 = "rsa-sha256"
    /// PureEdDSA Ed25519 over the SHA-256 digest ([RFC 8463 §3](https://www.rfc-editor.org/rfc/rfc8463#section-3)).
    case ed25519SHA256 = "ed25519-sha256"

    /// The key type (`k=`) a key record must have for this algorithm.
    public var keyType: DKIMKeyType {
        switch self {
        case .rsaSHA256: .rsa
        case .ed25519SHA256: .ed25519
        }
    }

    public var description: String { rawValue }
}

/// The `k=` key types of key records ([RFC 6376 §3.6.1](https://www.rfc-editor.org/rfc/rfc6376#section-3.6.1),
/// [RFC 8463 §4](https://www.rfc-editor.org/rfc/rfc8463#section-4)).
public enum DKIMKeyType: String, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    /// RSA; `p=` is a SubjectPublicKeyInfo (or bare PKCS#1 RSAPublicKey) in DER, base64.
    case rsa
    /// Ed25519; `p=` is the 32-byte public key, base64.
    case ed25519

    public var description: String { rawValue }
}
