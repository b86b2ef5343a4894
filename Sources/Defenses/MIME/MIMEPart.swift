/// One leaf of a message's MIME tree, decoded
/// ([RFC 2045](https://www.rfc-editor.org/rfc/rfc2045), [RFC 2046](https://www.rfc-editor.org/rfc/rfc2046)).
///
/// Containers (multipart/\*, message/rfc822) are walked, not listed; a uuencoded block inside a
/// text part becomes a leaf of its own.
public struct MIMEPart: Hashable, Sendable {
    /// Where the part sits: `1` is the top-level entity, `1.2.1` the first part of its second part.
    public var path: String
    /// Containers above this part.
    public var depth: Int
    /// `type/subtype`, lower case (RFC 2045 §5.2 default `text/plain`).
    public var contentType: String
    /// `attachment` or `inline` (RFC 2183), lower case, when the part says.
    public var disposition: String?
    /// The file name from Content-Disposition `filename` or Content-Type `name` (RFC 2183,
    /// RFC 2231 parameter encoding and continuations, RFC 2047 encoded words), or from a
    /// uuencode `begin` line.
    public var filename: String?
    /// The Content-Transfer-Encoding as sent, lower case (`7bit` when absent), or `x-uuencode`.
    public var transferEncoding: String
    /// The content after transfer decoding.
    public var body: [UInt8]
    /// Where the whole entity (its header and encoded body) lies in the walked message, when it
    /// lies there as bytes — nil inside an encoded container or for a uuencoded block. What an
    /// ``AttachmentStripper`` replaces.
    public var rawRange: Range<Int>?

    public init(path: String, depth: Int, contentType: String, disposition: String?, filename: String?,
                transferEncoding: String, body: [UInt8], rawRange: Range<Int>? = nil) {
        self.rawRange = rawRange
        self.path = path
        self.depth = depth
        self.contentType = contentType
        self.disposition = disposition
        self.filename = filename
        self.transferEncoding = transferEncoding
        self.body = body
    }

    /// The content type guessed from the first octets (``DetectedFileType``).
    public var detectedType: DetectedFileType? { DetectedFileType.detect(body) }
}
