import Defenses
import Foundation

/// A stored message's MIME tree as IMAP needs it: every entity with the byte ranges of its
/// header and body in the stored octets (for `BODY[1.2]`, `BODY[1.HEADER]`, `<partial>`), its
/// type and parameters (for BODYSTRUCTURE, [RFC 3501 §7.4.2](https://www.rfc-editor.org/rfc/rfc3501#section-7.4.2)),
/// and for message/rfc822 the message inside.
///
/// Defenses' ``Defenses/MIMEWalker`` lists decoded leaves for the filters; IMAP needs the
/// containers and undecoded ranges, so this walks with the same pieces (``Defenses/MessageHeader``,
/// ``Defenses/ContentHeaderValue``, ``Defenses/MultipartBody``). Depth and entity count are bounded
/// like the walker's (``Defenses/MIMELimits``): beyond them an entity is described as a leaf.
struct MIMEEntity: Sendable {
    var header: MessageHeader
    /// The header section with the blank line after it (what `BODY[HEADER]` returns).
    var headerRange: Range<Int>
    var bodyRange: Range<Int>
    /// `text`, `plain` (lower case; RFC 2045 §5.2 default text/plain).
    var type: String
    var subtype: String
    /// Content-Type parameters, by name (lower case), sorted.
    var parameters: [(name: String, value: String)]
    /// The parts of a multipart entity.
    var children: [MIMEEntity] = []
    /// A message/rfc822 entity's message (zero or one).
    private var inner: [MIMEEntity] = []

    var isMultipart: Bool { type == "multipart" && !children.isEmpty }
    var encapsulated: MIMEEntity? { inner.first }

    /// The tree of a whole stored message.
    static func parse(_ message: [UInt8], limits: MIMELimits = MIMELimits()) -> MIMEEntity {
        var budget = limits.maxParts
        return parse(message, range: 0..<message.count, defaultType: ("text", "plain"), depth: 0, limits: limits, budget: &budget)
    }

    private static func parse(_ message: [UInt8], range: Range<Int>, defaultType: (String, String), depth: Int,
                              limits: MIMELimits, budget: inout Int) -> MIMEEntity {
        budget -= 1
        let (headerEnd, bodyStart) = headerBoundary(message, range: range)
        let header = (try? MessageHeader.parse(message[range.lowerBound..<headerEnd], limits: limits.header)) ?? MessageHeader()
        let contentType = header.first(named: "Content-Type").map { ContentHeaderValue(parsing: $0.value) }
        var (type, subtype) = defaultType
        if let value = contentType?.value, let slash = value.firstIndex(of: "/"), slash != value.startIndex,
           value.index(after: slash) != value.endIndex {
            type = String(value[..<slash])
            subtype = String(value[value.index(after: slash)...])
        }
        var parameters = (contentType?.parameters ?? [:]).map { (name: $0.key, value: $0.value) }.sorted { $0.name < $1.name }
        if type == "text", !parameters.contains(where: { $0.name == "charset" }) {
            parameters.append((name: "charset", value: "us-ascii"))   // RFC 2045 §5.2
        }
        var entity = MIMEEntity(header: header, headerRange: range.lowerBound..<bodyStart, bodyRange: bodyStart..<range.upperBound,
                                type: type, subtype: subtype, parameters: parameters)
        guard depth < limits.maxDepth, budget > 0 else { return entity }
        if type == "multipart", let boundary = contentType?.parameters["boundary"], !boundary.isEmpty {
            let childDefault = subtype == "digest" ? ("message", "rfc822") : ("text", "plain")
            for part in MultipartBody.parts(of: message[entity.bodyRange], boundary: boundary, limit: max(1, budget)) {
                guard budget > 0 else { break }
                entity.children.append(parse(message, range: part.startIndex..<part.endIndex, defaultType: childDefault,
                                             depth: depth + 1, limits: limits, budget: &budget))
            }
        } else if type == "message", subtype == "rfc822" || subtype == "global" {
            entity.inner = [parse(message, range: entity.bodyRange, defaultType: ("text", "plain"), depth: depth + 1,
                                  limits: limits, budget: &budget)]
        }
        return entity
    }

