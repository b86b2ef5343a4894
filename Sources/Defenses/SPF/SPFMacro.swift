/// A `macro-string` of an SPF record: literal text and macros, parsed once and expanded per check
/// ([RFC 7208 §7.1](https://www.rfc-editor.org/rfc/rfc7208#section-7.1)).
///
/// ```
/// macro-string     = *( macro-expand / macro-literal )
/// macro-expand     = ( "%{" macro-letter transformers *delimiter "}" )
///                    / "%%" / "%_" / "%-"
/// macro-literal    = %x21-24 / %x26-7E        ; visible characters except "%"
/// macro-letter     = "s" / "l" / "o" / "d" / "i" / "p" / "h" / "c" / "r" / "t" / "v"
/// transformers     = *DIGIT [ "r" ]
/// delimiter        = "." / "-" / "+" / "," / "/" / "_" / "="
/// explain-string   = *( macro-string / SP )
/// ```
public struct SPFMacroString: Hashable, Sendable, CustomStringConvertible {
    /// One piece of the string.
    public enum Part: Hashable, Sendable {
        /// Text taken as it is; `%%`, `%_` and `%-` are already turned into `%`, a space and `%20`.
        case literal(String)
        case macro(SPFMacro)
    }

    /// Where a macro-string appears decides what it may contain (§7.1, §6.2).
    public enum Context: Hashable, Sendable {
        /// A `domain-spec` of a mechanism, `redirect=` or `exp=`: no `c`, `r`, `t` macros.
        case domainSpec
        /// The TXT record an `exp=` points to: spaces and the `c`, `r`, `t` macros allowed.
        case explanation
        /// The value of an unknown modifier: only checked for syntax (RFC 7208 Appendix A).
        case unknownModifier
    }

    public var parts: [Part]
    /// The text it was parsed from.
    public let source: String

    public init(parts: [Part], source: String) {
        self.parts = parts
        self.source = source
    }

    public var description: String { source }

    /// Parses `text`; throws on a `%` not followed by `{`, `%`, `_` or `-` (§7.1), on an unknown
    /// or misplaced macro letter, a zero DIGIT transformer, or a character outside the context's set.
    public static func parse(_ text: Substring, context: Context) throws(SPFSyntaxError) -> SPFMacroString {
        var parts: [Part] = []
        var literal = ""
        let scalars = Array(text.unicodeScalars)
        var index = 0
        func flush() {
            if !literal.isEmpty { parts.append(.literal(literal)) }
            literal = ""
        }
        while index < scalars.count {
            let scalar = scalars[index]
            if scalar == "%" {
                guard index + 1 < scalars.count else {
                    throw SPFSyntaxError("'%' at the end of \"\(text)\"")  // RFC 7208 §7.1
                }
                switch scalars[index + 1] {
                case "%": literal += "%"
                case "_": literal += " "
                case "-": literal += "%20"
                case "{":
                    guard let close = scalars[(index + 2)...].firstIndex(of: "}") else {
                        throw SPFSyntaxError("unterminated macro in \"\(text)\"")
                    }
                    let body = String(String.UnicodeScalarView(scalars[(index + 2)..<close]))
                    flush()
                    parts.append(.macro(try SPFMacro.parse(body, context: context, in: text)))
                    index = close + 1
                    continue
                default:
                    // RFC 7208 §7.1: "A '%' character not followed by a '{', '%', '-', or '_'
                    // character is a syntax error."
                    throw SPFSyntaxError("'%' not followed by '{', '%', '-' or '_' in \"\(text)\"")
                }
                index += 2
                continue
            }
            // macro-literal = %x21-24 / %x26-7E; SP only in explanation text (§6.2).
            let allowed = (0x21...0x7E).contains(scalar.value) || (context == .explanation && scalar == " ")
            guard allowed else {
                throw SPFSyntaxError("character U+\(String(scalar.value, radix: 16, uppercase: true)) not allowed in \"\(text)\"")
            }
            literal.unicodeScalars.append(scalar)
            index += 1
        }
        flush()
        return SPFMacroString(parts: parts, source: String(text))
    }

    /// True when the string ends in a macro (`%{...}`, or a `%%`/`%_`/`%-` escape): the
    /// `domain-end = ( "." toplabel [ "." ] ) / macro-expand` alternative of §7.1.
    var endsInMacro: Bool {
        if case .macro = parts.last { return true }
        return source.hasSuffix("%%") || source.hasSuffix("%_") || source.hasSuffix("%-")
    }
}

