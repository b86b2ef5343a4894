import SMTPCore

/// A parsed `DKIM-Signature` header field ([RFC 6376 §3.5](https://www.rfc-editor.org/rfc/rfc6376#section-3.5)).
///
/// Parsing is strict: a missing required tag, a repeated tag, a bad value, `rsa-sha1`, an `h=`
/// without From, or an `i=` outside `d=` is a ``DKIMSignatureError`` whose text says which,
/// and verification reports it as ``DKIMResult/permerror``.
public struct DKIMSignature: Hashable, Sendable {
    /// `a=`.
    public var algorithm: DKIMAlgorithm
    /// `b=`, decoded.
    public var signature: [UInt8]
    /// `bh=`, decoded.
    public var bodyHash: [UInt8]
    /// `c=` header part; `simple` when absent.
    public var headerCanonicalization: Canonicalization
    /// `c=` body part; `simple` when absent or when `c=` names only the header algorithm.
    public var bodyCanonicalization: Canonicalization
    /// `d=`, the signing domain (lower-cased).
    public var domain: String
    /// `h=`, the signed field names in order, as written.
    public var signedHeaders: [String]
    /// `i=` as written; `nil` when absent (then `@` + ``domain``).
    public var identity: String?
    /// `l=`, canonical body octets covered; `nil` for the whole body.
    public var bodyLength: UInt64?
    /// `s=`, the selector (lower-cased).
    public var selector: String
    /// `t=`, seconds since the epoch.
    public var timestamp: Int64?
    /// `x=`, seconds since the epoch.
    public var expiration: Int64?
    /// The whole tag list, for the `b=` span and unknown tags.
    public var tags: DKIMTagList
    /// The field this was parsed from.
    public var field: HeaderField

    /// The domain part of ``identity`` (or ``domain``), lower-cased.
    public var identityDomain: String {
        guard let identity, let at = identity.lastIndex(of: "@") else { return domain }
        return MessageASCII.lowercased(identity[identity.index(after: at)...])
    }

    /// Where the public key lives: `<selector>._domainkey.<domain>` (§3.6.2.1).
    public var keyName: String { "\(selector)._domainkey.\(domain)" }

    /// Parses a `DKIM-Signature` field.
    public static func parse(_ field: HeaderField) throws(DKIMSignatureError) -> DKIMSignature {
        guard let colon = field.colonIndex else { throw DKIMSignatureError("not a header field") }
        let tags: DKIMTagList
        do {
            tags = try DKIMTagList.parse(field.raw[(colon + 1)...], offset: colon + 1)
        } catch {
            throw DKIMSignatureError("malformed tag list: \(error)")
        }
        func required(_ name: String) throws(DKIMSignatureError) -> String {
            guard let value = tags[name] else { throw DKIMSignatureError("missing required tag \(name)=") }
            return value
        }
        // §3.5 v=: "MUST have the value 1"; unknown versions are not ours to verify.
        guard try required("v") == "1" else { throw DKIMSignatureError("unsupported version v=\(tags["v"] ?? "")") }

        let algorithmText = MessageASCII.lowercased(try required("a"))
        guard let algorithm = DKIMAlgorithm(rawValue: algorithmText) else {
            if algorithmText == "rsa-sha1" {
                throw DKIMSignatureError("rsa-sha1 is not accepted (RFC 8301 §3.1)")
            }
            throw DKIMSignatureError("unsupported algorithm a=\(algorithmText)")
        }
        guard let signature = Base64.decode(DKIMTagList.removingFWS(try required("b"))), !signature.isEmpty else {
            throw DKIMSignatureError("b= is not valid base64")
        }
        guard let bodyHash = Base64.decode(DKIMTagList.removingFWS(try required("bh"))), !bodyHash.isEmpty else {
            throw DKIMSignatureError("bh= is not valid base64")
        }

        var headerCanonicalization = Canonicalization.simple
        var bodyCanonicalization = Canonicalization.simple
        if let c = tags["c"] {
            let parts = c.split(separator: "/", omittingEmptySubsequences: false).map { MessageASCII.lowercased($0) }
            guard parts.count <= 2, let header = Canonicalization(rawValue: parts[0]) else {
                throw DKIMSignatureError("unknown canonicalization c=\(c)")
            }
            headerCanonicalization = header
            if parts.count == 2 {
                guard let body = Canonicalization(rawValue: parts[1]) else { throw DKIMSignatureError("unknown canonicalization c=\(c)") }
                bodyCanonicalization = body
            }
        }

        let domainText = try required("d")
        guard DKIMSignature.isDomainName(domainText) else { throw DKIMSignatureError("invalid domain d=\(domainText)") }
        let domain = MessageASCII.lowercased(domainText)

        let selectorText = try required("s")
        guard DKIMSignature.isSelector(selectorText) else { throw DKIMSignatureError("invalid selector s=\(selectorText)") }

        let headerList = try required("h")
        let signedHeaders = DKIMTagList.colonList(headerList)
        guard signedHeaders.allSatisfy(DKIMSignature.isFieldName) else { throw DKIMSignatureError("invalid field name list h=\(headerList)") }
        // §6.1.1: "If the h= tag does not include the From header field, the Verifier MUST ignore
        // the DKIM-Signature header field and return PERMFAIL (From field not signed)."
        guard signedHeaders.contains(where: { MessageASCII.equalsIgnoringCase($0, "from") }) else {
            throw DKIMSignatureError("From field not signed")
        }

        var result = DKIMSignature(
            algorithm: algorithm, signature: signature, bodyHash: bodyHash,
            headerCanonicalization: headerCanonicalization, bodyCanonicalization: bodyCanonicalization,
            domain: domain, signedHeaders: signedHeaders, identity: nil, bodyLength: nil, selector: MessageASCII.lowercased(selectorText),
            timestamp: nil, expiration: nil, tags: tags, field: field
        )

        if let identity = tags["i"] {
            guard let at = identity.lastIndex(of: "@"), isDomainName(String(identity[identity.index(after: at)...])) else {
                throw DKIMSignatureError("invalid identity i=\(identity)")
            }
            result.identity = identity
            // §6.1.1: the i= domain must be d= or a subdomain of it ("domain mismatch").
            let identityDomain = result.identityDomain
            guard identityDomain == domain || identityDomain.hasSuffix("." + domain) else {
                throw DKIMSignatureError("i= domain \(identityDomain) is not d=\(domain) or below it")
            }
        }
        if let length = tags["l"] {
            guard length.utf8.count <= 76, !length.isEmpty, length.utf8.allSatisfy({ (0x30...0x39).contains($0) }) else {
                throw DKIMSignatureError("invalid body length l=\(length)")
            }
            // Up to 76 digits are allowed (§3.5); anything past UInt64 is longer than any body.
            result.bodyLength = UInt64(length) ?? UInt64.max
        }
        if let methods = tags["q"] {
            // §3.5 q=: a colon-separated list; dns/txt is the only method defined.
            let list = DKIMTagList.removingFWS(methods).split(separator: ":").map { MessageASCII.lowercased($0) }
            guard list.contains(where: { $0 == "dns/txt" || $0 == "dns" }) else {
                throw DKIMSignatureError("no supported query method in q=\(methods)")
            }
        }
        result.timestamp = try timeTag("t", tags)
        result.expiration = try timeTag("x", tags)
        if let timestamp = result.timestamp, let expiration = result.expiration, expiration < timestamp {
            // §3.5 x=: "the value of the x= tag MUST be greater than the value of the t= tag".
            throw DKIMSignatureError("x= is before t=")
        }
        return result
    }

