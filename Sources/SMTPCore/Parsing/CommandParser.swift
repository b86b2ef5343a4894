import NIOCore

/// Parses SMTP, ESMTP and LMTP command lines into ``Command`` values
/// (RFC 5321 §4.1.1–§4.1.3, plus RFC 1870, 2033, 3030, 3207, 3461, 4954, 6152, 6531, 8689).
///
/// The framer hands over one line at a time with CRLF removed; the parser knows nothing of
/// sessions or state (whether SMTPUTF8 was declared, whether AUTH is offered) — those checks
/// belong to the session. Each rule's ABNF is written above the function that parses it.
///
/// Leniencies, all of them what Postfix also accepts:
/// - the verb is case-insensitive, and verb and argument may be separated by several spaces;
/// - spaces at the end of the line are ignored;
/// - one space after `MAIL FROM:` / `RCPT TO:` is tolerated (`MAIL FROM: <a@example.org>`);
/// - MAIL/RCPT parameters may be separated by several spaces;
/// - EHLO/HELO/LHLO names may contain `_` and end with a dot; HELO also takes an address
///   literal. Other punctuation in a host name is refused (it would end up in Received:).
///
/// Refused outright: bytes that are not UTF-8 (``CommandParseError/invalidUTF8``), and any
/// control character — C0, DEL or C1, including NUL and TAB (``CommandParseError/syntax(_:)``).
public struct CommandParser: Sendable {
    public init() {}

    /// Parses one command line, CRLF already removed. The verb is case-insensitive.
    public func parse(_ line: ByteBuffer) throws(CommandParseError) -> Command {
        try parse(bytes: Array(line.readableBytesView))
    }

    /// Parses one command line given as a string, CRLF already removed (tests, tools).
    public func parse(_ line: String) throws(CommandParseError) -> Command {
        try parse(bytes: Array(line.utf8))
    }

    // command = verb [1*SP argument] *SP          ; "CRLF" already removed by the framer
    // verb    = 1*(ALPHA)                         ; case-insensitive, looked up in `verbs`
    func parse(bytes: [UInt8]) throws(CommandParseError) -> Command {
        // RFC 6531 §3.3: UTF-8 is the only encoding allowed beyond ASCII.
        guard String(validating: bytes, as: UTF8.self) != nil else { throw .invalidUTF8 }
        if let offset = Self.firstControlCharacter(bytes) {
            throw .syntax("control character at offset \(offset)")
        }
        var end = bytes.endIndex
        while end > bytes.startIndex, bytes[end - 1] == ParserASCII.space { end -= 1 }
        guard end > bytes.startIndex else { throw .emptyLine }

        let line = bytes[..<end]
        let verbEnd = line.firstIndex(of: ParserASCII.space) ?? end
        let verb = ParserASCII.uppercasedString(line[..<verbEnd])
        guard let parseArguments = Self.verbs[verb] else {
            throw .unrecognizedCommand(String(verb.prefix(32)))
        }
        var argumentStart = verbEnd
        while argumentStart < end, line[argumentStart] == ParserASCII.space { argumentStart += 1 }
        return try parseArguments(argumentStart < end ? line[argumentStart...] : nil)
    }

    /// Parses what follows the verb; nil when nothing does.
    typealias ArgumentParser = @Sendable (ArraySlice<UInt8>?) throws(CommandParseError) -> Command

    /// The verb table: upper-cased verb → parser for its arguments.
    static let verbs: [String: ArgumentParser] = [
        "EHLO": { argument throws(CommandParseError) in .ehlo(try hello(argument)) },
        "HELO": { argument throws(CommandParseError) in .helo(try hello(argument)) },
        "LHLO": { argument throws(CommandParseError) in .lhlo(try hello(argument)) },
        "MAIL": mail,
        "RCPT": rcpt,
        "DATA": { argument throws(CommandParseError) in try noArgument(argument, .data) },
        "BDAT": bdat,
        "RSET": { argument throws(CommandParseError) in try noArgument(argument, .rset) },
        "VRFY": { argument throws(CommandParseError) in .vrfy(try requiredText(argument, "VRFY")) },
        "EXPN": { argument throws(CommandParseError) in .expn(try requiredText(argument, "EXPN")) },
        "HELP": { argument in .help(argument.map(ParserASCII.string)) },
        "NOOP": { argument in .noop(argument.map(ParserASCII.string)) },
        "QUIT": { argument throws(CommandParseError) in try noArgument(argument, .quit) },
        "STARTTLS": { argument throws(CommandParseError) in try noArgument(argument, .startTLS) },
        "AUTH": auth,
    ]

    /// Offset of the first C0 control, DEL or C1 control (U+0080–U+009F) in valid UTF-8.
    static func firstControlCharacter(_ bytes: [UInt8]) -> Int? {
        for index in bytes.indices {
            let byte = bytes[index]
            if byte < 0x20 || byte == 0x7F { return index }
            // C1 controls are encoded C2 80 … C2 9F.
            if byte == 0xC2, index + 1 < bytes.endIndex, (0x80...0x9F).contains(bytes[index + 1]) { return index }
        }
        return nil
    }
}
