/// The DMARC result of a message ([RFC 7489 §6.6.2](https://www.rfc-editor.org/rfc/rfc7489#section-6.6.2)),
/// named as in Authentication-Results (the `dmarc` method's results, registered by
/// [RFC 7489 §11.2](https://www.rfc-editor.org/rfc/rfc7489#section-11.2)).
public enum DMARCResult: String, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    /// No policy was found (or the From domain could not be looked up as a name).
    case none
    /// An aligned SPF or DKIM pass.
    case pass
    /// A policy exists and neither SPF nor DKIM passed aligned.
    case fail
    /// The policy could not be fetched (DNS timeout, SERVFAIL): try later.
    case temperror
    /// The policy or the message cannot be evaluated: a malformed record, several records, no
    /// single From domain.
    case permerror

    public var description: String { rawValue }
}

/// What DMARC asks the receiver to do with the message
/// ([RFC 7489 §6.6.4](https://www.rfc-editor.org/rfc/rfc7489#section-6.6.4)), after `pct`
/// sampling; the report's `disposition`.
public enum DMARCDisposition: String, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    case none
    case quarantine
    case reject

    public var description: String { rawValue }
}

/// Which policy tag applied ([RFC 7489 §6.6.3](https://www.rfc-editor.org/rfc/rfc7489#section-6.6.3),
/// [RFC 9091 §4.2](https://www.rfc-editor.org/rfc/rfc9091#section-4.2)).
public enum DMARCPolicySource: String, Hashable, Sendable, CustomStringConvertible {
    /// `p=` of a record at the From domain itself.
    case domain = "p"
    /// `sp=` (or `p=` when absent) of the organisational domain's record.
    case subdomain = "sp"
    /// `np=` of the organisational domain's record: the From domain does not exist.
    case nonexistent = "np"

    public var description: String { rawValue }
}
