import Foundation

/// Why a command was refused with `BAD` (the connection goes on).
public struct IMAPParseError: Error, Sendable, Hashable {
    /// The command's tag, when one could be read (otherwise the answer is `* BAD`).
    public var tag: String?
    public var message: String
}

/// Parses one command as framed by ``IMAPCommandFramer`` (literals inline). Hand-written
/// recursive descent after the ABNF of [RFC 3501 §9](https://www.rfc-editor.org/rfc/rfc3501#section-9);
/// the ABNF rule is written above each parse function. Nesting (parenthesised search keys and
/// lists) is bounded by ``IMAPLimits/maxNestingDepth``, so no input recurses deeper than that.
public struct IMAPParser {
    private let bytes: [UInt8]
    private var index = 0
    private var depth = 0
    private let maxDepth: Int
    private var tag: String?

    public init(_ bytes: [UInt8], maxNestingDepth: Int = 32) {
        self.bytes = bytes
        self.maxDepth = maxNestingDepth
    }

    /// `command = tag SP (command-any / command-auth / command-nonauth / command-select) CRLF`
    public static func parse(_ bytes: [UInt8], maxNestingDepth: Int = 32) -> Result<TaggedCommand, IMAPParseError> {
        var parser = IMAPParser(bytes, maxNestingDepth: maxNestingDepth)
        do {
            return .success(try parser.command())
        } catch {
            return .failure(error)
        }
    }

    private mutating func command() throws(IMAPParseError) -> TaggedCommand {
        let tag = try parseTag()
        self.tag = tag
        try space()
        var verb = try atom().uppercased()
        var uid = false
        if verb == "UID" {
            uid = true
            try space()
            verb = try atom().uppercased()
            guard ["FETCH", "STORE", "COPY", "MOVE", "SEARCH", "EXPUNGE"].contains(verb) else { throw fail("Unknown UID command") }
        }
        let command = try arguments(of: verb, uid: uid)
        guard index == bytes.count else { throw fail("Unexpected characters after \(verb)") }
        return TaggedCommand(tag: tag, command: command)
    }

