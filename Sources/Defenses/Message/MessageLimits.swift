/// Bounds on what ``MessageReader`` accepts from the header section of a message, so that hostile
/// input costs bounded memory (DESIGN §3.2). The body is never buffered and needs no bound here.
public struct MessageLimits: Hashable, Sendable {
    /// Bytes of the whole header section, line ends included. RFC 5322 sets none; 1 MiB is far
    /// above real mail (Postfix's `header_size_limit` is 100 KiB).
    public var maxHeaderBytes: Int
    /// Header fields in the section ([RFC 5322 §2.2](https://www.rfc-editor.org/rfc/rfc5322#section-2.2)).
    public var maxFieldCount: Int

    public init(maxHeaderBytes: Int = 1 << 20, maxFieldCount: Int = 1000) {
        self.maxHeaderBytes = maxHeaderBytes
        self.maxFieldCount = maxFieldCount
    }
}

/// Why a message's header section was refused.
public enum MessageError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The header section is larger than ``MessageLimits/maxHeaderBytes``.
    case headerTooLarge(limit: Int)
    /// More fields than ``MessageLimits/maxFieldCount``.
    case tooManyFields(limit: Int)

    public var description: String {
        switch self {
        case .headerTooLarge(let limit): "header section larger than \(limit) bytes"
        case .tooManyFields(let limit): "more than \(limit) header fields"
        }
    }
}
