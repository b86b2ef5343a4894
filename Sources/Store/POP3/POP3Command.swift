/// A POP3 command ([RFC 1939](https://www.rfc-editor.org/rfc/rfc1939), CAPA from
/// [RFC 2449](https://www.rfc-editor.org/rfc/rfc2449), STLS from
/// [RFC 2595](https://www.rfc-editor.org/rfc/rfc2595), AUTH from
/// [RFC 5034](https://www.rfc-editor.org/rfc/rfc5034)). Message numbers are 1-based positions
/// in the maildrop as it was at login.
public enum POP3Command: Sendable, Hashable {
    /// `C: USER alice@example.org` — RFC 1939 §7. Only over TLS here.
    case user(String)
    /// `C: PASS secret with spaces` — RFC 1939 §7: the rest of the line is the password.
    case pass(String)
    /// `C: AUTH PLAIN dGVzdAB0ZXN0AHRlc3Q=` — RFC 5034; without a mechanism: list them.
    case auth(mechanism: String?, initialResponse: String?)
    /// `C: STAT` / `S: +OK 2 320` — RFC 1939 §5.
    case stat
    /// `C: LIST [1]` — sizes, of one message or all.
    case list(Int?)
    /// `C: UIDL [1]` — unique ids (RFC 1939 §7).
    case uidl(Int?)
    /// `C: RETR 1` — the whole message, dot-stuffed.
    case retr(Int)
    /// `C: TOP 1 10` — the header and the first lines of the body (RFC 1939 §7).
    case top(Int, lines: Int)
    /// `C: DELE 1` — marked; removed at QUIT.
    case dele(Int)
    /// `C: RSET` — unmarks every DELE.
    case rset
    /// `C: NOOP`.
    case noop
    /// `C: QUIT` — in the TRANSACTION state, enters UPDATE: marked messages are removed.
    case quit
    /// `C: CAPA` — RFC 2449 §5.
    case capa
    /// `C: STLS` — RFC 2595 §4.
    case stls
}

/// Why a command line was refused (answered `-ERR`, the connection goes on).
public enum POP3ParseError: Error, Sendable, Hashable {
    case empty
    case unknownCommand(String)
    case invalidArguments(String)
}

extension POP3Command {
    /// The longest argument taken. RFC 1939 §3 says 40 octets, but user names are addresses
    /// and some are longer; the line limit bounds everything anyway.
    static let maxArgumentLength = 255

    /// Parses one command line (without its line end). Keywords are case-insensitive (RFC 1939 §3).
    ///
    /// ```
    /// command  = keyword *(SP argument)      ; keyword 3-4 characters, arguments up to 40
    /// msg      = 1*DIGIT                     ; 1-based, no sign
    /// ```
    public static func parse(_ line: String) -> Result<POP3Command, POP3ParseError> {
        guard !line.isEmpty else { return .failure(.empty) }
        let keywordEnd = line.firstIndex(of: " ") ?? line.endIndex
        let keyword = line[..<keywordEnd].uppercased()
        let rest = keywordEnd < line.endIndex ? String(line[line.index(after: keywordEnd)...]) : ""
        let arguments = rest.isEmpty ? [] : rest.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
        func bad() -> Result<POP3Command, POP3ParseError> { .failure(.invalidArguments(keyword)) }
        if keyword != "PASS", arguments.contains(where: { $0.isEmpty || $0.utf8.count > maxArgumentLength && keyword != "AUTH" }) {
            return bad()
        }
        func number(_ text: String) -> Int? {
            guard (1...9).contains(text.utf8.count), text.utf8.allSatisfy({ (0x30...0x39).contains($0) }) else { return nil }
            return Int(text)
        }
        switch keyword {
        case "USER":
            guard arguments.count == 1 else { return bad() }
            return .success(.user(arguments[0]))
        case "PASS":
            guard !rest.isEmpty else { return bad() }
            return .success(.pass(rest))
        case "AUTH":
            guard arguments.count <= 2 else { return bad() }
            return .success(.auth(mechanism: arguments.first?.uppercased(), initialResponse: arguments.count == 2 ? arguments[1] : nil))
        case "STAT", "RSET", "NOOP", "QUIT", "CAPA", "STLS":
            guard arguments.isEmpty else { return bad() }
            switch keyword {
            case "STAT": return .success(.stat)
            case "RSET": return .success(.rset)
            case "NOOP": return .success(.noop)
            case "QUIT": return .success(.quit)
            case "CAPA": return .success(.capa)
            default: return .success(.stls)
            }
        case "LIST", "UIDL":
            guard arguments.count <= 1 else { return bad() }
            var message: Int?
            if let text = arguments.first {
                guard let value = number(text), value > 0 else { return bad() }
                message = value
            }
            return .success(keyword == "LIST" ? .list(message) : .uidl(message))
        case "RETR", "DELE":
            guard arguments.count == 1, let value = number(arguments[0]), value > 0 else { return bad() }
            return .success(keyword == "RETR" ? .retr(value) : .dele(value))
        case "TOP":
            guard arguments.count == 2, let message = number(arguments[0]), message > 0, let lines = number(arguments[1]) else { return bad() }
            return .success(.top(message, lines: lines))
        default:
            let shown = keyword.utf8.count <= 8 && keyword.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) ? keyword : "?"
            return .failure(.unknownCommand(shown))
        }
    }

    /// The keyword for logs (never the argument of PASS or AUTH).
    public var keyword: String {
        switch self {
        case .user: "USER"
        case .pass: "PASS"
        case .auth: "AUTH"
        case .stat: "STAT"
        case .list: "LIST"
        case .uidl: "UIDL"
        case .retr: "RETR"
        case .top: "TOP"
        case .dele: "DELE"
        case .rset: "RSET"
        case .noop: "NOOP"
        case .quit: "QUIT"
        case .capa: "CAPA"
        case .stls: "STLS"
        }
    }
}
