/// What a virus scanner says about one message.
///
/// The verdict only; what happens to the message (reject, tempfail, pass with a header) is the
/// ``AntivirusDecision``'s business (DESIGN.md: verdict separate from action).
public enum ScanResult: Hashable, Sendable, CustomStringConvertible {
    /// No signature matched (clamd: `stream: OK`).
    case clean
    /// A signature matched (clamd: `stream: <name> FOUND`); `signature` is the name clamd
    /// reported, e.g. `Eicar-Test-Signature.UNOFFICIAL`.
    case infected(signature: String)
    /// The message could not be scanned; see ``ScanError``.
    case error(ScanError)

    public var description: String {
        switch self {
        case .clean: "clean"
        case .infected(let signature): "infected (\(signature))"
        case .error(let error): "error (\(error))"
        }
    }
}