    private mutating func arguments(of verb: String, uid: Bool) throws(IMAPParseError) -> IMAPCommand {
        switch verb {
        case "CAPABILITY": return .capability
        case "NOOP": return .noop
        case "LOGOUT": return .logout
        case "STARTTLS": return .startTLS
        case "CHECK": return .check
        case "CLOSE": return .close
        case "UNSELECT": return .unselect
        case "IDLE": return .idle
        case "NAMESPACE": return .namespace
        case "EXPUNGE":
            guard uid else { return .expunge(uids: nil) }
            try space()
            return .expunge(uids: try sequenceSet())
        case "LOGIN":
            // login = "LOGIN" SP userid SP password
            try space()
            let user = try astring()
            try space()
            return .login(user: user, password: try astring())
        case "AUTHENTICATE":
            // authenticate = "AUTHENTICATE" SP auth-type [SP (base64 / "=")]   ; RFC 4959
            try space()
            let mechanism = try atom().uppercased()
            guard consume(0x20) else { return .authenticate(mechanism: mechanism, initialResponse: nil) }
            return .authenticate(mechanism: mechanism, initialResponse: try atom())
        case "ENABLE":
            var names: [String] = []
            repeat {
                try space()
                names.append(try atom().uppercased())
            } while peek == 0x20
            return .enable(names)
        case "ID":
            // id = "ID" SP id-params-list ; id-params-list = "(" *(string SP nstring) ")" / nil
            try space()
            if try nilValue() { return .id(nil) }
            try expect(0x28)
            var parameters: [String: String] = [:]
            while peek != 0x29 {
                if !parameters.isEmpty { try space() }
                let key = try string()
                try space()
                let value = try nilValue() ? "" : try string()
                guard parameters.count < 30 else { throw fail("Too many ID parameters") }
                parameters[key] = value
            }
            try expect(0x29)
            return .id(parameters)
        case "SELECT", "EXAMINE", "CREATE", "DELETE", "SUBSCRIBE", "UNSUBSCRIBE", "GETQUOTAROOT":
            try space()
            let name = try mailbox()
            switch verb {
            case "SELECT": return .select(name)
            case "EXAMINE": return .examine(name)
            case "CREATE": return .create(name)
            case "DELETE": return .delete(name)
            case "SUBSCRIBE": return .subscribe(name)
            case "UNSUBSCRIBE": return .unsubscribe(name)
            default: return .getQuotaRoot(name)
            }
        case "GETQUOTA":
            try space()
            return .getQuota(try astring())
        case "RENAME":
            try space()
            let from = try mailbox()
            try space()
            return .rename(from: from, to: try mailbox())
        case "LIST", "LSUB":
            // list = "LIST" [SP list-select-opts] SP mailbox SP mbox-or-pat [SP list-return-opts]   ; RFC 5258
            try space()
            var subscribedOnly = false, specialUseOnly = false
            if verb == "LIST", peek == 0x28 {
                for option in try atomList() {
                    switch option.uppercased() {
                    case "SUBSCRIBED": subscribedOnly = true
                    case "SPECIAL-USE": specialUseOnly = true
                    case "REMOTE", "RECURSIVEMATCH": break
                    default: throw fail("Unknown LIST selection option")
                    }
                }
                try space()
            }
            let reference = try mailbox()
            try space()
            let pattern = try listMailbox()
            if verb == "LIST", consume(0x20) {
                guard try atom().uppercased() == "RETURN" else { throw fail("Expected RETURN") }
                try space()
                _ = try atomList()   // SPECIAL-USE, SUBSCRIBED, CHILDREN: our LIST always says them
            }
            return verb == "LIST" ? .list(reference: reference, pattern: pattern, subscribedOnly: subscribedOnly, specialUseOnly: specialUseOnly)
                : .lsub(reference: reference, pattern: pattern)
        case "STATUS":
            // status = "STATUS" SP mailbox SP "(" status-att *(SP status-att) ")"
            try space()
            let name = try mailbox()
            try space()
            let items = try atomList()
            guard !items.isEmpty else { throw fail("STATUS needs items") }
            return .status(name, try items.map { (item: String) throws(IMAPParseError) -> StatusItem in
                guard let value = StatusItem(rawValue: item.uppercased()) else { throw fail("Unknown STATUS item") }
                return value
            })
        case "APPEND":
            // append = "APPEND" SP mailbox [SP flag-list] [SP date-time] SP literal
            try space()
            let name = try mailbox()
            try space()
            var flags: [String] = []
            if peek == 0x28 {
                flags = try flagList()
                try space()
            }
            var date: Date?
            if peek == 0x22 {
                date = try dateTime()
                try space()
            }
            guard peek == 0x7B else { throw fail("APPEND needs a literal") }
            return .append(mailbox: name, flags: flags, date: date, message: try literal())
        case "SEARCH":
            // search = "SEARCH" [SP "CHARSET" SP astring] 1*(SP search-key)
            try space()
            var keys: [SearchKey] = []
            if let word = peekAtom(), word.uppercased() == "CHARSET" {
                _ = try atom()
                try space()
                let charset = try astring().uppercased()
                guard ["US-ASCII", "UTF-8"].contains(charset) else { throw IMAPParseError(tag: tag, message: "[BADCHARSET (US-ASCII UTF-8)] Unsupported charset") }
                try space()
            }
            keys.append(try searchKey())
            while consume(0x20) { keys.append(try searchKey()) }
            return .search(keys.count == 1 ? keys[0] : .and(keys), uid: uid)
        case "FETCH":
            // fetch = "FETCH" SP sequence-set SP ("ALL" / "FULL" / "FAST" / fetch-att / "(" fetch-att *(SP fetch-att) ")")
            try space()
            let set = try sequenceSet()
            try space()
            var attributes: [FetchAttribute]
            if consume(0x28) {
                try enter()
                attributes = [try fetchAttribute()]
                while consume(0x20) { attributes.append(try fetchAttribute()) }
                try expect(0x29)
                depth -= 1
            } else if let word = peekAtom()?.uppercased(), ["ALL", "FULL", "FAST"].contains(word) {
                _ = try atom()
                attributes = [.flags, .internalDate, .rfc822Size]
                if word != "FAST" { attributes.append(.envelope) }
                if word == "FULL" { attributes.append(.bodyStructure(extensible: false)) }
            } else {
                attributes = [try fetchAttribute()]
            }
            if uid, !attributes.contains(.uid) { attributes.insert(.uid, at: 0) }   // RFC 3501 §6.4.8
            return .fetch(set, attributes, uid: uid)
        case "STORE":
            // store = "STORE" SP sequence-set SP store-att-flags ; store-att-flags = (["+" / "-"] "FLAGS" [".SILENT"]) SP (flag-list / (flag *(SP flag)))
            try space()
            let set = try sequenceSet()
            try space()
            let item = try atom().uppercased()
            var name = Substring(item)
            let sign = name.first
            if sign == "+" || sign == "-" { name = name.dropFirst() }
            let silent = name.hasSuffix(".SILENT")
            if silent { name = name.dropLast(7) }
            guard name == "FLAGS" else { throw fail("Expected FLAGS") }
            try space()
            var flags: [String]
            if peek == 0x28 {
                flags = try flagList()
            } else {
                flags = [try flag()]
                while consume(0x20) { flags.append(try flag()) }
            }
            let change: FlagChange = sign == "+" ? .add(flags) : sign == "-" ? .remove(flags) : .replace(flags)
            return .store(set, change, silent: silent, uid: uid)
        case "COPY", "MOVE":
            try space()
            let set = try sequenceSet()
            try space()
            let name = try mailbox()
            return verb == "COPY" ? .copy(set, name, uid: uid) : .move(set, name, uid: uid)
        default:
            throw fail("Unknown command")
        }
    }

