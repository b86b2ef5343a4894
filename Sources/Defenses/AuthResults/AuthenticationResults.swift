/// An `Authentication-Results` header field ([RFC 8601](https://www.rfc-editor.org/rfc/rfc8601)):
/// which host checked the message (`authserv-id`) and what each method found.
///
/// ```
/// authres-header-field = "Authentication-Results:" authres-payload
/// authres-payload = [CFWS] authserv-id [ CFWS authres-version ] ( no-result / 1*resinfo ) [CFWS] CRLF
/// no-result = [CFWS] ";" [CFWS] "none"
/// resinfo   = [CFWS] ";" methodspec [ CFWS reasonspec ] [ CFWS 1*propspec ]
/// ```
/// (§2.2). Build one from the checks' results and render it with ``field``:
///
/// ```swift
/// var results = AuthenticationResults(authservID: "mx.example.net")
/// results.append(.spf(spfCheck))
/// for verification in dkimResults { results.append(.dkim(verification)) }
/// results.append(.dmarc(dmarcEvaluation))
/// let field = results.field          // "Authentication-Results: mx.example.net;\r\n\tspf=pass ..."
/// ```
///
/// ``parse(_:)`` reads one back (to check our own output, or to look at what an earlier hop
/// said); ``ForgedAuthenticationResults`` removes fields that claim our `authserv-id` (§5).
public struct AuthenticationResults: Hashable, Sendable {
    /// Who did the checks: the host's name, by convention (§2.5). Compared case-insensitively.
    public var authservID: String
    /// `authres-version`; `nil` when absent (which means 1, §2.2).
    public var version: Int?
    /// The method results in order; empty renders as `none` (§2.2 `no-result`).
    public var results: [AuthenticationResult]

    public init(authservID: String, version: Int? = nil, results: [AuthenticationResult] = []) {
        self.authservID = authservID
        self.version = version
        self.results = results
    }

    /// Adds a method result.
    public mutating func append(_ result: AuthenticationResult) {
        results.append(result)
    }

    /// The field value, starting with a space: `authserv-id;` then one `resinfo` per folded line
    /// (CRLF TAB), or `authserv-id; none`.
    public var fieldValue: String {
        var text = " " + HeaderText.tokenOrQuoted(authservID)
        if let version { text += " \(version)" }
        guard !results.isEmpty else { return text + "; none" }
        for result in results { text += ";\r\n\t" + result.text }
        return text
    }

    /// The whole field, ready to prepend to a message.
    public var field: HeaderField { HeaderField(name: "Authentication-Results", value: fieldValue) }

    /// The field on one line, for logs and command output.
    public var singleLine: String {
        "Authentication-Results:" + fieldValue.replacing("\r\n\t", with: " ")
    }
}

/// One `resinfo` of an ``AuthenticationResults`` field: `method=result`, an optional `reason=`,
/// properties and a comment ([RFC 8601 §2.2](https://www.rfc-editor.org/rfc/rfc8601#section-2.2)).
public struct AuthenticationResult: Hashable, Sendable, CustomStringConvertible {
    /// The method (`spf`, `dkim`, `dmarc`, `arc`, `iprev`, `auth`, ...), lower case (§2.7).
    public var method: String
    /// `method-version` after a `/`, when given.
    public var methodVersion: Int?
    /// The result keyword (`pass`, `fail`, `none`, ...), lower case.
    public var result: String
    /// `reason=` text (§2.2 reasonspec).
    public var reason: String?
    /// `ptype.property=value` pairs in order (`smtp.mailfrom`, `header.d`, ...).
    public var properties: [AuthenticationProperty]
    /// A comment placed after the result (text only; parentheses are escaped when rendered).
    public var comment: String?

    public init(
        method: String, result: String, methodVersion: Int? = nil, reason: String? = nil, comment: String? = nil,
        properties: [AuthenticationProperty] = []
    ) {
        self.method = MessageASCII.lowercased(method)
        self.methodVersion = methodVersion
        self.result = MessageASCII.lowercased(result)
        self.reason = reason
        self.properties = properties
        self.comment = comment
    }

    /// The value of the first property `ptype.name` (case-insensitive), if present.
    public subscript(ptype: String, name: String) -> String? {
        let type = MessageASCII.lowercased(ptype)
        let property = MessageASCII.lowercased(name)
        return properties.first { $0.ptype == type && $0.name == property }?.value
    }

    /// `dkim=pass (comment) reason="..." header.d=example.com header.s=sel`.
    public var text: String {
        var text = method + (methodVersion.map { "/\($0)" } ?? "") + "=" + result
        if let comment { text += " (" + HeaderText.comment(comment) + ")" }
        if let reason { text += " reason=" + HeaderText.tokenOrQuoted(reason) }
        for property in properties { text += " " + property.text }
        return text
    }

    public var description: String { text }
}

/// A `propspec`: `ptype.property=pvalue` ([RFC 8601 §2.3](https://www.rfc-editor.org/rfc/rfc8601#section-2.3)),
/// e.g. `smtp.mailfrom=example.org`, `header.d=example.com`, `policy.dmarc=reject`.
public struct AuthenticationProperty: Hashable, Sendable, CustomStringConvertible {
    /// `smtp`, `header`, `body` or `policy` (§2.3), lower case.
    public var ptype: String
    /// The property name, lower case.
    public var name: String
    /// The value as it appears after unquoting.
    public var value: String

    public init(_ ptype: String, _ name: String, _ value: String) {
        self.ptype = MessageASCII.lowercased(ptype)
        self.name = MessageASCII.lowercased(name)
        self.value = value
    }

    /// `ptype.name=value`; the value is quoted unless it is a token, an addr-spec or a domain.
    public var text: String { "\(ptype).\(name)=\(AuthenticationProperty.pvalue(value))" }

    public var description: String { text }

    /// `pvalue` (§2.2): `value / [ [ local-part ] "@" ] domain-name`; what is neither is quoted.
    static func pvalue(_ value: String) -> String {
        let allowed = Array("!#$%&'*+-/=?^_`{|}~.@".utf8)
        let plain = !value.isEmpty && value.utf8.allSatisfy { byte in
            (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte) || allowed.contains(byte)
        }
        // A token may not hold "/" or "=" or "@" in RFC 2045 terms, but base64 `header.b` values
        // and addresses do; §2.2's pvalue allows `@`, and receivers accept the rest unquoted.
        return plain ? value : HeaderText.quoted(value)
    }
}
