/// Removal of `Authentication-Results` fields that claim to come from us
/// ([RFC 8601 §5](https://www.rfc-editor.org/rfc/rfc8601#section-5)): a border MTA "MUST remove
/// any such fields that claim its own authserv-id" before adding its own, or a sender could
/// write `Authentication-Results: mx.example.net; dkim=pass` and be believed downstream.
///
/// The `authserv-id` is compared ignoring ASCII case and a trailing dot, after any leading
/// comments; a field whose remainder does not parse is removed all the same (it still claims our
/// name). Fields of other hosts stay: they are information, not ours to judge. `ARC-*` fields are
/// left alone (they are signed; removing them would break the chain).
public struct ForgedAuthenticationResults: Sendable {
    /// Our `authserv-id` and any other names this site uses for itself.
    public var authservIDs: [String]

    public init(authservIDs: [String]) {
        self.authservIDs = authservIDs.map(Self.normalized)
    }

    public init(authservID: String) {
        self.init(authservIDs: [authservID])
    }

    /// Whether a field is an `Authentication-Results` claiming one of our names.
    public func isForged(_ field: HeaderField) -> Bool {
        guard field.hasName("Authentication-Results") else { return false }
        guard let id = AuthenticationResults.authservID(in: field.value) else { return false }
        return authservIDs.contains(Self.normalized(id))
    }

    /// The header without the forged fields, and how many were removed.
    public func removing(from header: MessageHeader) -> (header: MessageHeader, removed: Int) {
        let kept = header.fields.filter { !isForged($0) }
        return (MessageHeader(fields: kept), header.fields.count - kept.count)
    }

    private static func normalized(_ id: String) -> String {
        var lower = MessageASCII.lowercased(id)
        while lower.hasSuffix(".") { lower.removeLast() }
        return lower
    }
}
