import SMTPCore

/// A parsed `ARC-Message-Signature` ([RFC 8617 §4.1.2](https://www.rfc-editor.org/rfc/rfc8617#section-4.1.2)):
/// a DKIM signature without `v=`, whose `i=` is the instance number.
public struct ARCMessageSignature: Hashable, Sendable {
    public var instance: Int
    /// The signature as DKIM sees it (``DKIMSignature/identity`` is `nil`).
    public var signature: DKIMSignature

    public static func parse(_ field: HeaderField) throws(ARCSignatureError) -> ARCMessageSignature {
        guard let colon = field.colonIndex else { throw ARCSignatureError("not a header field") }
        let tags: DKIMTagList
        do {
            tags = try DKIMTagList.parse(field.raw[(colon + 1)...], offset: colon + 1)
        } catch {
            throw ARCSignatureError("ARC-Message-Signature: \(error)")
        }
        func required(_ name: String) throws(ARCSignatureError) -> String {
            guard let value = tags[name] else { throw ARCSignatureError("ARC-Message-Signature without \(name)=") }
            return value
        }
        guard let instance = ARCChain.instanceNumber(try required("i")) else { throw ARCSignatureError("ARC-Message-Signature with a bad i=") }
        let algorithmText = MessageASCII.lowercased(try required("a"))
        guard let algorithm = DKIMAlgorithm(rawValue: algorithmText) else {
            throw ARCSignatureError("ARC-Message-Signature with unsupported a=\(algorithmText)")
        }
        guard let b = Base64.decode(DKIMTagList.removingFWS(try required("b"))), !b.isEmpty,
            let bh = Base64.decode(DKIMTagList.removingFWS(try required("bh"))), !bh.isEmpty
        else { throw ARCSignatureError("ARC-Message-Signature b= or bh= is not valid base64") }
        var headerCanonicalization = Canonicalization.simple
        var bodyCanonicalization = Canonicalization.simple
        if let c = tags["c"] {
            let parts = c.split(separator: "/", omittingEmptySubsequences: false).map { MessageASCII.lowercased($0) }
            guard parts.count <= 2, let header = Canonicalization(rawValue: parts[0]) else { throw ARCSignatureError("unknown c=\(c)") }
            headerCanonicalization = header
            if parts.count == 2 {
                guard let body = Canonicalization(rawValue: parts[1]) else { throw ARCSignatureError("unknown c=\(c)") }
                bodyCanonicalization = body
            }
        }
        let domain = try required("d")
        let selector = try required("s")
        guard DKIMSignature.isDomainName(domain), DKIMSignature.isSelector(selector) else {
            throw ARCSignatureError("ARC-Message-Signature with a bad d= or s=")
        }
        let signedHeaders = DKIMTagList.colonList(try required("h"))
        guard signedHeaders.allSatisfy(DKIMSignature.isFieldName) else { throw ARCSignatureError("ARC-Message-Signature with a bad h=") }
        // §4.1.2: the AMS "MUST NOT" sign ARC-Seal fields.
        guard !signedHeaders.contains(where: { MessageASCII.lowercased($0) == "arc-seal" }) else {
            throw ARCSignatureError("ARC-Message-Signature signs ARC-Seal (RFC 8617 §4.1.2)")
        }
        var bodyLength: UInt64?
        if let l = tags["l"] {
            guard l.utf8.count <= 20, let value = UInt64(l) else { throw ARCSignatureError("ARC-Message-Signature with a bad l=") }
            bodyLength = value
        }
        var timestamp: Int64?
        if let t = tags["t"] {
            guard t.utf8.count <= 12, let value = Int64(t), value >= 0 else { throw ARCSignatureError("ARC-Message-Signature with a bad t=") }
            timestamp = value
        }
        let signature = DKIMSignature(
            algorithm: algorithm, signature: b, bodyHash: bh, headerCanonicalization: headerCanonicalization,
            bodyCanonicalization: bodyCanonicalization, domain: MessageASCII.lowercased(domain), signedHeaders: signedHeaders,
            identity: nil, bodyLength: bodyLength, selector: MessageASCII.lowercased(selector), timestamp: timestamp,
            expiration: nil, tags: tags, field: field)
        return ARCMessageSignature(instance: instance, signature: signature)
    }
}