    // MARK: - Fetch attributes

    /// ```
    /// fetch-att = "ENVELOPE" / "FLAGS" / "INTERNALDATE" / "RFC822" [".HEADER" / ".SIZE" / ".TEXT"] /
    ///             "BODY" ["STRUCTURE"] / "UID" / "BODY" section ["<" number "." nz-number ">"] /
    ///             "BODY.PEEK" section ["<" number "." nz-number ">"]
    /// ```
    private mutating func fetchAttribute() throws(IMAPParseError) -> FetchAttribute {
        let start = index
        while index < bytes.count, Self.isAtomChar(bytes[index]), bytes[index] != UInt8(ascii: "[") { index += 1 }
        let name = String(decoding: bytes[start..<index], as: UTF8.self).uppercased()
        switch name {
        case "ENVELOPE": return .envelope
        case "FLAGS": return .flags
        case "INTERNALDATE": return .internalDate
        case "RFC822.SIZE": return .rfc822Size
        case "UID": return .uid
        case "BODYSTRUCTURE": return .bodyStructure(extensible: true)
        case "RFC822": return .body(BodySection(rfc822Name: "RFC822"), peek: false)
        case "RFC822.HEADER": return .body(BodySection(text: .header, rfc822Name: "RFC822.HEADER"), peek: true)
        case "RFC822.TEXT": return .body(BodySection(text: .text, rfc822Name: "RFC822.TEXT"), peek: false)
        case "BODY", "BODY.PEEK":
            guard peek == UInt8(ascii: "[") else {
                guard name == "BODY" else { throw fail("BODY.PEEK needs a section") }
                return .bodyStructure(extensible: false)
            }
            var section = try self.section()
            if consume(UInt8(ascii: "<")) {
                let origin = try number()
                try expect(UInt8(ascii: "."))
                let count = try number()
                guard count > 0 else { throw fail("Partial count must be positive") }
                try expect(UInt8(ascii: ">"))
                section.partial = BodySection.PartialRange(origin: origin, count: count)
            }
            return .body(section, peek: name == "BODY.PEEK")
        default:
            throw fail("Unknown FETCH attribute")
        }
    }

    /// ```
    /// section      = "[" [section-spec] "]"
    /// section-spec = section-msgtext / (section-part ["." section-text])
    /// section-part = nz-number *("." nz-number)
    /// section-text = section-msgtext / "MIME"
    /// section-msgtext = "HEADER" / "HEADER.FIELDS" [".NOT"] SP header-list / "TEXT"
    /// ```
    private mutating func section() throws(IMAPParseError) -> BodySection {
        try expect(UInt8(ascii: "["))
        var section = BodySection()
        while let byte = peek, (0x31...0x39).contains(byte) {
            let value = try number()
            guard value > 0, section.part.count < 64 else { throw fail("Bad section part") }
            section.part.append(value)
            guard consume(UInt8(ascii: ".")) else { break }
        }
        if peek != UInt8(ascii: "]") {
            let start = index
            while let byte = peek, byte != UInt8(ascii: "]"), byte != 0x20 { index += 1; _ = byte }
            let word = String(decoding: bytes[start..<index], as: UTF8.self).uppercased()
            switch word {
            case "HEADER": section.text = .header
            case "TEXT": section.text = .text
            case "MIME":
                guard !section.part.isEmpty else { throw fail("MIME needs a part") }
                section.text = .mime
            case "HEADER.FIELDS", "HEADER.FIELDS.NOT":
                try space()
                let names = try headerList()
                section.text = word == "HEADER.FIELDS" ? .headerFields(names) : .headerFieldsNot(names)
            default:
                throw fail("Bad section")
            }
        }
        try expect(UInt8(ascii: "]"))
        return section
    }