/// One `%{...}` macro ([RFC 7208 §7.1–7.3](https://www.rfc-editor.org/rfc/rfc7208#section-7.3)).
public struct SPFMacro: Hashable, Sendable {
    /// The macro letters of §7.2 (case-insensitive; upper case asks for URL escaping).
    public enum Letter: Character, Hashable, Sendable {
        /// `<sender>`.
        case sender = "s"
        /// The local-part of `<sender>`.
        case localPart = "l"
        /// The domain of `<sender>`.
        case senderDomain = "o"
        /// `<domain>`, the domain whose record is being evaluated.
        case domain = "d"
        /// `<ip>`: dotted quad, or 32 dot-separated nibbles for IPv6.
        case ip = "i"
        /// The validated domain name of `<ip>` (discouraged, §7.3 note).
        case validatedName = "p"
        /// `in-addr` for IPv4, `ip6` for IPv6.
        case ipVersion = "v"
        /// The HELO/EHLO domain.
        case helo = "h"
        /// The SMTP client IP in readable form (explanations only).
        case clientIP = "c"
        /// The domain name of the receiving host (explanations only).
        case receiver = "r"
        /// The current time in seconds since the epoch (explanations only).
        case timestamp = "t"

        /// `c`, `r` and `t` are allowed only in explanation text (§7.2).
        var explanationOnly: Bool { self == .clientIP || self == .receiver || self == .timestamp }
    }

    public var letter: Letter
    /// An upper-case letter: the value is URL-escaped after transformation (§7.3).
    public var urlEscape: Bool
    /// The DIGIT transformer: use only this many right-hand parts; `nil` for all.
    public var rightParts: Int?
    /// The `r` transformer: reverse the parts first.
    public var reverse: Bool
    /// The characters the value is split on; `.` when none is given (§7.3).
    public var delimiters: Set<Character>

    public init(letter: Letter, urlEscape: Bool = false, rightParts: Int? = nil, reverse: Bool = false, delimiters: Set<Character> = ["."]) {
        self.letter = letter
        self.urlEscape = urlEscape
        self.rightParts = rightParts
        self.reverse = reverse
        self.delimiters = delimiters
    }

    static let delimiterSet: Set<Character> = [".", "-", "+", ",", "/", "_", "="]

    /// Parses the text between `%{` and `}`: `macro-letter transformers *delimiter`.
    static func parse(_ body: String, context: SPFMacroString.Context, in text: Substring) throws(SPFSyntaxError) -> SPFMacro {
        var characters = body[...]
        guard let first = characters.popFirst(), first.isASCII, let letter = Letter(rawValue: Character(first.lowercased())) else {
            throw SPFSyntaxError("unknown macro letter in \"%{\(body)}\"")  // RFC 7208 §7.1 macro-letter
        }
        // RFC 7208 §7.2: "c", "r" and "t" only in "exp" text.
        if letter.explanationOnly && context == .domainSpec {
            throw SPFSyntaxError("macro %{\(first)} is allowed only in explanation text")
        }
        let digits = characters.prefix { $0.isASCII && $0.isNumber }
        characters = characters.dropFirst(digits.count)
        var rightParts: Int? = nil
        if !digits.isEmpty {
            // RFC 7208 §7.3: "If a DIGIT is specified, the value MUST be nonzero."
            let value = digits.count > 3 ? 999 : Int(digits) ?? 0
            guard value > 0 else { throw SPFSyntaxError("zero DIGIT transformer in \"%{\(body)}\"") }
            rightParts = value
        }
        var reverse = false
        if let next = characters.first, next == "r" || next == "R" {
            reverse = true
            characters = characters.dropFirst()
        }
        var delimiters: Set<Character> = []
        for character in characters {
            guard delimiterSet.contains(character) else {
                throw SPFSyntaxError("invalid delimiter '\(character)' in \"%{\(body)}\"")
            }
            delimiters.insert(character)
        }
        return SPFMacro(
            letter: letter, urlEscape: first.isUppercase, rightParts: rightParts, reverse: reverse,
            delimiters: delimiters.isEmpty ? ["."] : delimiters)
    }

    /// Applies the transformers and the URL escaping to a macro's value (§7.3): split on the
    /// delimiters, reverse if asked, keep the right-most `rightParts`, join with `.`.
    func transform(_ value: String) -> String {
        var result = value
        if rightParts != nil || reverse || delimiters != ["."] {
            var parts = value.split(omittingEmptySubsequences: false) { delimiters.contains($0) }.map(String.init)
            if reverse { parts.reverse() }
            if let rightParts, rightParts < parts.count { parts = Array(parts.suffix(rightParts)) }
            result = parts.joined(separator: ".")
        }
        return urlEscape ? Self.urlEscaped(result) : result
    }

    /// RFC 3986 percent-encoding of every byte outside `unreserved` (ALPHA / DIGIT / "-" / "." /
    /// "_" / "~"), as §7.3 requires for upper-case macro letters.
    static func urlEscaped(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "~"):
                out.unicodeScalars.append(UnicodeScalar(byte))
            default:
                let hex = String(byte, radix: 16, uppercase: true)
                out += "%" + (hex.count == 1 ? "0" + hex : hex)
            }
        }
        return out
    }
}

/// A syntax error in an SPF record: `check_host()` returns ``SPFResult/permerror``
/// ([RFC 7208 §4.6](https://www.rfc-editor.org/rfc/rfc7208#section-4.6)).
public struct SPFSyntaxError: Error, Hashable, Sendable, CustomStringConvertible {
    public var reason: String

    public init(_ reason: String) {
        self.reason = reason
    }

    public var description: String { reason }
}
