import SMTPCore

/// A parsed `ARC-Seal` ([RFC 8617 §4.1.3](https://www.rfc-editor.org/rfc/rfc8617#section-4.1.3)):
/// `i`, `cv`, `a`, `d`, `s`, `b` required, `t` optional, `h` forbidden.
public struct ARCSeal: Hashable, Sendable {
    public var instance: Int
    public var chainValidation: ARCChainStatus
    public var algorithm: DKIMAlgorithm
    public var domain: String
    public var selector: String
    public var timestamp: Int64?
    public var signature: [UInt8]
    public var tags: DKIMTagList
    public var field: HeaderField

    /// Where the public key lives: `<s>._domainkey.<d>` as for DKIM (§4.1.3).
    public var keyName: String { "\(selector)._domainkey.\(domain)" }

    public static func parse(_ field: HeaderField) throws(ARCSignatureError) -> ARCSeal {
        guard let colon = field.colonIndex else { throw ARCSignatureError("not a header field") }
        let tags: DKIMTagList
        do {
            tags = try DKIMTagList.parse(field.raw[(colon + 1)...], offset: colon + 1)
        } catch {
            throw ARCSignatureError("ARC-Seal: \(error)")
        }
        func required(_ name: String) throws(ARCSignatureError) -> String {
            guard let value = tags[name] else { throw ARCSignatureError("ARC-Seal without \(name)=") }
            return value
        }
        guard tags["h"] == nil else { throw ARCSignatureError("ARC-Seal with h= (RFC 8617 §4.1.3)") }
        guard let instance = ARCChain.instanceNumber(try required("i")) else { throw ARCSignatureError("ARC-Seal with a bad i=") }
        guard let cv = ARCChainStatus(rawValue: MessageASCII.lowercased(try required("cv"))) else {
            throw ARCSignatureError("ARC-Seal with a bad cv=")
        }
        let algorithmText = MessageASCII.lowercased(try required("a"))
        guard let algorithm = DKIMAlgorithm(rawValue: algorithmText) else { throw ARCSignatureError("ARC-Seal with unsupported a=\(algorithmText)") }
        let domain = try required("d")
        let selector = try required("s")
        guard DKIMSignature.isDomainName(domain), DKIMSignature.isSelector(selector) else { throw ARCSignatureError("ARC-Seal with a bad d= or s=") }
        guard let signature = Base64.decode(DKIMTagList.removingFWS(try required("b"))), !signature.isEmpty else {
            throw ARCSignatureError("ARC-Seal b= is not valid base64")
        }
        var timestamp: Int64?
        if let t = tags["t"] {
            guard t.utf8.count <= 12, let value = Int64(t), value >= 0 else { throw ARCSignatureError("ARC-Seal with a bad t=") }
            timestamp = value
        }
        return ARCSeal(
            instance: instance, chainValidation: cv, algorithm: algorithm, domain: MessageASCII.lowercased(domain),
            selector: MessageASCII.lowercased(selector), timestamp: timestamp, signature: signature, tags: tags, field: field)
    }
}

/// Why an ARC-Seal or ARC-Message-Signature field cannot be used.
public struct ARCSignatureError: Error, Hashable, Sendable, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}
