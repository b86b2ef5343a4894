/// Argument parsers for the verbs other than MAIL and RCPT.
extension CommandParser {
    // ehlo = "EHLO" SP ( Domain / address-literal )     ; RFC 5321 §4.1.1.1
    // helo = "HELO" SP Domain                           ; address literal tolerated
    // lhlo = "LHLO" SP ( Domain / address-literal )     ; RFC 2033 §4.1
    static func hello(_ argument: ArraySlice<UInt8>?) throws(CommandParseError) -> MailHost {
        guard let argument else { throw .syntax("hello without host name") }
        do {
            return try HostParser.heloHost(argument)
        } catch {
            throw .syntax(error.detail)
        }
    }

    // data = "DATA"   rset = "RSET"   quit = "QUIT"     ; RFC 5321 §4.1.1.4, §4.1.1.5, §4.1.1.10
    // starttls = "STARTTLS"                             ; RFC 3207 §4
    static func noArgument(_ argument: ArraySlice<UInt8>?, _ command: Command) throws(CommandParseError) -> Command {
        guard argument == nil else { throw .syntax("\(command.verb) takes no argument") }
        return command
    }

    // vrfy = "VRFY" SP String   expn = "EXPN" SP String   ; RFC 5321 §4.1.1.6, §4.1.1.7
    // help = "HELP" [ SP String ]   noop = "NOOP" [ SP String ]
    //
    // The String is kept as free text (what clients send: `VRFY John Smith`), never interpreted here.
    static func requiredText(_ argument: ArraySlice<UInt8>?, _ verb: String) throws(CommandParseError) -> String {
        guard let argument else { throw .syntax("\(verb) without argument") }
        return ParserASCII.string(argument)
    }

    /// RFC 3030 §2 sets no bound; 18 digits keep every size below `Int.max`.
    static let maxChunkSizeDigits = 18

    // bdat-cmd   = "BDAT" SP chunk-size [ SP end-marker ]   ; RFC 3030 §2
    // chunk-size = 1*DIGIT
    // end-marker = "LAST"
    static func bdat(_ argument: ArraySlice<UInt8>?) throws(CommandParseError) -> Command {
        guard let argument else { throw .syntax("BDAT without chunk size") }
        var cursor = ParseCursor(argument)
        let digits = cursor.take(while: ParserASCII.isDigit)
        guard !digits.isEmpty, digits.count <= maxChunkSizeDigits, let size = Int(ParserASCII.string(digits)) else {
            throw .syntax("BDAT chunk size")
        }
        if cursor.isAtEnd { return .bdat(size: size, last: false) }
        guard cursor.consume(ParserASCII.space), cursor.consume(caseInsensitive: "LAST"), cursor.isAtEnd else {
            throw .syntax("BDAT end marker")
        }
        return .bdat(size: size, last: true)
    }

    /// RFC 4954 §4: `sasl-mech = 1*20mech-char`.
    static let maxMechanismLength = 20

    // auth-command     = "AUTH" SP sasl-mech [SP initial-response]   ; RFC 4954 §4
    // sasl-mech        = 1*20mech-char                     ; lower case accepted, upper-cased
    // mech-char        = UPPER-ALPHA / DIGIT / HYPHEN / UNDERSCORE
    // initial-response = base64 / "="
    static func auth(_ argument: ArraySlice<UInt8>?) throws(CommandParseError) -> Command {
        guard let argument else { throw .syntax("AUTH without mechanism") }
        let parts = argument.split(separator: ParserASCII.space, omittingEmptySubsequences: true)
        guard parts.count <= 2 else { throw .syntax("AUTH with extra arguments") }
        let mechanism = parts[0].map(ParserASCII.uppercased)
        let isMechChar = { (byte: UInt8) in
            SMTPGrammar.isAlphaDigit(byte) || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_")
        }
        guard mechanism.count <= maxMechanismLength, mechanism.allSatisfy(isMechChar) else {
            throw .syntax("AUTH mechanism")
        }
        guard parts.count == 2 else { return .auth(mechanism: ParserASCII.string(mechanism), initialResponse: nil) }
        guard isInitialResponse(parts[1]) else { throw .syntax("AUTH initial response is not base64") }
        return .auth(mechanism: ParserASCII.string(mechanism), initialResponse: ParserASCII.string(parts[1]))
    }

    // base64      = base64-terminal / ( 1*(4base64-char) [base64-terminal] )   ; RFC 4954 §4
    //
    // Checked loosely: base64 alphabet, then at most two "=" at the end (missing padding is
    // the SASL layer's error to report). A lone "=" is the empty response.
    static func isInitialResponse(_ bytes: ArraySlice<UInt8>) -> Bool {
        if bytes.elementsEqual([UInt8(ascii: "=")]) { return true }
        let body = bytes.prefix { $0 != UInt8(ascii: "=") }
        let padding = bytes[body.endIndex...]
        let isBase64Char = { (byte: UInt8) in
            SMTPGrammar.isAlphaDigit(byte) || byte == UInt8(ascii: "+") || byte == UInt8(ascii: "/")
        }
        return !body.isEmpty && body.allSatisfy(isBase64Char)
            && padding.count <= 2 && padding.allSatisfy { $0 == UInt8(ascii: "=") }
    }
}
