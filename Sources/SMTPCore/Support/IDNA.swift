import CIDN2

/// Internationalised domain names: U-labels ↔ A-labels through libidn2
/// (IDNA2008, RFC 5890–5893, with Unicode UTS #46 mapping).
///
/// Used where a domain leaves the SMTPUTF8 world: DNS look-ups, and relaying to a server that
/// did not announce SMTPUTF8 (RFC 6531 §3.2).
public enum IDNA {
    /// Converts a domain to A-labels (`bücher.example` → `xn--bcher-kva.example`).
    ///
    /// UTS #46 *non-transitional* processing (`IDN2_NONTRANSITIONAL`), which IDNA2008 and
    /// today's browsers and registries use: `faß.de` becomes `xn--fa-hia.de`, not `fass.de`.
    /// The mapping lower-cases, so ASCII input comes back lower-cased; A-labels in the input are
    /// checked to decode. Not STD3 rules: `_` stays allowed for names such as `_dmarc.example`.
    ///
    /// Also refused: an empty name, an empty label (a single trailing root dot is kept), and
    /// spaces or control characters, which libidn2 alone would let through.
    public static func toASCII(_ domain: String) throws(IDNAError) -> String {
        if let plain = plainASCII(domain) { return plain }
        return try libidn2ToASCII(domain)
    }

    /// ``toASCII(_:)`` always through libidn2 (the fast path's oracle in the tests).
    static func libidn2ToASCII(_ domain: String) throws(IDNAError) -> String {
        try checkShape(domain)
        return try convert(domain, flags: Int32(IDN2_NONTRANSITIONAL.rawValue)) { input, output, flags in
            idn2_to_ascii_8z(input, output, flags)
        }
    }

    /// The A-label form of a name that is plain ASCII already, without libidn2 (every mail domain
    /// of a message passes here, several times): letters, digits, `-` and `_` in labels of 1–63
    /// octets that neither begin nor end with `-` nor have `--` in positions 3–4 (so there is no
    /// A-label to check), at most 253 octets, a root dot kept — lower-cased, as UTS #46 maps it.
    /// `nil` for anything else, which goes to libidn2.
    static func plainASCII(_ domain: String) -> String? {
        var text = domain
        return text.withUTF8 { bytes -> String? in
            let end = bytes.last == UInt8(ascii: ".") ? bytes.count - 1 : bytes.count
            guard end > 0, bytes.count <= 253 else { return nil }
            var hasUpper = false
            var labelStart = 0
            for index in 0...end {
                if index == end || bytes[index] == UInt8(ascii: ".") {
                    let length = index - labelStart
                    guard length >= 1, length <= 63,
                          bytes[labelStart] != UInt8(ascii: "-"), bytes[index - 1] != UInt8(ascii: "-") else { return nil }
                    if length >= 4, bytes[labelStart + 2] == UInt8(ascii: "-"), bytes[labelStart + 3] == UInt8(ascii: "-") { return nil }
                    labelStart = index + 1
                    continue
                }
                switch bytes[index] {
                case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"):
                    break
                case UInt8(ascii: "A")...UInt8(ascii: "Z"):
                    hasUpper = true
                default:
                    return nil
                }
            }
            return hasUpper ? String(decoding: bytes.map(lowercased), as: UTF8.self) : domain
        }
    }

    /// Converts a domain's A-labels to U-labels (`xn--bcher-kva.example` → `bücher.example`),
    /// with `idn2_to_unicode_8z8z`. ASCII letters are lower-cased first, so `XN--BCHER-KVA`
    /// also decodes; labels that are not A-labels come back as they are.
    public static func toUnicode(_ domain: String) throws(IDNAError) -> String {
        try checkShape(domain)
        let lowered = String(decoding: domain.utf8.map(lowercased), as: UTF8.self)
        return try convert(lowered, flags: 0) { input, output, flags in
            idn2_to_unicode_8z8z(input, output, flags)
        }
    }

    private static func lowercased(_ byte: UInt8) -> UInt8 {
        byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte + 0x20 : byte
    }

    private static func checkShape(_ domain: String) throws(IDNAError) {
        // NUL would also cut the C string short.
        if domain.utf8.contains(where: { $0 <= 0x20 || $0 == 0x7F }) {
            throw IDNAError(code: Int32(IDN2_DISALLOWED.rawValue))
        }
        var labels = domain.utf8.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        if labels.count > 1, labels.last?.isEmpty == true { labels.removeLast() }
        if labels.contains(where: \.isEmpty) {
            throw IDNAError(code: Int32(IDN2_ENCODING_ERROR.rawValue), message: "empty domain label")
        }
    }

    private static func convert(
        _ input: String, flags: Int32,
        _ function: (UnsafePointer<CChar>, UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>, Int32) -> Int32
    ) throws(IDNAError) -> String {
        var output: UnsafeMutablePointer<CChar>? = nil
        let code = input.withCString { function($0, &output, flags) }
        defer { idn2_free(output) }
        guard code == Int32(IDN2_OK.rawValue), let output else { throw IDNAError(code: code) }
        return String(cString: output)
    }
}

/// A libidn2 failure: its return code (`idn2_rc`) and message (`idn2_strerror`).
///
/// The shape checks ``IDNA`` makes before calling libidn2 reuse libidn2's codes: a space or
/// control character is `IDN2_DISALLOWED`; an empty name or label is `IDN2_ENCODING_ERROR` with
/// the message "empty domain label".
public struct IDNAError: Error, Hashable, Sendable, CustomStringConvertible {
    public let code: Int32
    public let message: String

    public init(code: Int32) {
        self.init(code: code, message: String(cString: idn2_strerror(code)))
    }

    init(code: Int32, message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "IDNA error \(code): \(message)" }
}

extension MailHost {
    /// The host with a domain name in A-labels (RFC 5890 §2.3.2.1); address literals are
    /// returned unchanged. For relaying to a server without SMTPUTF8 (RFC 6531 §3.2).
    public func asciiDomain() throws(IDNAError) -> MailHost {
        guard case .domain(let name) = self else { return self }
        return .domain(try IDNA.toASCII(name))
    }
}

extension Mailbox {
    /// The mailbox with its domain in A-labels; the local part is left as it is (a UTF-8 local
    /// part has no ASCII form, RFC 6531 §3.2).
    public func withASCIIDomain() throws(IDNAError) -> Mailbox {
        Mailbox(localPart: localPart, host: try host.asciiDomain())
    }
}
