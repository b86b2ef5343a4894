/// Why the bytes from a server are not an SMTP reply (RFC 5321 §4.2). The client should close
/// the connection: there is no way to find the next reply after one of these.
public enum ReplyParseError: Error, Hashable, Sendable {
    /// A line does not start with a reply code 2yz–5yz followed by SP, "-" or the line end.
    case malformed(String)
    /// A line is longer than the parser's `maxLineLength`.
    case lineTooLong
    /// The lines of one multi-line reply carry different codes.
    case inconsistentCode
    /// A multi-line reply has more lines than the parser's `maxLines`.
    case tooManyLines
}