    private static func timeTag(_ name: String, _ tags: DKIMTagList) throws(DKIMSignatureError) -> Int64? {
        guard let text = tags[name] else { return nil }
        guard !text.isEmpty, text.utf8.count <= 12, text.utf8.allSatisfy({ (0x30...0x39).contains($0) }), let value = Int64(text) else {
            throw DKIMSignatureError("invalid time \(name)=\(text)")
        }
        return value
    }

    /// `domain-name` of §3.5 (RFC 5321 `Domain`): dot-separated labels of letters, digits and
    /// hyphens, not starting or ending with a hyphen; non-ASCII bytes (U-labels) allowed
    /// ([RFC 8616 §4](https://www.rfc-editor.org/rfc/rfc8616#section-4)). A trailing dot is not.
    static func isDomainName(_ text: String) -> Bool {
        let labels = text.utf8.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard text.utf8.count <= 253, !labels.isEmpty else { return false }
        return labels.allSatisfy { label in
            guard !label.isEmpty, label.count <= 63, label.first != UInt8(ascii: "-"), label.last != UInt8(ascii: "-") else { return false }
            return label.allSatisfy { isLetterOrDigit($0) || $0 == UInt8(ascii: "-") || $0 >= 0x80 }
        }
    }

    /// A selector: `sub-domain *("." sub-domain)` (§3.1), with `_` tolerated as real selectors use it.
    static func isSelector(_ text: String) -> Bool {
        let labels = text.utf8.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard text.utf8.count <= 253, !labels.isEmpty else { return false }
        return labels.allSatisfy { label in
            !label.isEmpty && label.count <= 63
                && label.allSatisfy { isLetterOrDigit($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") || $0 >= 0x80 }
        }
    }

    /// `field-name` ([RFC 5322 §3.6.8](https://www.rfc-editor.org/rfc/rfc5322#section-3.6.8)):
    /// printable ASCII except colon.
    static func isFieldName(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.allSatisfy { $0 >= 0x21 && $0 <= 0x7E && $0 != UInt8(ascii: ":") }
    }

    private static func isLetterOrDigit(_ byte: UInt8) -> Bool {
        (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
    }
}

/// Why a `DKIM-Signature` field cannot be used (RFC 6376 §6.1.1 "PERMFAIL" reasons).
public struct DKIMSignatureError: Error, Hashable, Sendable, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}
