#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Crypto
import SMTPCore

/// Makes `DKIM-Signature` fields ([RFC 6376 §5](https://www.rfc-editor.org/rfc/rfc6376#section-5))
/// for one domain and selector.
///
/// Defaults: `c=relaxed/relaxed`, `t=` now, no `x=`, no `l=` (never: it lets anyone append to a
/// signed body, §8.2), and the ``defaultHeaders`` over-signed — each name listed once more than
/// it occurs, so a field added later breaks the signature (§8.15, "h=from:from:...").
///
/// ```swift
/// let signer = DKIMSigner(domain: "example.com", selector: "mail", key: try DKIMSigningKey(pem: pem))
/// let field = try signer.sign(message: bytes)   // prepend field.wireBytes to the message
/// ```
/// Several signers (an RSA and an Ed25519 key, RFC 8463 §6 dual-signing) each add their own field.
public struct DKIMSigner: Sendable {
    /// `d=`.
    public var domain: String
    /// `s=`.
    public var selector: String
    /// The private key; its type decides `a=`.
    public var key: DKIMSigningKey
    /// `c=` header part ([RFC 6376 §3.4](https://www.rfc-editor.org/rfc/rfc6376#section-3.4)).
    public var headerCanonicalization: Canonicalization = .relaxed
    /// `c=` body part.
    public var bodyCanonicalization: Canonicalization = .relaxed
    /// Field names to sign, in this order.
    public var headers: [String] = DKIMSigner.defaultHeaders
    /// Whether each name in ``headers`` is listed once more than it occurs (also when absent).
    public var overSign = true
    /// `i=`, when it should differ from `@` + ``domain``.
    public var identity: String?
    /// `x=` as seconds after `t=`; `nil` for none.
    public var expiresAfter: Int64?
    /// Seconds since the epoch, for `t=`.
    public var now: @Sendable () -> Int64 = { Int64(time(nil)) }

    /// From first (the one field that must be signed, §5.4), then what a reader sees and what
    /// MIME parsing depends on.
    public static let defaultHeaders = [
        "from", "to", "cc", "subject", "date", "message-id", "reply-to", "sender", "in-reply-to", "references",
        "mime-version", "content-type", "content-transfer-encoding", "list-id", "list-unsubscribe", "list-unsubscribe-post",
    ]

    public init(domain: String, selector: String, key: DKIMSigningKey) {
        self.domain = domain
        self.selector = selector
        self.key = key
    }

    /// Signs a whole message (CRLF or LF line ends) and returns the field to put on top of it.
    public func sign(message: some Collection<UInt8>, limits: MessageLimits = MessageLimits()) throws(DKIMSigningError) -> HeaderField {
        var reader = MessageReader(limits: limits)
        let bytes = Array(message)
        let header: MessageHeader
        let body: ArraySlice<UInt8>
        do {
            body = try reader.feed(bytes[...])
            header = try reader.finish()
        } catch {
            throw DKIMSigningError(error.description)
        }
        var hasher = bodyHasher()
        hasher.update(body)
        return try signature(header: header, bodyHash: hasher.finalize())
    }

    /// A body hasher for this signer's body canonicalisation, to hash a streamed body.
    public func bodyHasher() -> BodyHasher {
        BodyHasher(canonicalization: bodyCanonicalization)
    }

    /// The signature field for a header and the body hash from ``bodyHasher()``.
    public func signature(header: MessageHeader, bodyHash: [UInt8]) throws(DKIMSigningError) -> HeaderField {
        guard header.first(named: "from") != nil else {
            throw DKIMSigningError("the message has no From field (RFC 6376 §5.4: From must be signed)")
        }
        guard DKIMSignature.isDomainName(domain), DKIMSignature.isSelector(selector) else {
            throw DKIMSigningError("invalid domain or selector")
        }
        var names: [String] = []
        for name in headers {
            let lower = MessageASCII.lowercased(name)
            let count = header.count(named: lower) + (overSign ? 1 : 0)
            names += Array(repeating: lower, count: count)
        }
        let timestamp = now()
        var fold = HeaderFolder(name: "DKIM-Signature")
        fold.append("v=1;")
        fold.append("a=\(key.algorithm);")
        fold.append("c=\(headerCanonicalization)/\(bodyCanonicalization);")
        fold.append("d=\(domain);")
        fold.append("s=\(selector);")
        if let identity { fold.append("i=\(identity);") }
        fold.append("t=\(timestamp);")
        if let expiresAfter { fold.append("x=\(timestamp + expiresAfter);") }
        for (index, name) in names.enumerated() {
            let piece = (index == 0 ? "h=" : "") + name + (index == names.count - 1 ? ";" : ":")
            fold.append(piece, spaced: index == 0)
        }
        fold.append("bh=\(Base64.encode(bodyHash));")
        fold.breakLine()
        fold.append("b=", spaced: false)

        let unsigned = HeaderField(raw: Array(fold.text.utf8))
        let signature: DKIMSignature
        do {
            signature = try DKIMSignature.parse(HeaderField(raw: Array((fold.text + "AA==").utf8)))
        } catch {
            throw DKIMSigningError("built an unparseable signature: \(error)")
        }
        let digest = DKIMVerifier.headerHash(signature, header: header, emptied: unsigned.raw)
        let value: [UInt8]
        do {
            value = try key.signature(for: digest)
        } catch {
            throw DKIMSigningError(error.description)
        }
        let encoded = Array(Base64.encode(value).utf8)
        var start = 0
        while start < encoded.count {
            let end = min(start + 64, encoded.count)
            fold.append(String(decoding: encoded[start..<end], as: UTF8.self), spaced: false)
            start = end
        }
        return HeaderField(raw: Array(fold.text.utf8))
    }
}

/// Why a message could not be signed.
public struct DKIMSigningError: Error, Hashable, Sendable, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}

/// Builds a folded header field from pieces, breaking lines before 78 characters with CRLF TAB
/// ([RFC 5322 §2.2.3](https://www.rfc-editor.org/rfc/rfc5322#section-2.2.3)). Breaks go only where
/// FWS is allowed: between tags, after `:` in `h=`, and inside base64 (RFC 6376 §3.5).
struct HeaderFolder {
    private(set) var text: String
    private var lineLength: Int
    static let width = 78

    init(name: String) {
        text = name + ":"
        lineLength = text.utf8.count
    }

    /// Starts a new line (before `b=`, so the signature sits in a block of its own).
    mutating func breakLine() {
        text += "\r\n\t"
        lineLength = 1
    }

    /// Appends a piece, after a space when `spaced`, on a new line when it would not fit.
    mutating func append(_ piece: String, spaced: Bool = true) {
        let length = piece.utf8.count
        if lineLength + (spaced ? 1 : 0) + length > Self.width {
            text += "\r\n\t"
            lineLength = 1
        } else if spaced {
            text += " "
            lineLength += 1
        }
        text += piece
        lineLength += length
    }
}
