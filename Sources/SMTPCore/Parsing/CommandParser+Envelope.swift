/// Argument parsers for MAIL and RCPT: path, then parameters.
extension CommandParser {
    // mail = "MAIL FROM:" Reverse-path [SP Mail-parameters]   ; RFC 5321 §4.1.1.2
    //
    // One SP after the colon is tolerated, as Postfix does (`MAIL FROM: <a@example.org>`).
    static func mail(_ argument: ArraySlice<UInt8>?) throws(CommandParseError) -> Command {
        var cursor = ParseCursor(argument ?? [])
        guard cursor.consume(caseInsensitive: "FROM:") else { throw .syntax("MAIL without FROM:") }
        _ = cursor.consume(ParserASCII.space)
        let path: ReversePath
        do {
            path = try PathParser.reversePath(&cursor)
        } catch {
            throw .badReversePath(error.detail)
        }
        return .mail(path, try ParameterParser.mailParameters(try parameterList(&cursor)))
    }

    // rcpt = "RCPT TO:" ( "<Postmaster@" Domain ">" / "<Postmaster>" / Forward-path )
    //        [SP Rcpt-parameters]                            ; RFC 5321 §4.1.1.3
    //
    // One SP after the colon is tolerated, as for MAIL.
    static func rcpt(_ argument: ArraySlice<UInt8>?) throws(CommandParseError) -> Command {
        var cursor = ParseCursor(argument ?? [])
        guard cursor.consume(caseInsensitive: "TO:") else { throw .syntax("RCPT without TO:") }
        _ = cursor.consume(ParserASCII.space)
        let path: ForwardPath
        do {
            path = try PathParser.forwardPath(&cursor)
        } catch {
            throw .badForwardPath(error.detail)
        }
        return .rcpt(path, try ParameterParser.rcptParameters(try parameterList(&cursor)))
    }

    /// What follows the path: nothing, or 1*SP then parameters separated by 1*SP.
    static func parameterList(_ cursor: inout ParseCursor) throws(CommandParseError) -> [ArraySlice<UInt8>] {
        if cursor.isAtEnd { return [] }
        guard cursor.peek() == ParserASCII.space else { throw .syntax("no space after path") }
        return cursor.takeRest().split(separator: ParserASCII.space, omittingEmptySubsequences: true)
    }
}
