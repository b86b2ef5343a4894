/// Parsers for the paths of `MAIL FROM` and `RCPT TO` (RFC 5321 §4.1.2, RFC 6531 §3.3).
enum PathParser {
    /// RFC 5321 §4.5.3.1.1, counted on the decoded local part.
    static let maxLocalPartOctets = 64
    /// RFC 5321 §4.5.3.1.3, counted on the path as written, angle brackets included.
    static let maxPathOctets = 256

    // Reverse-path = Path / "<>"
    static func reversePath(_ cursor: inout ParseCursor) throws(AddressSyntaxError) -> ReversePath {
        var lookahead = cursor
        if lookahead.consume(caseInsensitive: "<>") {
            cursor = lookahead
            return .null
        }
        return .mailbox(try path(&cursor))
    }

    // Forward-path = Path / "<Postmaster>"   ; RFC 5321 §4.1.1.3, "Postmaster" case-insensitive
    static func forwardPath(_ cursor: inout ParseCursor) throws(AddressSyntaxError) -> ForwardPath {
        var lookahead = cursor
        if lookahead.consume(caseInsensitive: "<Postmaster>") {
            cursor = lookahead
            return .postmaster
        }
        return .mailbox(try path(&cursor))
    }

    // Path   = "<" [ A-d-l ":" ] Mailbox ">"
    // A-d-l  = At-domain *( "," At-domain )   ; source route: parsed and ignored (RFC 5321 App. C)
    // At-domain = "@" Domain
    static func path(_ cursor: inout ParseCursor) throws(AddressSyntaxError) -> Mailbox {
        let start = cursor.position
        guard cursor.consume(UInt8(ascii: "<")) else { throw AddressSyntaxError("missing <") }
        if cursor.peek() == UInt8(ascii: "@") {
            repeat {
                guard cursor.consume(UInt8(ascii: "@")) else { throw AddressSyntaxError("invalid source route") }
                _ = try HostParser.domain(&cursor)
            } while cursor.consume(UInt8(ascii: ","))
            guard cursor.consume(UInt8(ascii: ":")) else { throw AddressSyntaxError("source route without :") }
        }
        let result = try mailbox(&cursor)
        guard cursor.consume(UInt8(ascii: ">")) else { throw AddressSyntaxError("missing >") }
        guard cursor.position - start <= maxPathOctets else { throw AddressSyntaxError("path longer than 256 octets") }
        return result
    }

    // Mailbox = Local-part "@" ( Domain / address-literal )
    static func mailbox(_ cursor: inout ParseCursor) throws(AddressSyntaxError) -> Mailbox {
        let local = try localPart(&cursor)
        guard cursor.consume(UInt8(ascii: "@")) else { throw AddressSyntaxError("missing @") }
        return Mailbox(localPart: local, host: try HostParser.mailboxHost(&cursor))
    }

    // Local-part = Dot-string / Quoted-string
    // Dot-string = Atom *("."  Atom)
    // Atom       = 1*atext                        ; atext includes UTF8-non-ascii (RFC 6531)
    static func localPart(_ cursor: inout ParseCursor) throws(AddressSyntaxError) -> String {
        let decoded: [UInt8]
        if cursor.peek() == UInt8(ascii: "\"") {
            decoded = try quotedString(&cursor)
        } else {
            let dotString = cursor.take { SMTPGrammar.isAtext($0) || $0 == UInt8(ascii: ".") }
            guard !dotString.isEmpty else { throw AddressSyntaxError("missing local part") }
            guard SMTPGrammar.isDotString(dotString) else { throw AddressSyntaxError("invalid dot-string local part") }
            decoded = Array(dotString)
        }
        guard decoded.count <= maxLocalPartOctets else { throw AddressSyntaxError("local part longer than 64 octets") }
        return ParserASCII.string(decoded)
    }

    // Quoted-string   = DQUOTE *QcontentSMTP DQUOTE
    // QcontentSMTP    = qtextSMTP / quoted-pairSMTP
    // quoted-pairSMTP = %d92 %d32-126             ; backslash followed by any ASCII graphic or space
    // qtextSMTP       = %d32-33 / %d35-91 / %d93-126 / UTF8-non-ascii
    /// Returns the content with quotes and escapes removed.
    static func quotedString(_ cursor: inout ParseCursor) throws(AddressSyntaxError) -> [UInt8] {
        guard cursor.consume(UInt8(ascii: "\"")) else { throw AddressSyntaxError("expected quote") }
        var content: [UInt8] = []
        while let byte = cursor.next() {
            switch byte {
            case UInt8(ascii: "\""):
                return content
            case UInt8(ascii: "\\"):
                guard let escaped = cursor.next(), (32...126).contains(escaped) else {
                    throw AddressSyntaxError("invalid quoted-pair")
                }
                content.append(escaped)
            case 32...126, 0x80...:
                content.append(byte)
            default:
                throw AddressSyntaxError("invalid character in quoted string")
            }
        }
        throw AddressSyntaxError("unterminated quoted string")
    }
}
