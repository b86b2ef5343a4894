import SMTPCore

/// Where a session's SPF result for its MAIL FROM identity is kept, so that other mechanisms
/// (greylisting's exemption, DM22) use it without asking DNS again.
///
/// A hook that checks SPF stores its result here for the current transaction
/// (``store(_:for:in:)``); ``result(for:in:)`` returns it only for the same reverse-path.
/// ``SPFDefense`` (DM30) stores it at MAIL FROM; without that hook greylisting runs the check
/// itself through ``Greylisting/SPFCheck``.
public enum SPFSessionResult {
    struct Kept: Sendable {
        var reversePath: ReversePath
        var result: SPFResult
        /// The whole check, when the hook kept it (for Authentication-Results and DMARC).
        var check: SPFCheck?
    }

    static let key = SessionAttributeKey<Kept>("spf.mailfrom")

    /// Keeps `result` as the SPF result of `reversePath` ([RFC 7208 §2.4](https://www.rfc-editor.org/rfc/rfc7208#section-2.4)).
    public static func store(_ result: SPFResult, for reversePath: ReversePath, in session: SessionContext) {
        session.attributes[key] = Kept(reversePath: reversePath, result: result)
    }

    /// Keeps a whole check (its result included) for `reversePath`.
    public static func store(_ check: SPFCheck, for reversePath: ReversePath, in session: SessionContext) {
        session.attributes[key] = Kept(reversePath: reversePath, result: check.result, check: check)
    }

    /// The kept check when one was kept for `reversePath`.
    public static func check(for reversePath: ReversePath, in session: SessionContext) -> SPFCheck? {
        guard let kept = session.attributes[key], kept.reversePath == reversePath else { return nil }
        return kept.check
    }

    /// The kept result when it was found for `reversePath`.
    public static func result(for reversePath: ReversePath, in session: SessionContext) -> SPFResult? {
        guard let kept = session.attributes[key], kept.reversePath == reversePath else { return nil }
        return kept.result
    }
}