    /// `header-list = "(" header-fld-name *(SP header-fld-name) ")"`
    private mutating func headerList() throws(IMAPParseError) -> [String] {
        try expect(0x28)
        var names = [try astring().uppercased()]
        while consume(0x20) { names.append(try astring().uppercased()) }
        try expect(0x29)
        return names
    }

    // MARK: - Search keys

    /// ```
    /// search-key = "ALL" / "ANSWERED" / "BCC" SP astring / "BEFORE" SP date / "BODY" SP astring / ... /
    ///              "NOT" SP search-key / "OR" SP search-key SP search-key / sequence-set / "(" search-key *(SP search-key) ")"
    /// ```
    private mutating func searchKey() throws(IMAPParseError) -> SearchKey {
        if consume(0x28) {
            try enter()
            defer { depth -= 1 }
            var keys = [try searchKey()]
            while consume(0x20) { keys.append(try searchKey()) }
            try expect(0x29)
            return keys.count == 1 ? keys[0] : .and(keys)
        }
        if let byte = peek, byte == UInt8(ascii: "*") || (0x30...0x39).contains(byte) {
            return .sequence(try sequenceSet())
        }
        let word = try atom().uppercased()
        func argument() throws(IMAPParseError) -> String {
            try space()
            return try astring()
        }
        switch word {
        case "ALL": return .all
        case "ANSWERED", "DELETED", "DRAFT", "FLAGGED", "SEEN":
            return .flag("\\" + word.prefix(1) + word.dropFirst().lowercased())
        case "UNANSWERED", "UNDELETED", "UNDRAFT", "UNFLAGGED", "UNSEEN":
            let flag = word.dropFirst(2)
            return .noFlag("\\" + flag.prefix(1) + flag.dropFirst().lowercased())
        case "KEYWORD": return .flag(try argument())
        case "UNKEYWORD": return .noFlag(try argument())
        case "NEW", "RECENT": return .new
        case "OLD": return .all
        case "FROM", "TO", "CC", "BCC", "SUBJECT": return .header(word, try argument())
        case "HEADER":
            let name = try argument()
            return .header(name.uppercased(), try argument())
        case "BODY": return .body(try argument())
        case "TEXT": return .text(try argument())
        case "BEFORE", "ON", "SINCE", "SENTBEFORE", "SENTON", "SENTSINCE":
            try space()
            let day = try date()
            // SENT* compare the Date field; we use the internal date (close for delivered mail).
            switch word.replacingOccurrences(of: "SENT", with: "") {
            case "BEFORE": return .before(day)
            case "ON": return .on(day)
            default: return .since(day)
            }
        case "LARGER": try space(); return .larger(try number())
        case "SMALLER": try space(); return .smaller(try number())
        case "UID": try space(); return .uid(try sequenceSet())
        case "NOT":
            try space()
            try enter()
            defer { depth -= 1 }
            return .not(try searchKey())
        case "OR":
            try space()
            try enter()
            defer { depth -= 1 }
            let first = try searchKey()
            try space()
            return .or(first, try searchKey())
        default:
            throw fail("Unknown search key")
        }
    }

    // MARK: - Values

    /// `tag = 1*<any ASTRING-CHAR except "+">`
    private mutating func parseTag() throws(IMAPParseError) -> String {
        let start = index
        while index < bytes.count, Self.isTagChar(bytes[index]) { index += 1 }
        guard index > start, index - start <= 64 else { throw IMAPParseError(tag: nil, message: "Missing or bad tag") }
        return String(decoding: bytes[start..<index], as: UTF8.self)
    }

    /// `atom = 1*ATOM-CHAR`
    private mutating func atom() throws(IMAPParseError) -> String {
        let start = index
        while index < bytes.count, Self.isAtomChar(bytes[index]) { index += 1 }
        guard index > start else { throw fail("Expected an atom") }
        return String(decoding: bytes[start..<index], as: UTF8.self)
    }

