/// Walks a message's MIME tree and returns every leaf decoded
/// ([RFC 2045](https://www.rfc-editor.org/rfc/rfc2045), [RFC 2046](https://www.rfc-editor.org/rfc/rfc2046)):
/// multipart/\* bodies are split at their boundaries (RFC 2046 §5.1.1), message/rfc822 and
/// message/global bodies are walked as messages (RFC 2046 §5.2.1, RFC 6532), base64 and
/// quoted-printable are decoded (RFC 2045 §6.7-6.8), uuencoded blocks in text parts become parts
/// of their own.
///
/// The walk stops with a ``MIMEError`` at the first limit it meets (``MIMELimits``): depth,
/// part count, decoded octets. Memory is bounded by the message plus
/// ``MIMELimits/maxDecodedBytes``.
public struct MIMEWalker: Sendable {
    public let limits: MIMELimits

    public init(limits: MIMELimits = MIMELimits()) {
        self.limits = limits
    }

    /// The leaves of `message` (a whole RFC 5322 message, header included), in document order.
    public func parts(of message: some Collection<UInt8>) throws(MIMEError) -> [MIMEPart] {
        var state = WalkState()
        let bytes = Array(message)
        try walk(bytes[...], depth: 0, path: "1", defaultType: "text/plain", original: true, state: &state)
        return state.leaves
    }

    private struct WalkState {
        var leaves: [MIMEPart] = []
        var entities = 0
        var decoded = 0
    }

    /// `original`: `entity` is a slice of the message itself (its indices are offsets there).
    private func walk(_ entity: ArraySlice<UInt8>, depth: Int, path: String, defaultType: String, original: Bool,
                      state: inout WalkState) throws(MIMEError) {
        guard depth <= limits.maxDepth else { throw .tooDeep(limit: limits.maxDepth) }
        state.entities += 1
        guard state.entities <= limits.maxParts else { throw .tooManyParts(limit: limits.maxParts) }

        var reader = MessageReader(limits: limits.header)
        let body: ArraySlice<UInt8>
        let header: MessageHeader
        do {
            body = try reader.feed(entity)
            header = try reader.finish()
        } catch {
            throw .badHeader(error)
        }
        let contentType = header.first(named: "Content-Type").map { ContentHeaderValue(parsing: $0.value) }
        var type = contentType?.value ?? ""
        if !type.contains("/") { type = defaultType }  // RFC 2045 §5.2: invalid means the default
        let encoding = header.first(named: "Content-Transfer-Encoding")?.value.lowercased().trimmingWhitespace() ?? "7bit"

        if type.hasPrefix("multipart/"), let boundary = contentType?.parameters["boundary"], !boundary.isEmpty {
            // RFC 2046 §5.1.5: parts of multipart/digest default to message/rfc822.
            let childDefault = type == "multipart/digest" ? "message/rfc822" : "text/plain"
            let room = limits.maxParts - state.entities + 1
            for (index, part) in MultipartBody.parts(of: body, boundary: boundary, limit: room).enumerated() {
                try walk(part, depth: depth + 1, path: "\(path).\(index + 1)", defaultType: childDefault, original: original, state: &state)
            }
            return
        }

        let decoded = try decode(body, encoding: encoding, state: &state)
        if type == "message/rfc822" || type == "message/global" {
            // Sent as is (7bit/8bit/binary): walk the message's own bytes, so its parts keep their offsets.
            let identity = encoding == "7bit" || encoding == "8bit" || encoding == "binary"
            if identity, original {
                try walk(body, depth: depth + 1, path: "\(path).1", defaultType: "text/plain", original: true, state: &state)
            } else {
                try walk(decoded[...], depth: depth + 1, path: "\(path).1", defaultType: "text/plain", original: false, state: &state)
            }
            return
        }

        let disposition = header.first(named: "Content-Disposition").map { ContentHeaderValue(parsing: $0.value) }
        let filename = disposition?.parameters["filename"] ?? contentType?.parameters["name"]
        state.leaves.append(MIMEPart(
            path: path, depth: depth, contentType: type, disposition: disposition.map(\.value).flatMap { $0.isEmpty ? nil : $0 },
            filename: filename.flatMap { $0.isEmpty ? nil : $0 }, transferEncoding: encoding, body: decoded,
            rawRange: original ? entity.startIndex..<entity.endIndex : nil))

        if type.hasPrefix("text/"), filename == nil, containsUuencodeStart(decoded) {
            let budget = limits.maxDecodedBytes - state.decoded
            for (index, file) in Uuencode.files(in: decoded[...], maxFiles: limits.maxParts, budget: budget).enumerated() {
                state.entities += 1
                guard state.entities <= limits.maxParts else { throw .tooManyParts(limit: limits.maxParts) }
                try account(file.body.count, state: &state)
                state.leaves.append(MIMEPart(
                    path: "\(path).u\(index + 1)", depth: depth + 1, contentType: "application/octet-stream",
                    disposition: "attachment", filename: file.name, transferEncoding: "x-uuencode", body: file.body))
            }
        }
    }