    /// Where the header section ends (before the blank line) and the body starts (after it).
    private static func headerBoundary(_ message: [UInt8], range: Range<Int>) -> (Int, Int) {
        var index = range.lowerBound
        // An entity starting with its blank line has an empty header.
        if index < range.upperBound, message[index] == 0x0A { return (index, index + 1) }
        if index + 1 < range.upperBound, message[index] == 0x0D, message[index + 1] == 0x0A { return (index, index + 2) }
        while index < range.upperBound {
            if message[index] == 0x0A {
                let next = index + 1
                if next < range.upperBound, message[next] == 0x0A { return (next, next + 1) }
                if next + 1 < range.upperBound, message[next] == 0x0D, message[next + 1] == 0x0A { return (next, next + 2) }
            }
            index += 1
        }
        return (range.upperBound, range.upperBound)
    }

    // MARK: - Sections (RFC 3501 §6.4.5)

    /// The entity a section part number names: `1.2` is the second part of the first part; a
    /// non-multipart message has one part, itself; inside message/rfc822 numbering continues in
    /// the encapsulated message.
    func entity(at path: [Int]) -> MIMEEntity? {
        var current = self
        for number in path {
            guard let next = current.step(number) else { return nil }
            current = next
        }
        return current
    }

    private func step(_ number: Int) -> MIMEEntity? {
        if isMultipart { return children.indices.contains(number - 1) ? children[number - 1] : nil }
        if let encapsulated { return encapsulated.step(number) }
        return number == 1 ? self : nil
    }

    /// The octets of a section, before any `<partial>`; nil when the section does not exist
    /// (answered as an empty string, as other servers do).
    func octets(of section: BodySection, in message: [UInt8]) -> [UInt8]? {
        guard let part = entity(at: section.part) else { return nil }
        // HEADER/TEXT of a part address its encapsulated message (RFC 3501 §6.4.5).
        let target: MIMEEntity
        if section.part.isEmpty || section.text == .mime || section.text == nil {
            target = part
        } else {
            guard let inner = part.encapsulated else { return nil }
            target = inner
        }
        switch section.text {
        case nil:
            return section.part.isEmpty ? message : Array(message[part.bodyRange])
        case .mime, .header:
            return Array(message[target.headerRange])
        case .text:
            return Array(message[target.bodyRange])
        case .headerFields(let names), .headerFieldsNot(let names):
            let wanted = Set(names.map { $0.lowercased() })
            let including = section.text == .headerFields(names)
            var out: [UInt8] = []
            for field in target.header.fields where field.colonIndex != nil && wanted.contains(field.lowercasedName) == including {
                out += field.wireBytes
            }
            return out + [0x0D, 0x0A]
        }
    }

    // MARK: - BODYSTRUCTURE (RFC 3501 §7.4.2)

