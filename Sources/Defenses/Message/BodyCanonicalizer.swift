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
        let relaxed = canonicalization == .relaxed
        for byte in bytes {
            if pendingCR {
                pendingCR = false
                if byte == MessageASCII.lf {
                    endLine()
                    continue
                }
                content(MessageASCII.cr, emit: emit)
            }
            if byte == MessageASCII.cr {
                pendingCR = true
            } else if byte == MessageASCII.lf {
                endLine()
            } else if relaxed && MessageASCII.isWSP(byte) {
                pendingSpace = true
            } else {
                content(byte, emit: emit)
            }
            if output.count >= Self.flushSize {
                emit(output)
                output.removeAll(keepingCapacity: true)
            }
        }
        if !output.isEmpty {
            emit(output)
            output.removeAll(keepingCapacity: true)
        }
    }

    /// Ends the body; `emit` gets the last canonical bytes.
    public mutating func finish(emit: ([UInt8]) -> Void) {
        if pendingCR {
            pendingCR = false
            content(MessageASCII.cr, emit: emit)
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

    private mutating func content(_ byte: UInt8, emit: ([UInt8]) -> Void) {
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
        output.append(byte)
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
