/// An SMTP, ESMTP or LMTP command as a client sends it (RFC 5321 §4.1.1 and extensions).
///
/// Each case names the verb; the wire form is produced by ``Command/wireLine`` and parsed by
/// ``CommandParser``.
public enum Command: Hashable, Sendable {
    /// `EHLO` — extended hello (RFC 5321 §4.1.1.1). `C: EHLO client.example.org`
    case ehlo(MailHost)
    /// `HELO` — hello without extensions (RFC 5321 §4.1.1.1). `C: HELO client.example.org`
    case helo(MailHost)
    /// `LHLO` — LMTP's hello (RFC 2033 §4.1). `C: LHLO mx.example.org`
    case lhlo(MailHost)
    /// `MAIL FROM` — starts a transaction (RFC 5321 §4.1.1.2).
    /// `C: MAIL FROM:<a@example.org> SIZE=1000`
    case mail(ReversePath, MailParameters)
    /// `RCPT TO` — adds a recipient (RFC 5321 §4.1.1.3). `C: RCPT TO:<b@example.net>`
    case rcpt(ForwardPath, RcptParameters)
    /// `DATA` — message follows, dot-stuffed, ending `CRLF.CRLF` (RFC 5321 §4.1.1.4).
    case data
    /// `BDAT` — a chunk of exactly `size` octets follows (RFC 3030 §2). `C: BDAT 1000 LAST`
    case bdat(size: Int, last: Bool)
    /// `RSET` — aborts the current transaction (RFC 5321 §4.1.1.5).
    case rset
    /// `VRFY` — verify a user name (RFC 5321 §4.1.1.6). Answered without revealing anything.
    case vrfy(String)
    /// `EXPN` — expand a mailing list (RFC 5321 §4.1.1.7). Disabled by default.
    case expn(String)
    /// `HELP` (RFC 5321 §4.1.1.8).
    case help(String?)
    /// `NOOP` (RFC 5321 §4.1.1.9); the argument is ignored.
    case noop(String?)
    /// `QUIT` (RFC 5321 §4.1.1.10).
    case quit
    /// `STARTTLS` — upgrade to TLS (RFC 3207 §4).
    case startTLS
    /// `AUTH mechanism [initial-response]` (RFC 4954 §4). The initial response is kept as the
    /// raw base64 text (`=` stands for an empty response) and is redacted from logs.
    case auth(mechanism: String, initialResponse: String?)

    /// The verb as written on the wire.
    public var verb: String {
        switch self {
        case .ehlo: return "EHLO"
        case .helo: return "HELO"
        case .lhlo: return "LHLO"
        case .mail: return "MAIL"
        case .rcpt: return "RCPT"
        case .data: return "DATA"
        case .bdat: return "BDAT"
        case .rset: return "RSET"
        case .vrfy: return "VRFY"
        case .expn: return "EXPN"
        case .help: return "HELP"
        case .noop: return "NOOP"
        case .quit: return "QUIT"
        case .startTLS: return "STARTTLS"
        case .auth: return "AUTH"
        }
    }
}

// MARK: - Encoding
extension Command {
    /// The command line without CRLF, as a client sends it.
    public var wireLine: String {
        switch self {
        case .ehlo(let host): return "EHLO \(host)"
        case .helo(let host): return "HELO \(host)"
        case .lhlo(let host): return "LHLO \(host)"
        case .mail(let path, let parameters):
            return (["MAIL FROM:\(path)"] + parameters.wireParameters).joined(separator: " ")
        case .rcpt(let path, let parameters):
            return (["RCPT TO:\(path)"] + parameters.wireParameters).joined(separator: " ")
        case .data: return "DATA"
        case .bdat(let size, let last): return last ? "BDAT \(size) LAST" : "BDAT \(size)"
        case .rset: return "RSET"
        case .vrfy(let text): return "VRFY \(text)"
        case .expn(let text): return "EXPN \(text)"
        case .help(let text): return text.map { "HELP \($0)" } ?? "HELP"
        case .noop(let text): return text.map { "NOOP \($0)" } ?? "NOOP"
        case .quit: return "QUIT"
        case .startTLS: return "STARTTLS"
        case .auth(let mechanism, let initial):
            return initial.map { "AUTH \(mechanism) \($0)" } ?? "AUTH \(mechanism)"
        }
    }

    /// The command line safe for logs: AUTH responses are replaced by `***`.
    public var redactedLine: String {
        if case .auth(let mechanism, let initial) = self {
            return initial == nil ? "AUTH \(mechanism)" : "AUTH \(mechanism) ***"
        }
        return wireLine
    }
}
