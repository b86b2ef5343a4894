/// The RFC5322.From domain DMARC evaluates
/// ([RFC 7489 §6.6.1](https://www.rfc-editor.org/rfc/rfc7489#section-6.6.1)).
///
/// Rules here:
/// - exactly one `From` field; none or several is an error (§6.6.1: such messages "are typically
///   rejected");
/// - its mailbox-list ([RFC 5322 §3.6.2](https://www.rfc-editor.org/rfc/rfc5322#section-3.6.2))
///   may hold several addresses only if they all have the same domain (then that domain is
///   evaluated); different domains are an error (§6.6.1: "multiple domain names to be
///   evaluated ... typically rejected");
/// - an address without a domain, or a group syntax with no address, is an error.
///
/// The caller (``DMARCVerifier``) turns an error into `permerror` with the reason; a role's policy
/// decides whether that rejects.
public enum DMARCFromDomain {
    /// Most addresses read from one field (bounded work on hostile input).
    public static let maxAddresses = 64

    /// The lower-cased domain of the single author, or why there is none.
    public static func extract(from header: MessageHeader) -> Result<String, DMARCFromError> {
        let fields = header.fields(named: "From")
        guard !fields.isEmpty else { return .failure(DMARCFromError("no From field")) }
        guard fields.count == 1 else { return .failure(DMARCFromError("\(fields.count) From fields")) }
        return domain(inFieldValue: Array(fields[0].rawValue))
    }

    /// The domain of a From field value (bytes after the colon).
    public static func domain(inFieldValue value: [UInt8]) -> Result<String, DMARCFromError> {
        let addresses: [[UInt8]]
        switch AddressListScanner.addresses(value, limit: maxAddresses) {
        case .failure(let error): return .failure(error)
        case .success(let found): addresses = found
        }
        guard !addresses.isEmpty else { return .failure(DMARCFromError("no address in From")) }
        var domains: [String] = []
        for address in addresses {
            guard let at = address.lastIndex(of: UInt8(ascii: "@")) else {
                return .failure(DMARCFromError("From address without a domain"))
            }
            var domain = MessageASCII.lowercased(String(decoding: address[(at + 1)...], as: UTF8.self)).trimmingWSP()
            if domain.hasSuffix(".") { domain.removeLast() }
            guard !domain.isEmpty, !domain.hasPrefix("["), PublicSuffixList.labels(domain) != nil else {
                return .failure(DMARCFromError("From address with an unusable domain"))
            }
            if !domains.contains(domain) { domains.append(domain) }
        }
        guard domains.count == 1 else {
            return .failure(DMARCFromError("From names \(domains.count) domains (\(domains.joined(separator: ", ")))"))
        }
        return .success(domains[0])
    }
}

/// Why no single From domain could be found.
public struct DMARCFromError: Error, Hashable, Sendable, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}

/// Splits an RFC 5322 address list into addr-specs: comments dropped (nested), quoted strings
/// kept whole, `<...>` taken when present, group names (`name:` ... `;`) skipped.
enum AddressListScanner {
    static func addresses(_ bytes: [UInt8], limit: Int) -> Result<[[UInt8]], DMARCFromError> {
        var result: [[UInt8]] = []
        var current: [UInt8] = []       // the mailbox text without comments
        var angle: [UInt8]?             // the content of <...>, once seen
        var inAngle = false
        var index = 0
        func finish() -> Bool {
            let address = (angle ?? current).filter { !MessageASCII.isWSP($0) && $0 != MessageASCII.cr && $0 != MessageASCII.lf }
            if !address.isEmpty { result.append(address) }
            current = []
            angle = nil
            return result.count <= limit
        }
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "("):
                var depth = 0
                while index < bytes.count {
                    if bytes[index] == UInt8(ascii: "\\") { index += 2; continue }
                    if bytes[index] == UInt8(ascii: "(") { depth += 1 }
                    if bytes[index] == UInt8(ascii: ")") { depth -= 1; if depth == 0 { break } }
                    index += 1
                }
                guard depth == 0 else { return .failure(DMARCFromError("unterminated comment in From")) }
                current.append(MessageASCII.sp)
            case UInt8(ascii: "\""):
                var quoted: [UInt8] = [byte]
                index += 1
                while index < bytes.count, bytes[index] != UInt8(ascii: "\"") {
                    if bytes[index] == UInt8(ascii: "\\"), index + 1 < bytes.count { quoted.append(bytes[index]); index += 1 }
                    quoted.append(bytes[index])
                    index += 1
                }
                guard index < bytes.count else { return .failure(DMARCFromError("unterminated quoted-string in From")) }
                quoted.append(byte)
                if inAngle { angle?.append(contentsOf: quoted) } else { current.append(contentsOf: quoted) }
            case UInt8(ascii: "<") where !inAngle:
                inAngle = true
                angle = []
            case UInt8(ascii: ">") where inAngle:
                inAngle = false
            case UInt8(ascii: ":") where !inAngle:
                current = []  // a group's display name ends here
            case UInt8(ascii: ","), UInt8(ascii: ";"):
                if inAngle { angle?.append(byte); break }
                guard finish() else { return .failure(DMARCFromError("more than \(limit) addresses in From")) }
            default:
                if inAngle { angle?.append(byte) } else { current.append(byte) }
            }
            index += 1
        }
        guard !inAngle else { return .failure(DMARCFromError("unterminated <address> in From")) }
        guard finish() else { return .failure(DMARCFromError("more than \(limit) addresses in From")) }
        return .success(result)
    }

}
