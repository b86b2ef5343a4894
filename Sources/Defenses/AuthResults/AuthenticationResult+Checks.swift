import SMTPCore

/// `resinfo` entries for the checks this library runs, with the properties RFC 8601 registers
/// for each method ([§2.7](https://www.rfc-editor.org/rfc/rfc8601#section-2.7)).
extension AuthenticationResult {
    /// `spf=pass smtp.mailfrom=example.org` or `spf=none smtp.helo=mail.example.org`
    /// ([RFC 8601 §2.7.2](https://www.rfc-editor.org/rfc/rfc8601#section-2.7.2)); temperror and
    /// permerror carry `reason=`. `smtp.mailfrom` is the domain only (the pvalue grammar allows
    /// leaving out the local-part, §2.2).
    public static func spf(_ check: SPFCheck) -> AuthenticationResult {
        var result = AuthenticationResult(method: "spf", result: check.result.rawValue)
        if let problem = check.problem, check.result == .temperror || check.result == .permerror {
            result.reason = problem
        }
        switch check.identity {
        case .mailFrom: result.properties.append(AuthenticationProperty("smtp", "mailfrom", check.sender.domain))
        case .helo: result.properties.append(AuthenticationProperty("smtp", "helo", check.helo))
        }
        return result
    }

    /// One `dkim=` per signature ([RFC 8601 §2.7.1](https://www.rfc-editor.org/rfc/rfc8601#section-2.7.1)):
    /// `header.d`, `header.i`, `header.s`, `header.a`, and `header.b` — the first eight characters
    /// of the signature, which tell two signatures of one domain apart
    /// ([RFC 6008 §2](https://www.rfc-editor.org/rfc/rfc6008#section-2)). The verifier's reason
    /// goes to `reason=` when the result is not `pass`.
    public static func dkim(_ verification: DKIMVerification) -> AuthenticationResult {
        var result = AuthenticationResult(method: "dkim", result: verification.result.rawValue)
        if verification.result != .pass { result.reason = verification.reason }
        if let signature = verification.signature {
            result.properties = [
                AuthenticationProperty("header", "d", signature.domain),
                AuthenticationProperty("header", "i", signature.identity ?? "@" + signature.domain),
                AuthenticationProperty("header", "s", signature.selector),
                AuthenticationProperty("header", "a", signature.algorithm.rawValue),
                AuthenticationProperty("header", "b", Self.signaturePrefix(signature)),
            ]
        }
        return result
    }

    /// The first 8 characters of `b=` (RFC 6008 §4): the base64 of the signature's first 6 octets,
    /// which is exactly those characters (two whole groups), without copying the whole value.
    static func signaturePrefix(_ signature: DKIMSignature) -> String {
        guard signature.signature.count >= 6 else { return String(DKIMTagList.removingFWS(signature.tags["b"] ?? "").prefix(8)) }
        return Base64.encode(signature.signature.prefix(6))
    }

    /// `dkim=none`: the message carries no signature.
    public static let dkimNone = AuthenticationResult(method: "dkim", result: "none")
}

extension AuthenticationResults {
    /// One `dkim=` per verification, or `dkim=none` when there were none.
    public mutating func append(dkim verifications: [DKIMVerification]) {
        guard !verifications.isEmpty else { return append(.dkimNone) }
        for verification in verifications { append(.dkim(verification)) }
    }
}
