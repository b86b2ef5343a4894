/// What ARC validation found for one set.
public struct ARCSetVerification: Hashable, Sendable, CustomStringConvertible {
    public var instance: Int
    /// `d=` of the seal (who sealed this hop).
    public var sealDomain: String?
    /// The seal's `cv=`.
    public var chainValidation: ARCChainStatus?
    /// The AMS result (`nil` when not checked: only the newest must pass, older ones are checked
    /// for `oldest-pass`).
    public var messageSignature: DKIMVerification?
    /// Whether the seal verified (`nil` when not checked).
    public var sealValid: Bool?
    /// Why the seal did not verify.
    public var sealReason: String?

    public var description: String {
        var parts = ["i=\(instance)"]
        if let sealDomain { parts.append("d=\(sealDomain)") }
        if let chainValidation { parts.append("cv=\(chainValidation)") }
        if let messageSignature {
            parts.append("AMS \(messageSignature.result)" + (messageSignature.reason.map { " (\($0))" } ?? ""))
        }
        if let sealValid { parts.append("AS " + (sealValid ? "pass" : "fail") + (sealReason.map { " (\($0))" } ?? "")) }
        return parts.joined(separator: " ")
    }
}

/// The outcome of ARC validation ([RFC 8617 §5.2](https://www.rfc-editor.org/rfc/rfc8617#section-5.2)).
public struct ARCVerification: Hashable, Sendable {
    /// The chain validation status.
    public var result: ARCChainStatus
    /// The number of sets (N).
    public var instances: Int
    /// When ``result`` is pass: the lowest instance from which every AMS up to N verified, or 0
    /// when all of them did (§5.2 step 5; the `header.oldest-pass` of Authentication-Results).
    public var oldestPass: Int?
    /// Why the chain failed.
    public var reason: String?
    /// Per set, newest first.
    public var sets: [ARCSetVerification]
    /// The newest set's AAR payload, when there is a chain (what the last hop saw).
    public var latestAuthenticationResults: String?
    /// What was checked, in order.
    public var trail: [String]

    public init(
        result: ARCChainStatus, instances: Int = 0, oldestPass: Int? = nil, reason: String? = nil, sets: [ARCSetVerification] = [],
        latestAuthenticationResults: String? = nil, trail: [String] = []
    ) {
        self.result = result
        self.instances = instances
        self.oldestPass = oldestPass
        self.reason = reason
        self.sets = sets
        self.latestAuthenticationResults = latestAuthenticationResults
        self.trail = trail
    }
}