    private func decode(_ body: ArraySlice<UInt8>, encoding: String, state: inout WalkState) throws(MIMEError) -> [UInt8] {
        let decoded: [UInt8]
        switch encoding {
        case "base64": decoded = TransferDecoding.base64(body)
        case "quoted-printable": decoded = TransferDecoding.quotedPrintable(body)
        default: decoded = Array(body)
        }
        try account(decoded.count, state: &state)
        return decoded
    }

    private func account(_ count: Int, state: inout WalkState) throws(MIMEError) {
        state.decoded += count
        guard state.decoded <= limits.maxDecodedBytes else { throw .decodedTooLarge(limit: limits.maxDecodedBytes) }
    }

    private func containsUuencodeStart(_ bytes: [UInt8]) -> Bool {
        let marker = Array("begin ".utf8)
        guard bytes.count >= marker.count else { return false }
        if bytes.starts(with: marker) { return true }
        var index = 0
        while index + marker.count < bytes.count {
            if bytes[index] == 0x0A, bytes[(index + 1)...].starts(with: marker) { return true }
            index += 1
        }
        return false
    }
}

/// Splitting a multipart body at its boundary lines (RFC 2046 §5.1.1).
public enum MultipartBody {
    /// The body parts between `--boundary` lines, without the CRLF that belongs to the
    /// delimiter; the preamble and the epilogue after `--boundary--` are dropped. A missing
    /// close delimiter ends the last part at the end of the body (lenient, like clients).
    /// At most `limit` parts are split off (one more than a caller's room is enough to fail).
    public static func parts(of body: ArraySlice<UInt8>, boundary: String, limit: Int = .max) -> [ArraySlice<UInt8>] {
        let delimiter = Array("--\(boundary)".utf8)
        var parts: [ArraySlice<UInt8>] = []
        var partStart: Int?
        var lineStart = body.startIndex
        while lineStart < body.endIndex {
            var lineEnd = lineStart
            while lineEnd < body.endIndex, body[lineEnd] != 0x0A { lineEnd += 1 }
            let line = body[lineStart..<lineEnd]
            let next = lineEnd < body.endIndex ? lineEnd + 1 : lineEnd
            if line.starts(with: delimiter) {
                var rest = line.dropFirst(delimiter.count)
                let closing = rest.starts(with: [UInt8(ascii: "-"), UInt8(ascii: "-")])
                if closing { rest = rest.dropFirst(2) }
                // RFC 2046: transport padding (white space) may follow the boundary.
                if rest.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) {
                    if let start = partStart {
                        var end = lineStart
                        // The CRLF before the delimiter belongs to it.
                        if end > start, body[end - 1] == 0x0A { end -= 1 }
                        if end > start, body[end - 1] == 0x0D { end -= 1 }
                        parts.append(body[start..<max(start, end)])
                        if parts.count >= limit { return parts }
                    }
                    if closing { return parts }
                    partStart = next
                }
            }
            lineStart = next
        }
        if let start = partStart, start < body.endIndex { parts.append(body[start...]) }
        return parts
    }
}
