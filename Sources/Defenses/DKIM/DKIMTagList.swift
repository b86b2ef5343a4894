/// A DKIM tag=value list, as in the `DKIM-Signature` field and in key records
/// ([RFC 6376 §3.2](https://www.rfc-editor.org/rfc/rfc6376#section-3.2)), parsed strictly:
///
/// ```
/// tag-list  =  tag-spec *( ";" tag-spec ) [ ";" ]
/// tag-spec  =  [FWS] tag-name [FWS] "=" [FWS] tag-value [FWS]
/// tag-name  =  ALPHA *ALNUMPUNC          ; ALNUMPUNC = ALPHA / DIGIT / "_"
/// tag-value =  [ tval *( 1*(WSP / FWS) tval ) ]
/// tval      =  1*VALCHAR                 ; VALCHAR = %x21-3A / %x3C-7E
/// ```
///
/// A repeated tag name makes the whole list invalid (§3.2). Bytes above 0x7E are accepted in
/// values (UTF-8 in `z=` copies or key notes, [RFC 8616](https://www.rfc-editor.org/rfc/rfc8616)).
public struct DKIMTagList: Hashable, Sendable {
    /// One tag with its value and where the value sits in the parsed bytes.
    public struct Tag: Hashable, Sendable {
        /// The name, case preserved (tag names are case-sensitive, §3.2).
        public var name: String
        /// The value without surrounding white space; inner FWS kept as written.
        public var value: String
        /// Offsets in the parsed bytes from just after `=` to just before the `;` or the end:
        /// what §3.7 empties for `b=`.
        public var valueSpan: Range<Int>
    }

    /// The tags in order.
    public var tags: [Tag]

    /// The value of a tag, or `nil`.
    public subscript(name: String) -> String? { tags.first { $0.name == name }?.value }

    /// Parses a list. `offset` is added to every ``Tag/valueSpan`` (the position of the bytes
    /// in a larger buffer).
    public static func parse(_ bytes: some Collection<UInt8>, offset: Int = 0) throws(DKIMTagListError) -> DKIMTagList {
        let bytes = Array(bytes)
        var tags: [Tag] = []
        var index = 0
        func isFWS(_ byte: UInt8) -> Bool { MessageASCII.isWSP(byte) || byte == MessageASCII.cr || byte == MessageASCII.lf }
        func skipFWS() { while index < bytes.count && isFWS(bytes[index]) { index += 1 } }
        while true {
            skipFWS()
            if index == bytes.count {
                // Empty list, or a final ";" (allowed once at the end).
                break
            }
            let nameStart = index
            guard isAlpha(bytes[index]) else {
                throw DKIMTagListError("tag name expected at \"\(excerpt(bytes, index))\"")
            }
            while index < bytes.count && (isAlpha(bytes[index]) || isDigit(bytes[index]) || bytes[index] == UInt8(ascii: "_")) {
                index += 1
            }
            let name = String(decoding: bytes[nameStart..<index], as: UTF8.self)
            skipFWS()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "=") else {
                throw DKIMTagListError("\"=\" expected after tag \(name)")
            }
            index += 1
            let spanStart = index
            var valueStart: Int?
            var valueEnd = index
            while index < bytes.count && bytes[index] != UInt8(ascii: ";") {
                let byte = bytes[index]
                if isFWS(byte) {
                    // FWS inside a value: a CR or LF must belong to CRLF followed by WSP.
                    if byte == MessageASCII.lf || byte == MessageASCII.cr {
                        let crlfEnd = byte == MessageASCII.cr ? index + 2 : index + 1
                        if byte == MessageASCII.cr && (index + 1 >= bytes.count || bytes[index + 1] != MessageASCII.lf) {
                            throw DKIMTagListError("bare CR in tag \(name)")
                        }
                        if crlfEnd < bytes.count && !MessageASCII.isWSP(bytes[crlfEnd]) {
                            throw DKIMTagListError("line break without folding white space in tag \(name)")
                        }
                    }
                } else if byte < 0x21 || byte == 0x7F {
                    throw DKIMTagListError("control character in tag \(name)")
                } else {
                    if valueStart == nil { valueStart = index }
                    valueEnd = index + 1
                }
                index += 1
            }
            let spanEnd = index
            let value = valueStart.map { String(decoding: bytes[$0..<valueEnd], as: UTF8.self) } ?? ""
            guard !tags.contains(where: { $0.name == name }) else {
                throw DKIMTagListError("tag \(name) appears twice")
            }
            tags.append(Tag(name: name, value: value, valueSpan: (spanStart + offset)..<(spanEnd + offset)))
            if index == bytes.count { break }
            index += 1  // the ";"
        }
        return DKIMTagList(tags: tags)
    }

    private static func isAlpha(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
    }

    private static func isDigit(_ byte: UInt8) -> Bool { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) }

    private static func excerpt(_ bytes: [UInt8], _ index: Int) -> String {
        String(decoding: bytes[index..<min(bytes.count, index + 16)], as: UTF8.self)
    }
}

/// Why a tag list could not be parsed.
public struct DKIMTagListError: Error, Hashable, Sendable, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}

extension DKIMTagList {
    /// The text with every FWS character (SP, HTAB, CR, LF) removed: how `b=`, `bh=` and `p=`
    /// values are read (RFC 6376 §3.5 base64string allows FWS anywhere).
    static func removingFWS(_ text: String) -> String {
        guard text.utf8.contains(where: isFWSByte) else { return text }
        var text = text
        return text.withUTF8 { bytes in
            String(unsafeUninitializedCapacity: bytes.count) { out in
                var count = 0
                for byte in bytes where !isFWSByte(byte) {
                    out[count] = byte
                    count += 1
                }
                return count
            }
        }
    }

    /// A colon-separated list (`h=`, `k=`, `s=`) without its FWS, split at every colon (empty
    /// items kept: the callers judge them).
    static func colonList(_ text: String) -> [String] {
        var text = removingFWS(text)
        return text.withUTF8 { bytes in
            var items: [String] = []
            var start = 0
            for index in 0...bytes.count where index == bytes.count || bytes[index] == UInt8(ascii: ":") {
                items.append(String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self))
                start = index + 1
            }
            return items
        }
    }

    private static func isFWSByte(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 || byte == 0x0D || byte == 0x0A }
}
