/// Splits a message arriving in chunks into its header section and a stream of body bytes
/// ([RFC 5322 §2.1](https://www.rfc-editor.org/rfc/rfc5322#section-2.1)): the header is
/// buffered (bounded by ``MessageLimits``), the body is handed back chunk by chunk and never held.
///
/// ```swift
/// var reader = MessageReader()
/// for chunk in chunks {
///     let body = try reader.feed(chunk)          // empty until the header is complete
///     if !body.isEmpty { hasher.update(body) }
/// }
/// let header = try reader.finish()
/// ```
///
/// The header ends at the first empty line, CRLF CRLF or LF LF (also mixed). A message without
/// an empty line is all header and no body.
public struct MessageReader: Sendable {
    /// The bounds enforced on the header section.
    public let limits: MessageLimits
    private var headerBytes: [UInt8] = []
    /// Bytes of the current header line, not counting a CR before LF.
    private var lineLength = 0
    private var complete: MessageHeader?

    public init(limits: MessageLimits = MessageLimits()) {
        self.limits = limits
    }

    /// The header, once the empty line that ends it has been read.
    public var header: MessageHeader? { complete }

    /// Reads a chunk; returns the part of it that belongs to the body (empty while the header
    /// is still being read).
    public mutating func feed(_ chunk: ArraySlice<UInt8>) throws(MessageError) -> ArraySlice<UInt8> {
        guard complete == nil else { return chunk }
        // A line at a time: its bytes are appended as one run, not one by one.
        var index = chunk.startIndex
        while index < chunk.endIndex {
            let lineEnd = chunk[index...].firstIndex(of: MessageASCII.lf)
            let run = chunk[index..<(lineEnd ?? chunk.endIndex)]
            var carriageReturns = 0
            for byte in run where byte == MessageASCII.cr { carriageReturns += 1 }
            lineLength += run.count - carriageReturns
            headerBytes.append(contentsOf: run)
            guard headerBytes.count <= limits.maxHeaderBytes else { throw .headerTooLarge(limit: limits.maxHeaderBytes) }
            guard let lineEnd else { return [] }
            index = lineEnd + 1
            if lineLength == 0 {
                try completeHeader()
                return chunk[index...]
            }
            lineLength = 0
            headerBytes.append(MessageASCII.lf)
            guard headerBytes.count <= limits.maxHeaderBytes else { throw .headerTooLarge(limit: limits.maxHeaderBytes) }
        }
        return []
    }

    /// Reads a chunk held in an array.
    public mutating func feed(_ chunk: [UInt8]) throws(MessageError) -> ArraySlice<UInt8> {
        try feed(chunk[...])
    }

    /// Ends the input and returns the header; without an empty line, everything read is header.
    public mutating func finish() throws(MessageError) -> MessageHeader {
        if complete == nil { try completeHeader() }
        return complete ?? MessageHeader()
    }

    private mutating func completeHeader() throws(MessageError) {
        // The CR of the empty line's CRLF, if any, is still in the buffer.
        if headerBytes.last == MessageASCII.cr { headerBytes.removeLast() }
        complete = try MessageHeader.parse(headerBytes, limits: limits)
        headerBytes = []
    }
}
