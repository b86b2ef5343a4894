/// Parsers for the ESMTP parameters after the path of `MAIL FROM` and `RCPT TO`
/// (RFC 5321 §4.1.2 `Mail-parameters` / `Rcpt-parameters`).
///
/// Keywords are case-insensitive. An unknown keyword is `555 5.5.4` (RFC 5321 §4.1.1.11), a
/// repeated one or a malformed value `501 5.5.4`.
enum ParameterParser {
    /// RFC 1870 §3: `size-value ::= 1*20DIGIT`.
    static let maxSizeDigits = 20
    /// RFC 3461 §4.4: an ENVID is at most 100 characters (counted as written, in xtext).
    static let maxEnvelopeIDLength = 100

    // esmtp-param   = esmtp-keyword ["=" esmtp-value]
    // esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")
    // esmtp-value   = 1*(%d33-60 / %d62-126 / UTF8-non-ascii)   ; RFC 6531 §3.3
    struct Parameter {
        /// Upper-cased keyword.
        var keyword: String
        var value: ArraySlice<UInt8>?
    }

    /// Splits one `esmtp-param` into keyword and value.
    static func parameter(_ bytes: ArraySlice<UInt8>) throws(CommandParseError) -> Parameter {
        let equals = bytes.firstIndex(of: UInt8(ascii: "="))
        let keyword = bytes[..<(equals ?? bytes.endIndex)]
        guard SMTPGrammar.isESMTPKeyword(keyword) else {
            throw .syntax("invalid parameter keyword \(ParserASCII.string(keyword.prefix(32)))")
        }
        guard let equals else { return Parameter(keyword: ParserASCII.uppercasedString(keyword), value: nil) }
        return Parameter(keyword: ParserASCII.uppercasedString(keyword), value: bytes[(equals + 1)...])
    }

    // Mail-parameters = esmtp-param *(SP esmtp-param)
    //   size-param     = "SIZE=" 1*20DIGIT                         ; RFC 1870
    //   body-param     = "BODY=" ("7BIT" / "8BITMIME" / "BINARYMIME")  ; RFC 6152, RFC 3030
    //   smtputf8-param = "SMTPUTF8"                                ; RFC 6531 §3.4
    //   ret-param      = "RET=" ("FULL" / "HDRS")                  ; RFC 3461 §4.3
    //   envid-param    = "ENVID=" xtext                            ; RFC 3461 §4.4
    //   auth-param     = "AUTH=" xtext                             ; RFC 4954 §5, "<>" included
    //   requiretls     = "REQUIRETLS"                              ; RFC 8689 §4.1
    static func mailParameters(_ items: [ArraySlice<UInt8>]) throws(CommandParseError) -> MailParameters {
        var result = MailParameters()
        var seen: [String: [UInt8]?] = [:]
        for item in items {
            let parameter = try parameter(item)
            let keyword = parameter.keyword, value = parameter.value
            switch keyword {
            case "SIZE", "BODY", "SMTPUTF8", "RET", "ENVID", "AUTH", "REQUIRETLS": break
            default: throw .unknownParameter(keyword)
            }
            if try isRepeat(keyword, value, &seen) { continue }
            switch keyword {
            case "SIZE":
                result.size = try decimal(try required(value, keyword), keyword, maxDigits: maxSizeDigits)
            case "BODY":
                result.body = try enumerated(try required(value, keyword), keyword)
            case "SMTPUTF8":
                try forbidden(value, keyword)
                result.smtpUTF8 = true
            case "RET":
                result.dsnReturn = try enumerated(try required(value, keyword), keyword)
            case "ENVID":
                let text = try required(value, keyword)
                guard text.count <= maxEnvelopeIDLength else { throw .invalidParameterValue("ENVID longer than 100") }
                result.envelopeID = try xtext(text, keyword)
            case "AUTH":
                result.auth = try xtext(try required(value, keyword), keyword)
            default:  // REQUIRETLS
                try forbidden(value, keyword)
                result.requireTLS = true
            }
        }
        return result
    }

    /// A keyword given twice with the same value is tolerated (Python's smtplib sends
    /// `SMTPUTF8 SMTPUTF8` when the caller asks for it and the library adds it too; Postfix
    /// accepts that); twice with different values is a `.duplicateParameter`.
    static func isRepeat(_ keyword: String, _ value: ArraySlice<UInt8>?,
                         _ seen: inout [String: [UInt8]?]) throws(CommandParseError) -> Bool {
        let normalized = value.map { Array($0) }
        guard let previous = seen[keyword] else {
            seen[keyword] = normalized
            return false
        }
        guard previous == normalized else { throw .duplicateParameter(keyword) }
        return true
    }