    /// `body` / `BODYSTRUCTURE`: extension data only when `extensible`.
    func bodyStructure(_ message: [UInt8], extensible: Bool, into out: inout IMAPResponseBuilder) {
        out.append("(")
        if isMultipart {
            for child in children { child.bodyStructure(message, extensible: extensible, into: &out) }
            out.append(" ")
            out.string(Array(subtype.uppercased().utf8))
            if extensible {
                out.append(" ")
                parameterList(into: &out)
                out.append(" ")
                disposition(into: &out)
                out.append(" ")
                out.nstring(header.first(named: "Content-Language")?.value)
                out.append(" ")
                out.nstring(header.first(named: "Content-Location")?.value)
            }
            out.append(")")
            return
        }
        // body-type-1part: type subtype params id description encoding size [envelope body] [lines]
        out.string(Array(type.uppercased().utf8))
        out.append(" ")
        out.string(Array(subtype.uppercased().utf8))
        out.append(" ")
        parameterList(into: &out)
        out.append(" ")
        out.nstring(header.first(named: "Content-ID")?.value)
        out.append(" ")
        out.nstring(header.first(named: "Content-Description")?.value)
        out.append(" ")
        out.string(Array((header.first(named: "Content-Transfer-Encoding")?.value.uppercased() ?? "7BIT").utf8))
        out.append(" \(bodyRange.count)")
        if let encapsulated {
            out.append(" ")
            encapsulated.envelope(into: &out)
            out.append(" ")
            encapsulated.bodyStructure(message, extensible: extensible, into: &out)
            out.append(" \(lineCount(message))")
        } else if type == "text" {
            out.append(" \(lineCount(message))")
        }
        if extensible {
            out.append(" ")
            out.nstring(header.first(named: "Content-MD5")?.value)
            out.append(" ")
            disposition(into: &out)
            out.append(" ")
            out.nstring(header.first(named: "Content-Language")?.value)
            out.append(" ")
            out.nstring(header.first(named: "Content-Location")?.value)
        }
        out.append(")")
    }

    private func lineCount(_ message: [UInt8]) -> Int {
        var count = message[bodyRange].reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
        if let last = message[bodyRange].last, last != 0x0A { count += 1 }
        return count
    }

    private func parameterList(into out: inout IMAPResponseBuilder) {
        guard !parameters.isEmpty else { return out.append("NIL") }
        out.append("(")
        for (index, parameter) in parameters.enumerated() {
            if index > 0 { out.append(" ") }
            out.string(Array(parameter.name.uppercased().utf8))
            out.append(" ")
            out.string(Array(parameter.value.utf8))
        }
        out.append(")")
    }

    private func disposition(into out: inout IMAPResponseBuilder) {
        guard let field = header.first(named: "Content-Disposition") else { return out.append("NIL") }
        let value = ContentHeaderValue(parsing: field.value)
        guard !value.value.isEmpty else { return out.append("NIL") }
        out.append("(")
        out.string(Array(value.value.uppercased().utf8))
        out.append(" ")
        let parameters = value.parameters.sorted { $0.key < $1.key }
        if parameters.isEmpty {
            out.append("NIL")
        } else {
            out.append("(")
            for (index, parameter) in parameters.enumerated() {
                if index > 0 { out.append(" ") }
                out.string(Array(parameter.key.uppercased().utf8))
                out.append(" ")
                out.string(Array(parameter.value.utf8))
            }
            out.append(")")
        }
        out.append(")")
    }

    // MARK: - ENVELOPE (RFC 3501 §7.4.2)

    /// `(date subject from sender reply-to to cc bcc in-reply-to message-id)`; sender and
    /// reply-to default to from.
    func envelope(into out: inout IMAPResponseBuilder) {
        func raw(_ name: String) -> String? {
            guard let field = header.first(named: name) else { return nil }
            return field.value
        }
        out.append("(")
        out.nstring(raw("Date"))
        out.append(" ")
        out.nstring(raw("Subject"))
        let from = raw("From")
        for (index, name) in ["From", "Sender", "Reply-To", "To", "Cc", "Bcc"].enumerated() {
            out.append(" ")
            let value = raw(name) ?? (index == 1 || index == 2 ? from : nil)
            EnvelopeAddress.list(value, into: &out)
        }
        out.append(" ")
        out.nstring(raw("In-Reply-To"))
        out.append(" ")
        out.nstring(raw("Message-ID"))
        out.append(")")
    }
}

