/// What a server announced in its EHLO (or LHLO) reply (RFC 5321 §4.1.1.1).
///
/// ```
/// S: 250-mx.example.org
/// S: 250-PIPELINING
/// S: 250-SIZE 10240000
/// S: 250 AUTH PLAIN LOGIN
/// ```
/// The first line is the server's name; each following line is `keyword *(SP param)`.
/// After STARTTLS the client discards these and asks again (RFC 3207 §4.2).
public struct ServerCapabilities: Hashable, Sendable {
    /// False after a fallback to HELO: no extension may be used.
    public var isExtended: Bool
    /// The name the server gave on the first line of its hello reply.
    public var serverName: String
    /// Every keyword, upper-cased, with its parameters as written.
    public var keywords: [String: [String]]

    /// An empty set (HELO, or before hello).
    public init(serverName: String = "", isExtended: Bool = false) {
        self.isExtended = isExtended
        self.serverName = serverName
        self.keywords = [:]
    }

    /// Parses the lines of a `250` EHLO/LHLO reply. Lines that are not an `esmtp-keyword`
    /// are ignored.
    public init(ehloReply reply: Reply) {
        self.init(serverName: reply.lines.first.map { String($0.split(separator: " ").first ?? "") } ?? "",
                  isExtended: true)
        for line in reply.lines.dropFirst() {
            var words = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            guard !words.isEmpty else { continue }
            var keyword = words.removeFirst().uppercased()
            // Old servers write `AUTH=PLAIN LOGIN` (pre-RFC 4954 syntax).
            if keyword.hasPrefix("AUTH="), keyword.count > 5 {
                words.insert(String(keyword.dropFirst(5)), at: 0)
                keyword = "AUTH"
            }
            guard SMTPGrammar.isESMTPKeyword(keyword.utf8) else { continue }
            keywords[keyword, default: []].append(contentsOf: words)
        }
    }

    /// True when the server announced `keyword` (case-insensitive).
    public func supports(_ keyword: String) -> Bool { keywords[keyword.uppercased()] != nil }

    /// `PIPELINING` (RFC 2920).
    public var pipelining: Bool { supports("PIPELINING") }
    /// `SIZE` (RFC 1870) offered at all.
    public var size: Bool { supports("SIZE") }
    /// The fixed maximum message size from `SIZE n`; nil when absent or 0 (no fixed limit).
    public var maxMessageSize: Int? {
        guard let value = keywords["SIZE"]?.first, let size = Int(value), size > 0 else { return nil }
        return size
    }
    /// `8BITMIME` (RFC 6152).
    public var eightBitMIME: Bool { supports("8BITMIME") }
    /// `SMTPUTF8` (RFC 6531).
    public var smtpUTF8: Bool { supports("SMTPUTF8") }
    /// `CHUNKING` (RFC 3030): BDAT.
    public var chunking: Bool { supports("CHUNKING") }
    /// `BINARYMIME` (RFC 3030 §3).
    public var binaryMIME: Bool { supports("BINARYMIME") }
    /// `DSN` (RFC 3461).
    public var dsn: Bool { supports("DSN") }
    /// `STARTTLS` (RFC 3207).
    public var startTLS: Bool { supports("STARTTLS") }
    /// `ENHANCEDSTATUSCODES` (RFC 2034).
    public var enhancedStatusCodes: Bool { supports("ENHANCEDSTATUSCODES") }
    /// `REQUIRETLS` (RFC 8689); only meaningful after STARTTLS.
    public var requireTLS: Bool { supports("REQUIRETLS") }
    /// SASL mechanisms from `AUTH` (RFC 4954 §3), upper-cased.
    public var authMechanisms: [String] { (keywords["AUTH"] ?? []).map { $0.uppercased() } }
}
