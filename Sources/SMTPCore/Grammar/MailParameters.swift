/// `BODY=` values (RFC 6152 8BITMIME, RFC 3030 BINARYMIME).
public enum BodyType: String, Hashable, Sendable, Codable, CaseIterable {
    case sevenBit = "7BIT"
    case eightBitMIME = "8BITMIME"
    case binaryMIME = "BINARYMIME"
}

/// `RET=` of a DSN request (RFC 3461 §4.3): return the full message or only its headers.
public enum DSNReturn: String, Hashable, Sendable, Codable, CaseIterable {
    case full = "FULL"
    case headers = "HDRS"
}

/// `NOTIFY=` of a DSN request (RFC 3461 §4.1): `NEVER`, or any of SUCCESS, FAILURE, DELAY.
public enum DSNNotify: Hashable, Sendable, Codable {
    case never
    case on(success: Bool, failure: Bool, delay: Bool)

    public var wireValue: String {
        switch self {
        case .never: return "NEVER"
        case .on(let success, let failure, let delay):
            var parts: [String] = []
            if success { parts.append("SUCCESS") }
            if failure { parts.append("FAILURE") }
            if delay { parts.append("DELAY") }
            return parts.joined(separator: ",")
        }
    }
}

/// `ORCPT=addr-type;xtext` (RFC 3461 §4.2): the original recipient, xtext-decoded.
public struct OriginalRecipient: Hashable, Sendable, Codable {
    /// Usually `rfc822` (or `utf-8`, RFC 6533).
    public var addressType: String
    public var address: String

    public init(addressType: String, address: String) {
        self.addressType = addressType
        self.address = address
    }
}

/// The ESMTP parameters of `MAIL FROM` (RFC 5321 §4.1.1.2, `Mail-parameters`).
///
/// ```
/// C: MAIL FROM:<a@example.org> SIZE=1234 BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=QQ314159
/// ```
/// Unknown keywords are a parse error (555 5.5.4); each keyword may appear once.
public struct MailParameters: Hashable, Sendable, Codable {
    /// `SIZE=` declared message size in octets (RFC 1870).
    public var size: Int?
    /// `BODY=` (RFC 6152, RFC 3030).
    public var body: BodyType?
    /// `SMTPUTF8` (RFC 6531 §3.4).
    public var smtpUTF8: Bool
    /// `RET=` (RFC 3461 §4.3).
    public var dsnReturn: DSNReturn?
    /// `ENVID=` xtext-decoded (RFC 3461 §4.4).
    public var envelopeID: String?
    /// `AUTH=` xtext-decoded mailbox, or `<>` (RFC 4954 §5).
    public var auth: String?
    /// `REQUIRETLS` (RFC 8689 §4.1).
    public var requireTLS: Bool

    public init(size: Int? = nil, body: BodyType? = nil, smtpUTF8: Bool = false,
                dsnReturn: DSNReturn? = nil, envelopeID: String? = nil, auth: String? = nil,
                requireTLS: Bool = false) {
        self.size = size
        self.body = body
        self.smtpUTF8 = smtpUTF8
        self.dsnReturn = dsnReturn
        self.envelopeID = envelopeID
        self.auth = auth
        self.requireTLS = requireTLS
    }

    /// The parameters in wire order, each `KEYWORD[=value]` with xtext encoding applied.
    public var wireParameters: [String] {
        var out: [String] = []
        if let size { out.append("SIZE=\(size)") }
        if let body { out.append("BODY=\(body.rawValue)") }
        if smtpUTF8 { out.append("SMTPUTF8") }
        if let dsnReturn { out.append("RET=\(dsnReturn.rawValue)") }
        if let envelopeID { out.append("ENVID=\(XText.encode(envelopeID))") }
        if let auth { out.append("AUTH=\(XText.encode(auth))") }
        if requireTLS { out.append("REQUIRETLS") }
        return out
    }
}

/// The ESMTP parameters of `RCPT TO` (RFC 5321 §4.1.1.3, `Rcpt-parameters`).
///
/// ```
/// C: RCPT TO:<b@example.net> NOTIFY=FAILURE,DELAY ORCPT=rfc822;b@example.net
/// ```
public struct RcptParameters: Hashable, Sendable, Codable {
    /// `NOTIFY=` (RFC 3461 §4.1).
    public var notify: DSNNotify?
    /// `ORCPT=` (RFC 3461 §4.2).
    public var originalRecipient: OriginalRecipient?

    public init(notify: DSNNotify? = nil, originalRecipient: OriginalRecipient? = nil) {
        self.notify = notify
        self.originalRecipient = originalRecipient
    }

    public var wireParameters: [String] {
        var out: [String] = []
        // An empty `.on(false, false, false)` has no wire form; it means "no NOTIFY" (the default).
        if let notify, notify != .on(success: false, failure: false, delay: false) {
            out.append("NOTIFY=\(notify.wireValue)")
        }
        if let orcpt = originalRecipient {
            out.append("ORCPT=\(orcpt.addressType);\(XText.encode(orcpt.address))")
        }
        return out
    }
}