    // Rcpt-parameters = esmtp-param *(SP esmtp-param)
    //   notify-param = "NOTIFY=" ("NEVER" / 1#notify-item)         ; RFC 3461 §4.1
    //   notify-item  = "SUCCESS" / "FAILURE" / "DELAY"
    //   orcpt-param  = "ORCPT=" addr-type ";" xtext                ; RFC 3461 §4.2
    //   addr-type    = atom
    static func rcptParameters(_ items: [ArraySlice<UInt8>]) throws(CommandParseError) -> RcptParameters {
        var result = RcptParameters()
        var seen: [String: [UInt8]?] = [:]
        for item in items {
            let parameter = try parameter(item)
            let keyword = parameter.keyword
            guard keyword == "NOTIFY" || keyword == "ORCPT" else { throw .unknownParameter(keyword) }
            if try isRepeat(keyword, parameter.value, &seen) { continue }
            let value = try required(parameter.value, keyword)
            if keyword == "NOTIFY" {
                result.notify = try notify(value)
            } else {
                result.originalRecipient = try originalRecipient(value)
            }
        }
        return result
    }

    static func notify(_ value: ArraySlice<UInt8>) throws(CommandParseError) -> DSNNotify {
        let items = value.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false)
            .map(ParserASCII.uppercasedString)
        if items == ["NEVER"] { return .never }
        var success = false, failure = false, delay = false
        for item in items {
            switch item {
            case "SUCCESS" where !success: success = true
            case "FAILURE" where !failure: failure = true
            case "DELAY" where !delay: delay = true
            default:  // NEVER combined with others, a repeated item, an empty item or an unknown one
                throw .invalidParameterValue("NOTIFY")
            }
        }
        return .on(success: success, failure: failure, delay: delay)
    }

    static func originalRecipient(_ value: ArraySlice<UInt8>) throws(CommandParseError) -> OriginalRecipient {
        guard let semicolon = value.firstIndex(of: UInt8(ascii: ";")) else {
            throw .invalidParameterValue("ORCPT without addr-type")
        }
        let addressType = value[..<semicolon], address = value[(semicolon + 1)...]
        guard !addressType.isEmpty, addressType.allSatisfy({ $0 < 0x80 && SMTPGrammar.isAtext($0) }) else {
            throw .invalidParameterValue("ORCPT addr-type")
        }
        guard !address.isEmpty else { throw .invalidParameterValue("ORCPT without address") }
        return OriginalRecipient(addressType: ParserASCII.string(addressType), address: try xtext(address, "ORCPT"))
    }

    // MARK: - Values

    private static func required(_ value: ArraySlice<UInt8>?, _ keyword: String) throws(CommandParseError) -> ArraySlice<UInt8> {
        guard let value, !value.isEmpty else { throw .invalidParameterValue("\(keyword) without value") }
        let isValueByte = { (byte: UInt8) in (33...60).contains(byte) || (62...126).contains(byte) || byte >= 0x80 }
        guard value.allSatisfy(isValueByte) else { throw .invalidParameterValue("\(keyword) value") }
        return value
    }

    private static func forbidden(_ value: ArraySlice<UInt8>?, _ keyword: String) throws(CommandParseError) {
        guard value == nil else { throw .invalidParameterValue("\(keyword) takes no value") }
    }

    /// `1*maxDigits DIGIT`; a value beyond `Int.max` is clamped (the size check rejects it anyway).
    private static func decimal(_ value: ArraySlice<UInt8>, _ keyword: String, maxDigits: Int) throws(CommandParseError) -> Int {
        guard value.count <= maxDigits, value.allSatisfy(ParserASCII.isDigit) else {
            throw .invalidParameterValue(keyword)
        }
        return Int(ParserASCII.string(value)) ?? Int.max
    }

    private static func enumerated<T: RawRepresentable>(_ value: ArraySlice<UInt8>, _ keyword: String) throws(CommandParseError) -> T
    where T.RawValue == String {
        guard let parsed = T(rawValue: ParserASCII.uppercasedString(value)) else { throw .invalidParameterValue(keyword) }
        return parsed
    }

    private static func xtext(_ value: ArraySlice<UInt8>, _ keyword: String) throws(CommandParseError) -> String {
        guard let decoded = XText.decode(ParserASCII.string(value)) else { throw .invalidParameterValue(keyword) }
        return decoded
    }
}
