/// The few pieces of the DNS wire format ([RFC 1035 §4](https://www.rfc-editor.org/rfc/rfc1035#section-4))
/// handled without ldns: names to and from their label form, the header, matching a reply to its
/// query, and TCP framing. ldns builds and parses whole messages (``LDNSMessage``).
enum DNSWire {
    // MARK: - Names

    /// A presentation-format name (`mail.example`, escapes `\.` and `\DDD` as in
    /// [RFC 1035 §5.1](https://www.rfc-editor.org/rfc/rfc1035#section-5.1)) as labels on the wire,
    /// ending with the root label. `"."` is the root alone.
    static func encodeName(_ name: String) throws(DNSError) -> [UInt8] {
        if name == "." { return [0] }
        var wire: [UInt8] = []
        var label: [UInt8] = []
        func finish() throws(DNSError) {
            guard !label.isEmpty else { throw .invalidName("\(name): empty label") }
            // RFC 1035 §2.3.4: labels of at most 63 octets
            guard label.count <= 63 else { throw .invalidName("\(name): label longer than 63 octets") }
            wire.append(UInt8(label.count))
            wire += label
            label.removeAll(keepingCapacity: true)
        }
        let bytes = Array(name.utf8)
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: ".") {
                try finish()
                index += 1
                if index == bytes.count { break }  // one trailing dot: absolute
                continue
            }
            if byte == UInt8(ascii: "\\") {
                guard index + 1 < bytes.count else { throw .invalidName("\(name): trailing backslash") }
                if let value = decimalEscape(bytes, at: index + 1) {
                    label.append(value)
                    index += 4
                } else {
                    label.append(bytes[index + 1])
                    index += 2
                }
                continue
            }
            label.append(byte)
            index += 1
        }
        if !label.isEmpty { try finish() }
        wire.append(0)
        // RFC 1035 §2.3.4: names of at most 255 octets on the wire
        guard wire.count <= 255 else { throw .invalidName("\(name): longer than 255 octets") }
        return wire
    }

    private static func decimalEscape(_ bytes: [UInt8], at index: Int) -> UInt8? {
        guard index + 2 < bytes.count else { return nil }
        var value = 0
        for offset in 0..<3 {
            let digit = bytes[index + offset]
            guard digit >= UInt8(ascii: "0"), digit <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + Int(digit - UInt8(ascii: "0"))
        }
        return value <= 255 ? UInt8(value) : nil
    }

    /// An uncompressed wire name (as ldns keeps names in record data) in presentation form:
    /// lower-cased ASCII, no trailing dot, `"."` for the root; a dot or backslash inside a label and
    /// bytes outside printable ASCII are escaped (`\.`, `\\`, `\DDD`), so a label can never pose as
    /// two. `nil` when the labels do not fit the bytes.
    static func decodeName(_ wire: some Collection<UInt8>) -> String? {
        let bytes = Array(wire)
        var index = 0
        var labels: [String] = []
        while index < bytes.count {
            let length = Int(bytes[index])
            if length == 0 {
                guard index == bytes.count - 1 else { return nil }
                return labels.isEmpty ? "." : labels.joined(separator: ".")
            }
            // 0xC0: a compression pointer, which uncompressed data must not hold
            guard length <= 63, index + 1 + length <= bytes.count else { return nil }
            var label = ""
            for var byte in bytes[(index + 1)...(index + length)] {
                if byte >= 0x41 && byte <= 0x5A { byte += 0x20 }
                switch byte {
                case UInt8(ascii: "."), UInt8(ascii: "\\"):
                    label += "\\" + String(UnicodeScalar(byte))
                case 0x21...0x7E:
                    label.unicodeScalars.append(UnicodeScalar(byte))
                default:
                    let digits = String(byte)
                    label += "\\" + String(repeating: "0", count: 3 - digits.count) + digits
                }
            }
            labels.append(label)
            index += 1 + length
        }
        return nil
    }

    // MARK: - Header

    /// The fixed 12-byte header ([RFC 1035 §4.1.1](https://www.rfc-editor.org/rfc/rfc1035#section-4.1.1)).
    struct Header: Hashable {
        var id: UInt16
        var flags: UInt16
        var questionCount: UInt16
        var answerCount: UInt16
        var authorityCount: UInt16
        var additionalCount: UInt16

        init?(_ message: some Collection<UInt8>) {
            guard message.count >= 12 else { return nil }
            let bytes = Array(message.prefix(12))
            func word(_ offset: Int) -> UInt16 { UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1]) }
            id = word(0)
            flags = word(2)
            questionCount = word(4)
            answerCount = word(6)
            authorityCount = word(8)
            additionalCount = word(10)
        }

        var isResponse: Bool { flags & 0x8000 != 0 }
        var opcode: UInt16 { (flags >> 11) & 0x0F }
        var isTruncated: Bool { flags & 0x0200 != 0 }
        /// AD, [RFC 4035 §3.2.3](https://www.rfc-editor.org/rfc/rfc4035#section-3.2.3).
        var isAuthenticatedData: Bool { flags & 0x0020 != 0 }
        /// The 4-bit header RCODE (EDNS0 extends it in the OPT record).
        var responseCode: UInt16 { flags & 0x000F }
    }

    /// Where the question section of a message ends, when it holds exactly one uncompressed
    /// question (every query we send, and the echo of it in a reply).
    static func singleQuestionEnd(_ message: [UInt8]) -> Int? {
        guard let header = Header(message), header.questionCount == 1 else { return nil }
        var index = 12
        while index < message.count {
            let length = Int(message[index])
            if length == 0 {
                let end = index + 1 + 4  // root label, QTYPE, QCLASS
                return end <= message.count ? end : nil
            }
            guard length <= 63 else { return nil }
            index += 1 + length
        }
        return nil
    }

    // MARK: - Matching replies to queries

    /// Accepts only the reply to one query: same ID, QR set, same opcode, and the same question
    /// (name compared ASCII-case-insensitively, type and class exactly).
    ///
    /// With the random ID and the random source port of a fresh socket, this is the defense against
    /// forged replies of [RFC 5452 §9.1](https://www.rfc-editor.org/rfc/rfc5452#section-9.1); a reply
    /// that does not match is dropped and the wait goes on.
    struct ReplyMatcher: Sendable {
        let id: UInt16
        let opcode: UInt16
        let question: [UInt8]

        init?(query: [UInt8]) {
            guard let header = Header(query), let end = DNSWire.singleQuestionEnd(query) else { return nil }
            id = header.id
            opcode = header.opcode
            question = Array(query[12..<end])
        }

        func matches(_ reply: [UInt8]) -> Bool {
            guard let header = Header(reply), header.id == id, header.isResponse, header.opcode == opcode,
                header.questionCount == 1, reply.count >= 12 + question.count
            else { return false }
            for (offset, expected) in question.enumerated() {
                let actual = reply[12 + offset]
                if actual != expected && lowered(actual) != lowered(expected) { return false }
            }
            return true
        }

        private func lowered(_ byte: UInt8) -> UInt8 {
            byte >= 0x41 && byte <= 0x5A ? byte + 0x20 : byte
        }
    }

    // MARK: - TCP framing

    /// A message with its two-byte length prefix ([RFC 1035 §4.2.2](https://www.rfc-editor.org/rfc/rfc1035#section-4.2.2)).
    static func tcpFrame(_ message: [UInt8]) -> [UInt8] {
        precondition(message.count <= Int(UInt16.max), "a DNS message is at most 65535 bytes")
        return [UInt8(message.count >> 8), UInt8(message.count & 0xFF)] + message
    }

    /// Cuts a TCP byte stream into length-prefixed messages, whatever the segment boundaries.
    struct TCPFrameDecoder {
        private var buffer: [UInt8] = []

        mutating func append(_ bytes: some Sequence<UInt8>) {
            buffer.append(contentsOf: bytes)
        }

        mutating func nextMessage() -> [UInt8]? {
            guard buffer.count >= 2 else { return nil }
            let length = Int(buffer[0]) << 8 | Int(buffer[1])
            guard buffer.count >= 2 + length else { return nil }
            let message = Array(buffer[2..<(2 + length)])
            buffer.removeFirst(2 + length)
            return message
        }
    }
}

