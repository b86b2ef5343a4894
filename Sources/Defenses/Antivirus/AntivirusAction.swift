/// What the antivirus stage does with a message it will not pass (a virus, a blocked
/// attachment, a MIME structure beyond the limits): the role's `antivirus.action`.
/// Neither ever bounces: the sender of a virus is likely forged.
public enum AntivirusAction: String, Hashable, Sendable, CaseIterable {
    /// `554 5.7.0` at the end of DATA while the previous stage is connected; it keeps the
    /// failure (and, being ours, does not bounce it). The default.
    case reject
    /// `250`: the message is held in the ``QuarantineStore`` (SMTPCore) with its reason, never
    /// delivered, until an operator releases or deletes it, or the retention purges it.
    case quarantine
}