/// RFC 5322 address lists as ENVELOPE address structures `(name adl mailbox host)`, groups as
/// `(NIL NIL "group" NIL) … (NIL NIL NIL NIL)` (RFC 3501 §7.4.2). Lenient: what cannot be
/// parsed becomes a mailbox without host.
enum EnvelopeAddress {
    static func list(_ value: String?, into out: inout IMAPResponseBuilder) {
        guard let value, !value.trimmingCharacters(in: .whitespaces).isEmpty else { return out.append("NIL") }
        let addresses = split(value, at: ",")
        var wrote = false
        out.append("(")
        for item in addresses {
            var text = Substring(item)
            // A group: "name: a, b;" (its members arrive as separate items after the split).
            if let colon = topLevelIndex(of: ":", in: text) {
                out.append("(NIL NIL ")
                out.string(Array(text[..<colon].trimmingCharacters(in: .whitespaces).utf8))
                out.append(" NIL)")
                text = text[text.index(after: colon)...]
                wrote = true
            }
            var closesGroup = false
            if let semicolon = topLevelIndex(of: ";", in: text) {
                closesGroup = true
                text = text[..<semicolon]
            }
            if let address = mailbox(String(text)) {
                out.append("(")
                out.nstring(address.name)
                out.append(" NIL ")
                out.nstring(address.local)
                out.append(" ")
                out.nstring(address.domain)
                out.append(")")
                wrote = true
            }
            if closesGroup { out.append("(NIL NIL NIL NIL)") }
        }
        if !wrote { out.append("(NIL NIL NIL NIL)") }
        out.append(")")
    }

    /// `Name <local@domain>` or `local@domain (comment)`.
    static func mailbox(_ text: String) -> (name: String?, local: String?, domain: String?)? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty else { return nil }
        var name: String?
        var spec = trimmed
        if let open = trimmed.lastIndex(of: "<"), let close = trimmed[open...].firstIndex(of: ">") {
            spec = String(trimmed[trimmed.index(after: open)..<close])
            let display = trimmed[..<open].trimmingCharacters(in: .whitespaces)
            if !display.isEmpty { name = unquote(display) }
        } else if let open = trimmed.firstIndex(of: "("), let close = trimmed.lastIndex(of: ")"), open < close {
            spec = String(trimmed[..<open]).trimmingCharacters(in: .whitespaces)
            let comment = trimmed[trimmed.index(after: open)..<close].trimmingCharacters(in: .whitespaces)
            if !comment.isEmpty { name = comment }
        }
        // A source route "@a,@b:local@domain" keeps only the address.
        if let colon = spec.lastIndex(of: ":"), spec.hasPrefix("@") { spec = String(spec[spec.index(after: colon)...]) }
        guard let at = spec.lastIndex(of: "@") else { return (name, spec.isEmpty ? nil : spec, nil) }
        return (name, String(spec[..<at]), String(spec[spec.index(after: at)...]))
    }

    private static func unquote(_ text: String) -> String {
        guard text.hasPrefix("\""), text.hasSuffix("\""), text.count >= 2 else { return text }
        var out = ""
        var escaped = false
        for character in text.dropFirst().dropLast() {
            if escaped || character != "\\" {
                out.append(character)
                escaped = false
            } else {
                escaped = true
            }
        }
        return out
    }

    /// Splits at `separator` outside quotes, angle brackets and comments.
    static func split(_ text: String, at separator: Character) -> [String] {
        var parts: [String] = []
        var current = ""
        var quoted = false, angle = 0, comment = 0, escaped = false
        for character in text {
            if escaped {
                escaped = false
            } else if character == "\\" {
                escaped = true
            } else if character == "\"" {
                quoted.toggle()
            } else if !quoted {
                switch character {
                case "<": angle += 1
                case ">": angle = max(0, angle - 1)
                case "(": comment += 1
                case ")": comment = max(0, comment - 1)
                default: break
                }
                if character == separator, angle == 0, comment == 0 {
                    parts.append(current)
                    current = ""
                    continue
                }
            }
            current.append(character)
        }
        parts.append(current)
        return parts
    }

    private static func topLevelIndex(of character: Character, in text: Substring) -> Substring.Index? {
        var quoted = false, angle = 0
        for index in text.indices {
            switch text[index] {
            case "\"": quoted.toggle()
            case "<" where !quoted: angle += 1
            case ">" where !quoted: angle -= 1
            case character where !quoted && angle == 0: return index
            default: break
            }
        }
        return nil
    }
}