// MARK: - Record data

extension DNSWire {
    /// Typed RDATA from its fields as ldns splits them (one byte array per ldns rdf, names as
    /// uncompressed wire names, character-strings with their length byte). `nil` when the fields do
    /// not have the shape of the type.
    static func recordData(type: DNSRecordType, fields: [[UInt8]]) -> DNSRecordData? {
        func name(_ index: Int) -> String? {
            index < fields.count ? decodeName(fields[index]) : nil
        }
        func uint(_ index: Int, size: Int) -> UInt32? {
            guard index < fields.count, fields[index].count == size else { return nil }
            return fields[index].reduce(0) { $0 << 8 | UInt32($1) }
        }
        switch type {
        case .a:
            return fields.count == 1 ? IPv4Address(octets: fields[0]).map(DNSRecordData.a) : nil
        case .aaaa:
            return fields.count == 1 ? IPv6Address(octets: fields[0]).map(DNSRecordData.aaaa) : nil
        case .mx:
            guard fields.count == 2, let preference = uint(0, size: 2), let exchange = name(1) else { return nil }
            return .mx(MXRecord(preference: UInt16(preference), exchange: exchange))
        case .txt:
            var strings: [[UInt8]] = []
            for field in fields {
                // A <character-string>: a length byte, then that many bytes (RFC 1035 §3.3).
                guard let length = field.first, field.count == Int(length) + 1 else { return nil }
                strings.append(Array(field.dropFirst()))
            }
            return strings.isEmpty ? nil : .txt(TXTRecord(strings: strings))
        case .ptr:
            return fields.count == 1 ? name(0).map(DNSRecordData.ptr) : nil
        case .cname:
            return fields.count == 1 ? name(0).map(DNSRecordData.cname) : nil
        case .tlsa:
            guard fields.count == 4, let usage = uint(0, size: 1), let selector = uint(1, size: 1),
                let matching = uint(2, size: 1)
            else { return nil }
            return .tlsa(
                TLSARecord(usage: UInt8(usage), selector: UInt8(selector), matchingType: UInt8(matching), data: fields[3]))
        case .soa:
            guard fields.count == 7, let primary = name(0), let mailbox = name(1),
                let serial = uint(2, size: 4), let refresh = uint(3, size: 4), let retry = uint(4, size: 4),
                let expire = uint(5, size: 4), let minimum = uint(6, size: 4)
            else { return nil }
            return .soa(
                SOARecord(
                    primaryNameServer: primary, responsibleMailbox: mailbox, serial: serial,
                    refresh: refresh, retry: retry, expire: expire, minimum: minimum))
        default:
            return .unknown(type: type, rdata: fields.flatMap { $0 })
        }
    }
}
