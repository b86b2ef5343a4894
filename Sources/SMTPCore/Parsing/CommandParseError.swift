/// Why a command line could not be parsed, with the reply the server sends for it.
///
/// The associated strings are details for the log (they may contain client bytes); the
/// ``reply`` text is generic and never echoes them (DESIGN §3.5).
public enum CommandParseError: Error, Hashable, Sendable {
    /// The line is empty or holds only spaces. `500 5.5.2`
    case emptyLine
    /// The verb is not one we know (RFC 5321 §4.2.4). `500 5.5.1`; the verb is for the log.
    case unrecognizedCommand(String)
    /// The arguments do not match the verb's grammar (RFC 5321 §4.1.1). `501 5.5.2`
    case syntax(String)
    /// The `MAIL FROM` path is malformed or too long (RFC 5321 §4.1.1.2, §4.5.3.1). `501 5.1.7`
    case badReversePath(String)
    /// The `RCPT TO` path is malformed or too long (RFC 5321 §4.1.1.3, §4.5.3.1). `501 5.1.3`
    case badForwardPath(String)
    /// A MAIL/RCPT parameter keyword we do not implement (RFC 5321 §4.1.1.11). `555 5.5.4`
    case unknownParameter(String)
    /// A MAIL/RCPT parameter keyword given twice. `501 5.5.4`
    case duplicateParameter(String)
    /// A known parameter with a malformed value, or a value where none is allowed. `501 5.5.4`
    case invalidParameterValue(String)
    /// The line is not valid UTF-8 (RFC 6531 §3.3 allows UTF-8, nothing else). `500 5.5.2`
    case invalidUTF8

    /// The reply to send. Text is generic (never echoes client bytes).
    public var reply: Reply {
        switch self {
        case .emptyLine:
            return Reply(.syntaxError, .syntaxError, "Syntax error, empty command")
        case .unrecognizedCommand:
            return Reply(.syntaxError, .invalidCommand, "Command unrecognized")
        case .syntax:
            return Reply(.parameterSyntaxError, .syntaxError, "Syntax error in parameters or arguments")
        case .badReversePath:
            return Reply(.parameterSyntaxError, .badSenderSyntax, "Bad sender address syntax")
        case .badForwardPath:
            return Reply(.parameterSyntaxError, .badDestinationSyntax, "Bad recipient address syntax")
        case .unknownParameter:
            return Reply(.parametersNotRecognized, .invalidArguments, "Parameter not recognized")
        case .duplicateParameter:
            return Reply(.parameterSyntaxError, .invalidArguments, "Duplicate parameter")
        case .invalidParameterValue:
            return Reply(.parameterSyntaxError, .invalidArguments, "Invalid parameter value")
        case .invalidUTF8:
            return Reply(.syntaxError, .syntaxError, "Syntax error, invalid UTF-8")
        }
    }
}
