/// The `_mta-sts.<domain>` TXT record ([RFC 8461 §3.1](https://www.rfc-editor.org/rfc/rfc8461#section-3.1)):
/// `v=STSv1; id=20160831085700Z;` — it says a policy exists and which version, so a sender
/// fetches the policy only when `id` changed.
public struct MTASTSRecord: Sendable, Hashable {
    /// `id`: 1–32 letters and digits.
    public var id: String

    public init(id: String) { self.id = id }

    /// Parses one TXT record; `nil` when it is not a valid STSv1 record (`v=STSv1` first, an
    /// `id` of 1–32 alphanumerics; other fields are extensions and ignored).
    public static func parse(_ text: String) -> MTASTSRecord? {
        let fields = text.split(separator: ";", omittingEmptySubsequences: false).map { String($0).trimmingWSP() }
        guard fields.first == "v=STSv1" else { return nil }
        var id: String?
        for field in fields.dropFirst() where !field.isEmpty {
            guard let equals = field.firstIndex(of: "=") else { return nil }
            let name = field[..<equals], value = field[field.index(after: equals)...]
            if name == "id" {
                guard (1...32).contains(value.count), value.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) }) else { return nil }
                id = String(value)
            }
        }
        return id.map(MTASTSRecord.init)
    }

    /// The record among a name's TXT strings: exactly one must start with `v=STSv1` (§3.1:
    /// several such records → no valid record).
    public static func select(_ texts: [String]) -> MTASTSRecord? {
        let candidates = texts.filter { $0.hasPrefix("v=STSv1") }
        guard candidates.count == 1 else { return nil }
        return parse(candidates[0])
    }
}

/// An MTA-STS policy, the body of `https://mta-sts.<domain>/.well-known/mta-sts.txt`
/// ([RFC 8461 §3.2](https://www.rfc-editor.org/rfc/rfc8461#section-3.2)).
public struct MTASTSPolicy: Sendable, Hashable, Codable {
    public enum Mode: String, Sendable, Hashable, Codable {
        /// Deliver only to matching MX hosts over verified TLS; otherwise defer.
        case enforce
        /// Deliver as usual; report (TLS-RPT) what would have failed.
        case testing
        /// The domain withdrew its policy.
        case none
    }

    public var mode: Mode
    /// `mx` patterns: a host name, or `*.example.net` (one leftmost label).
    public var mx: [String]
    /// `max_age` in seconds (at most 31557600, one year).
    public var maxAge: Int

    public init(mode: Mode, mx: [String], maxAge: Int) {
        self.mode = mode
        self.mx = mx.map { MTASTSPolicy.normalized($0) }
        self.maxAge = maxAge
    }

    /// Why a policy body is refused.
    public struct ParseError: Error, Sendable, Hashable, CustomStringConvertible {
        public var description: String
    }

    /// Parses a policy: `key: value` lines ended by CRLF or LF; `version: STSv1` required,
    /// `mode` one of enforce/testing/none, `max_age` 0–31557600, at least one `mx` unless the
    /// mode is none. Unknown keys are ignored (§3.2).
    public static func parse(_ body: String) throws(ParseError) -> MTASTSPolicy {
        var version: String?, mode: Mode?, maxAge: Int?
        var mx: [String] = []
        for rawLine in body.split(omittingEmptySubsequences: true, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            var line = Substring(rawLine)
            if line.hasSuffix("\r") { line = line.dropLast() }
            if String(line).trimmingWSP().isEmpty { continue }
            guard let colon = line.firstIndex(of: ":") else { throw ParseError(description: "line without ':': \(line.prefix(60))") }
            let key = String(line[..<colon]).trimmingWSP()
            let value = String(line[line.index(after: colon)...]).trimmingWSP()
            switch key {
            case "version": version = value
            case "mode":
                guard let parsed = Mode(rawValue: value) else { throw ParseError(description: "unknown mode '\(value)'") }
                mode = parsed
            case "max_age":
                guard value.count <= 10, let seconds = Int(value), (0...31_557_600).contains(seconds) else {
                    throw ParseError(description: "max_age '\(value)' is not 0–31557600")
                }
                maxAge = seconds
            case "mx":
                guard isPattern(normalized(value)) else { throw ParseError(description: "mx '\(value)' is not a host name or *.domain") }
                mx.append(value)
            default:
                continue   // extensions
            }
        }
        guard version == "STSv1" else { throw ParseError(description: "version is not STSv1") }
        guard let mode else { throw ParseError(description: "no mode") }
        guard let maxAge else { throw ParseError(description: "no max_age") }
        guard !mx.isEmpty || mode == .none else { throw ParseError(description: "no mx") }
        return MTASTSPolicy(mode: mode, mx: mx, maxAge: maxAge)
    }

    /// Whether `host` (an MX host name) is allowed ([§4.1](https://www.rfc-editor.org/rfc/rfc8461#section-4.1)):
    /// equal to a pattern, or one label in front of a `*.` pattern's rest. Case-insensitive.
    public func allows(_ host: String) -> Bool {
        let name = Self.normalized(host)
        return mx.contains { pattern in
            if pattern.hasPrefix("*.") {
                let suffix = pattern.dropFirst(1)   // ".example.net"
                guard name.hasSuffix(suffix) else { return false }
                let label = name.dropLast(suffix.count)
                return !label.isEmpty && !label.contains(".")
            }
            return pattern == name
        }
    }

    static func normalized(_ name: String) -> String { MXDestinationResolver.hostName(name) }

    static func isPattern(_ value: String) -> Bool {
        let name = value.hasPrefix("*.") ? String(value.dropFirst(2)) : value
        guard !name.isEmpty, name.count <= 253 else { return false }
        return name.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { label in
            !label.isEmpty && label.count <= 63 && label.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }
        }
    }
}
