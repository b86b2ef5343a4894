/// Canonicalises a message body as it streams past
/// ([RFC 6376 §3.4.3, §3.4.4](https://www.rfc-editor.org/rfc/rfc6376#section-3.4.3)), holding
/// only a count of pending empty lines and two flags — never a line or the body.
///
/// Lines end with CRLF or a bare LF (taken as CRLF, as the SMTP wire would carry it); a bare CR
/// inside a line is content. Output goes to a closure in pieces.
///
/// - `simple`: empty lines at the end are dropped; a body that is empty or does not end in CRLF
///   gets one.
/// - `relaxed`: also white space at line ends is dropped and runs of WSP inside a line become
///   one SP; an empty body stays empty.
public struct BodyCanonicalizer: Sendable {
    /// Which of the two body algorithms.
    public let canonicalization: Canonicalization
    private var pendingEmptyLines = 0
    private var lineHasContent = false
    private var pendingCR = false
    private var pendingSpace = false
    private var emittedAnything = false
    private var output: [UInt8] = []

    public init(_ canonicalization: Canonicalization) {
        self.canonicalization = canonicalization
        output.reserveCapacity(Self.flushSize)
    }

    private static let flushSize = 16 * 1024

    /// Canonicalises the next body bytes; `emit` gets the canonical bytes ready so far.
    public mutating func update(_ bytes: some Sequence<UInt8>, emit: ([UInt8]) -> Void) {
        let done: Void? = bytes.withContiguousStorageIfAvailable { update(buffer: $0, emit: emit) }
        if done == nil {
            Array(bytes).withUnsafeBufferPointer { update(buffer: $0, emit: emit) }
        }
        if !output.isEmpty {
            emit(output)
            output.removeAll(keepingCapacity: true)
        }
    }

    /// The work of ``update(_:emit:)``: line ends, white space and bare CRs one at a time, and
    /// everything between them copied as one run (for `relaxed`, a single SP between two content
    /// bytes belongs to the run: it canonicalises to itself).
    private mutating func update(buffer: UnsafeBufferPointer<UInt8>, emit: ([UInt8]) -> Void) {
        let relaxed = canonicalization == .relaxed
        var index = 0
        let end = buffer.count
        while index < end {
            let byte = buffer[index]
            if pendingCR {
                pendingCR = false
                if byte == MessageASCII.lf {
                    endLine()
                    index += 1
                    continue
                }
                content(CollectionOfOne(MessageASCII.cr), emit: emit)
            }
            if byte == MessageASCII.cr {
                pendingCR = true
                index += 1
            } else if byte == MessageASCII.lf {
                endLine()
                index += 1
            } else if relaxed && MessageASCII.isWSP(byte) {
                pendingSpace = true
                index += 1
            } else {
                var runEnd = index + 1
                if relaxed {
                    while runEnd < end {
                        let next = buffer[runEnd]
                        if Self.isRelaxedContent(next) {
                            runEnd += 1
                        } else if next == MessageASCII.sp, runEnd + 1 < end, Self.isRelaxedContent(buffer[runEnd + 1]) {
                            runEnd += 2
                        } else {
                            break
                        }
                    }
                } else {
                    while runEnd < end, buffer[runEnd] != MessageASCII.cr, buffer[runEnd] != MessageASCII.lf {
                        runEnd += 1
                    }
                }
                content(UnsafeBufferPointer(rebasing: buffer[index..<runEnd]), emit: emit)
                index = runEnd
            }
            if output.count >= Self.flushSize {
                emit(output)
                output.removeAll(keepingCapacity: true)
            }
        }
    }

    /// Neither a line end, a CR nor white space: a byte `relaxed` keeps as it is.
    private static func isRelaxedContent(_ byte: UInt8) -> Bool {
        byte != MessageASCII.cr && byte != MessageASCII.lf && !MessageASCII.isWSP(byte)
    }

    /// Ends the body; `emit` gets the last canonical bytes.
    public mutating func finish(emit: ([UInt8]) -> Void) {
        if pendingCR {
            pendingCR = false
            content(CollectionOfOne(MessageASCII.cr), emit: emit)
        }
        if lineHasContent {
            output += MessageASCII.crlf
            lineHasContent = false
        }
        if canonicalization == .simple && !emittedAnything && output.isEmpty {
            output += MessageASCII.crlf
        }
        pendingEmptyLines = 0
        if !output.isEmpty { emit(output) }
        output.removeAll()
    }

    /// Content bytes of the current line (never empty, no CR or LF).
    private mutating func content(_ bytes: some Collection<UInt8>, emit: ([UInt8]) -> Void) {
        if !lineHasContent {
            // Held-back empty lines were not at the end after all. Flushed in pieces: a body of
            // millions of empty lines must not become one buffer.
            for _ in 0..<pendingEmptyLines {
                output += MessageASCII.crlf
                if output.count >= Self.flushSize {
                    emit(output)
                    output.removeAll(keepingCapacity: true)
                }
            }
            pendingEmptyLines = 0
            lineHasContent = true
            emittedAnything = true
        }
        if pendingSpace {
            output.append(MessageASCII.sp)
            pendingSpace = false
        }
        output.append(contentsOf: bytes)
    }

    private mutating func endLine() {
        pendingSpace = false
        if lineHasContent {
            output += MessageASCII.crlf
            lineHasContent = false
        } else {
            pendingEmptyLines += 1
        }
    }
}
