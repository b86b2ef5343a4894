/// The chain validation status of ARC, the `cv=` of an ARC-Seal and the result of the `arc`
/// Authentication-Results method ([RFC 8617 §4.4](https://www.rfc-editor.org/rfc/rfc8617#section-4.4)).
public enum ARCChainStatus: String, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    /// No chain (or, in `cv=`, the first set).
    case none
    /// Every seal and the newest message signature verified.
    case pass
    /// Something in the chain did not verify or is malformed.
    case fail

    public var description: String { rawValue }
}
