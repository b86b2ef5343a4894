/// Bounds on what ``MIMEWalker`` does with one message, so that hostile structure (a
/// 10,000-part message, parts nested a thousand deep, base64 inside base64) is refused
/// instead of walked forever (DESIGN.md §3.2). Every limit has a default.
public struct MIMELimits: Hashable, Sendable {
    /// Nesting depth of multiparts and message/rfc822 parts; the top-level entity is depth 0.
    /// Default 16 (clamd's `MaxRecursion` defaults to 17).
    public var maxDepth: Int
    /// Entities in the whole message, containers included. Default 1,000.
    public var maxParts: Int
    /// Octets produced by all content-transfer decodings together. Default 64 MiB.
    public var maxDecodedBytes: Int
    /// Header bounds of each part (the top-level header included).
    public var header: MessageLimits
    /// Entries read from one ZIP central directory. Default 10,000.
    public var maxArchiveEntries: Int
    /// ZIP archives stored (uncompressed) inside ZIP archives that are opened. Default depth 4.
    public var maxArchiveDepth: Int

    public init(
        maxDepth: Int = 16, maxParts: Int = 1000, maxDecodedBytes: Int = 64 << 20,
        header: MessageLimits = MessageLimits(maxHeaderBytes: 256 << 10, maxFieldCount: 500),
        maxArchiveEntries: Int = 10_000, maxArchiveDepth: Int = 4
    ) {
        self.maxDepth = maxDepth
        self.maxParts = maxParts
        self.maxDecodedBytes = maxDecodedBytes
        self.header = header
        self.maxArchiveEntries = maxArchiveEntries
        self.maxArchiveDepth = maxArchiveDepth
    }
}
