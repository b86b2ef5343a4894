/// The result of checking one DKIM signature, named as in Authentication-Results
/// ([RFC 8601 §2.7.1](https://www.rfc-editor.org/rfc/rfc8601#section-2.7.1)).
///
/// A verdict only; what a role does with it is its policy's business (DESIGN "Defenses").
public enum DKIMResult: String, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    /// The message carries no signature.
    case none
    /// The signature verified with the published key.
    case pass
    /// The signature or the body hash did not verify.
    case fail
    /// The signature verified but local policy refused it (not produced by the verifier).
    case policy
    /// The signature did not verify but its key is in testing mode (`t=y`): RFC 6376 §3.6.1 says
    /// such mail must be treated like unsigned mail.
    case neutral
    /// A DNS failure that may go away: the key could not be fetched (RFC 6376 §6.1.2 TEMPFAIL).
    case temperror
    /// The signature or its key record cannot be used: syntax, `rsa-sha1`, short key, revoked
    /// key, no key, expired, wrong `i=` (RFC 6376 §6.1.1, §6.1.2 PERMFAIL).
    case permerror

    public var description: String { rawValue }
}

/// What verifying one `DKIM-Signature` field found.
public struct DKIMVerification: Hashable, Sendable, CustomStringConvertible {
    /// The field checked.
    public var field: HeaderField
    /// The parsed signature; `nil` when the field could not be parsed.
    public var signature: DKIMSignature?
    /// The verdict for this signature.
    public var result: DKIMResult
    /// Why, when the result is not `pass` ("body hash did not verify", "key revoked", ...).
    public var reason: String?
    /// The size of the RSA key used, when one was.
    public var keyBits: Int?
    /// Whether the key record said `t=y`.
    public var testing: Bool

    public init(field: HeaderField, signature: DKIMSignature?, result: DKIMResult, reason: String? = nil, keyBits: Int? = nil, testing: Bool = false) {
        self.field = field
        self.signature = signature
        self.result = result
        self.reason = reason
        self.keyBits = keyBits
        self.testing = testing
    }

    /// `d=`, when the signature parsed.
    public var domain: String? { signature?.domain }
    /// `s=`, when the signature parsed.
    public var selector: String? { signature?.selector }

    /// `dkim=pass header.d=example.com header.s=sel header.a=rsa-sha256 (reason)`.
    public var description: String {
        var text = "dkim=\(result)"
        if let signature {
            text += " header.d=\(signature.domain) header.s=\(signature.selector) header.a=\(signature.algorithm)"
        }
        if let reason { text += " (\(reason))" }
        return text
    }
}
