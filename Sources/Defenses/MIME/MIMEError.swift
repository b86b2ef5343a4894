/// Why a message's MIME structure was refused. The message is rejected as a whole: what cannot
/// be walked cannot be checked.
public enum MIMEError: Error, Hashable, Sendable, CustomStringConvertible {
    case tooDeep(limit: Int)
    case tooManyParts(limit: Int)
    case decodedTooLarge(limit: Int)
    case badHeader(MessageError)

    public var description: String {
        switch self {
        case .tooDeep(let limit): "MIME nesting deeper than \(limit)"
        case .tooManyParts(let limit): "more than \(limit) MIME parts"
        case .decodedTooLarge(let limit): "decoded content larger than \(limit) octets"
        case .badHeader(let error): "part header: \(error)"
        }
    }
}