    private func peekAtom() -> String? {
        var end = index
        while end < bytes.count, Self.isAtomChar(bytes[end]) { end += 1 }
        return end > index ? String(decoding: bytes[index..<end], as: UTF8.self) : nil
    }

    /// `astring = 1*ASTRING-CHAR / string`
    private mutating func astring() throws(IMAPParseError) -> String {
        if peek == 0x22 || peek == 0x7B { return try string() }
        let start = index
        while index < bytes.count, Self.isAtomChar(bytes[index]) || bytes[index] == UInt8(ascii: "]") { index += 1 }
        guard index > start else { throw fail("Expected a string") }
        return String(decoding: bytes[start..<index], as: UTF8.self)
    }

    /// `string = quoted / literal`
    private mutating func string() throws(IMAPParseError) -> String {
        if peek == 0x7B { return String(decoding: try literal(), as: UTF8.self) }
        return try quoted()
    }

    /// `quoted = DQUOTE *QUOTED-CHAR DQUOTE` ; `QUOTED-CHAR = <any TEXT-CHAR except quoted-specials> / "\" quoted-specials`
    private mutating func quoted() throws(IMAPParseError) -> String {
        try expect(0x22)
        var out: [UInt8] = []
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            switch byte {
            case 0x22: return String(decoding: out, as: UTF8.self)
            case 0x5C:
                guard index < bytes.count, bytes[index] == 0x22 || bytes[index] == 0x5C else { throw fail("Bad escape in quoted string") }
                out.append(bytes[index])
                index += 1
            case 0x0D, 0x0A, 0x00: throw fail("Bad character in quoted string")
            default: out.append(byte)
            }
        }
        throw fail("Unterminated quoted string")
    }

    /// `literal = "{" number ["+"] "}" CRLF *CHAR8` (RFC 7888 for the `+`).
    private mutating func literal() throws(IMAPParseError) -> [UInt8] {
        try expect(0x7B)
        let size = try number()
        _ = consume(UInt8(ascii: "+"))
        try expect(0x7D)
        _ = consume(0x0D)
        try expect(0x0A)
        guard bytes.count - index >= size else { throw fail("Literal shorter than announced") }
        defer { index += size }
        return Array(bytes[index..<(index + size)])
    }

    private mutating func nilValue() throws(IMAPParseError) -> Bool {
        guard let word = peekAtom(), word.uppercased() == "NIL" else { return false }
        index += 3
        return true
    }

    /// `mailbox = "INBOX" / astring`, decoded from modified UTF-7 (RFC 3501 §5.1.3).
    private mutating func mailbox() throws(IMAPParseError) -> String {
        let raw = try astring()
        guard let name = ModifiedUTF7.decode(raw) else { throw fail("Bad mailbox name encoding") }
        return name.uppercased() == "INBOX" ? "INBOX" : name
    }

    /// `list-mailbox = 1*list-char / string` ; `list-char = ATOM-CHAR / list-wildcards / resp-specials`
    private mutating func listMailbox() throws(IMAPParseError) -> String {
        let raw: String
        if peek == 0x22 || peek == 0x7B {
            raw = try string()
        } else {
            let start = index
            while index < bytes.count, Self.isAtomChar(bytes[index]) || [0x25, 0x2A, 0x5D].contains(bytes[index]) { index += 1 }
            guard index > start else { throw fail("Expected a mailbox pattern") }
            raw = String(decoding: bytes[start..<index], as: UTF8.self)
        }
        guard let pattern = ModifiedUTF7.decode(raw) else { throw fail("Bad mailbox name encoding") }
        return pattern
    }

    /// `flag-list = "(" [flag *(SP flag)] ")"`
    private mutating func flagList() throws(IMAPParseError) -> [String] {
        try expect(0x28)
        var flags: [String] = []
        while peek != 0x29 {
            if !flags.isEmpty { try space() }
            flags.append(try flag())
        }
        try expect(0x29)
        return flags
    }

    /// `flag = "\Answered" / "\Flagged" / "\Deleted" / "\Seen" / "\Draft" / flag-keyword / flag-extension`
    private mutating func flag() throws(IMAPParseError) -> String {
        let system = consume(0x5C)
        let name = try atom()
        guard system else { return name }
        let canonical = ["Answered", "Flagged", "Deleted", "Seen", "Draft"].first { $0.lowercased() == name.lowercased() }
        guard let canonical else { throw fail("Unknown system flag") }   // \Recent cannot be stored (RFC 3501 §2.3.2)
        return "\\" + canonical
    }

    /// `"(" atom *(SP atom) ")"` (STATUS items, LIST options).
    private mutating func atomList() throws(IMAPParseError) -> [String] {
        try expect(0x28)
        var atoms: [String] = []
        while peek != 0x29 {
            if !atoms.isEmpty { try space() }
            atoms.append(try atom())
        }
        try expect(0x29)
        return atoms
    }

    /// `sequence-set = (seq-number / seq-range) ["," sequence-set]` ; `seq-number = nz-number / "*"`
    private mutating func sequenceSet() throws(IMAPParseError) -> SequenceSet {
        var spans: [SequenceSet.Span] = []
        repeat {
            guard spans.count < 10_000 else { throw fail("Sequence set too long") }
            let first = try sequenceNumber()
            let last = consume(UInt8(ascii: ":")) ? try sequenceNumber() : first
            spans.append(SequenceSet.Span(first: first, last: last))
        } while consume(UInt8(ascii: ","))
        return SequenceSet(ranges: spans)
    }

    private mutating func sequenceNumber() throws(IMAPParseError) -> UInt32? {
        if consume(UInt8(ascii: "*")) { return nil }
        let value = try number()
        guard value > 0, value <= Int(UInt32.max) else { throw fail("Bad sequence number") }
        return UInt32(value)
    }

    /// `number = 1*DIGIT` (at most 10 digits; an unsigned 32-bit range is checked by the caller).
    private mutating func number() throws(IMAPParseError) -> Int {
        let start = index
        while index < bytes.count, (0x30...0x39).contains(bytes[index]), index - start < 10 { index += 1 }
        guard index > start, index == bytes.count || !(0x30...0x39).contains(bytes[index]) else { throw fail("Expected a number") }
        return Int(String(decoding: bytes[start..<index], as: UTF8.self))!
    }

    /// `date = date-text / DQUOTE date-text DQUOTE` ; `date-text = date-day "-" date-month "-" date-year`
    private mutating func date() throws(IMAPParseError) -> Date {
        let text = peek == 0x22 ? try quoted() : try atom()
        guard let day = IMAPDates.parseDay(text) else { throw fail("Bad date") }
        return day
    }

    /// `date-time = DQUOTE date-day-fixed "-" date-month "-" date-year SP time SP zone DQUOTE`
    private mutating func dateTime() throws(IMAPParseError) -> Date {
        guard let date = IMAPDates.parseDateTime(try quoted()) else { throw fail("Bad date-time") }
        return date
    }

    // MARK: - Characters

    private var peek: UInt8? { index < bytes.count ? bytes[index] : nil }

    private mutating func consume(_ byte: UInt8) -> Bool {
        guard peek == byte else { return false }
        index += 1
        return true
    }

    private mutating func expect(_ byte: UInt8) throws(IMAPParseError) {
        guard consume(byte) else { throw fail(index >= bytes.count ? "Unexpected end of command" : "Syntax error") }
    }

    private mutating func space() throws(IMAPParseError) {
        try expect(0x20)
    }

    private mutating func enter() throws(IMAPParseError) {
        depth += 1
        guard depth <= maxDepth else { throw fail("Nesting too deep") }
    }

    private func fail(_ message: String) -> IMAPParseError { IMAPParseError(tag: tag, message: message) }

    /// `ATOM-CHAR = <any CHAR except atom-specials>` ; `atom-specials = "(" / ")" / "{" / SP / CTL / list-wildcards / quoted-specials / resp-specials`
    static func isAtomChar(_ byte: UInt8) -> Bool {
        guard byte > 0x20, byte < 0x7F else { return false }
        switch byte {
        case 0x28, 0x29, 0x7B, 0x25, 0x2A, 0x22, 0x5C, 0x5D: return false
        default: return true
        }
    }

    /// `tag = 1*<any ASTRING-CHAR except "+">` (ASTRING-CHAR adds `]`).
    static func isTagChar(_ byte: UInt8) -> Bool { (isAtomChar(byte) || byte == 0x5D) && byte != UInt8(ascii: "+") }
}
