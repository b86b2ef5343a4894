import SMTPCore

/// A DKIM public key record, the TXT record at `<selector>._domainkey.<domain>`
/// ([RFC 6376 §3.6.1](https://www.rfc-editor.org/rfc/rfc6376#section-3.6.1)).
///
/// Unknown tags are ignored (§3.6.1: "Unrecognized tags MUST be ignored"); an unknown key type,
/// a hash list without `sha256`, a service list without `email` or `*`, a `v=` other than
/// `DKIM1` or a missing `p=` make the record unusable (``DKIMKeyRecordError``). An empty `p=`
/// is a revoked key (§3.6.1), kept so the verifier can say so.
public struct DKIMKeyRecord: Hashable, Sendable {
    /// `k=`; `rsa` when absent.
    public var keyType: DKIMKeyType
    /// `p=`, decoded; empty for a revoked key.
    public var publicKey: [UInt8]
    /// `h=`: acceptable hash algorithms, lower-cased; `nil` when absent (all allowed).
    public var hashAlgorithms: [String]?
    /// `s=`: service types, lower-cased; `["*"]` when absent.
    public var serviceTypes: [String]
    /// `t=y`: the domain is testing DKIM; failures must not be treated differently from
    /// unsigned mail (§3.6.1).
    public var testing: Bool
    /// `t=s`: the `i=` domain must be exactly `d=`, not a subdomain (§3.6.1).
    public var strictIdentity: Bool
    /// `n=`, notes for humans.
    public var notes: String?

    /// Whether `p=` is empty: the key has been revoked.
    public var isRevoked: Bool { publicKey.isEmpty }

    /// Parses the text of one TXT record (its strings joined).
    public static func parse(_ text: String) throws(DKIMKeyRecordError) -> DKIMKeyRecord {
        let tags: DKIMTagList
        do {
            tags = try DKIMTagList.parse(Array(text.utf8))
        } catch {
            throw DKIMKeyRecordError("malformed tag list: \(error)")
        }
        // §3.6.1 v=: if present it MUST be the first tag and MUST be DKIM1.
        if let version = tags["v"] {
            guard tags.tags.first?.name == "v" else { throw DKIMKeyRecordError("v= is not the first tag") }
            guard version == "DKIM1" else { throw DKIMKeyRecordError("unsupported version v=\(version)") }
        }
        var keyType = DKIMKeyType.rsa
        if let k = tags["k"] {
            guard let known = DKIMKeyType(rawValue: MessageASCII.lowercased(k)) else {
                throw DKIMKeyRecordError("unknown key type k=\(k)")
            }
            keyType = known
        }
        guard let p = tags["p"] else { throw DKIMKeyRecordError("missing p=") }
        guard let publicKey = Base64.decode(DKIMTagList.removingFWS(p)) else {
            throw DKIMKeyRecordError("p= is not valid base64")
        }
        var record = DKIMKeyRecord(
            keyType: keyType, publicKey: publicKey, hashAlgorithms: nil, serviceTypes: ["*"],
            testing: false, strictIdentity: false, notes: tags["n"]
        )
        if let h = tags["h"] {
            record.hashAlgorithms = colonList(h)
        }
        if let s = tags["s"] {
            record.serviceTypes = colonList(s)
            // §3.6.1 s=: "email" or "*"; other types (tlsrpt, RFC 8460) are not for mail.
            guard record.serviceTypes.contains(where: { $0 == "email" || $0 == "*" }) else {
                throw DKIMKeyRecordError("key is not for email (s=\(s))")
            }
        }
        if let t = tags["t"] {
            // Unknown flags are ignored (§3.6.1).
            let flags = colonList(t)
            record.testing = flags.contains("y")
            record.strictIdentity = flags.contains("s")
        }
        return record
    }

    /// Whether this key may verify a signature made with `algorithm` (§3.6.1 `h=`, `k=`).
    func check(_ algorithm: DKIMAlgorithm) throws(DKIMKeyRecordError) {
        guard keyType == algorithm.keyType else {
            throw DKIMKeyRecordError("key type k=\(keyType) does not match a=\(algorithm)")
        }
        if let hashAlgorithms, !hashAlgorithms.contains("sha256") {
            throw DKIMKeyRecordError("key does not allow sha256 (h=\(hashAlgorithms.joined(separator: ":")))")
        }
    }

    private static func colonList(_ text: String) -> [String] {
        DKIMTagList.removingFWS(text).split(separator: ":").map { MessageASCII.lowercased($0) }
    }

    /// The record text for a key: `v=DKIM1; k=<type>; p=<base64>` (what `mailnode dkim keygen`
    /// prints for the DNS).
    public static func text(keyType: DKIMKeyType, publicKey: [UInt8], testing: Bool = false) -> String {
        "v=DKIM1; k=\(keyType); " + (testing ? "t=y; " : "") + "p=\(Base64.encode(publicKey))"
    }
}

/// Why a key record cannot be used (RFC 6376 §6.1.2 PERMFAIL reasons).
public struct DKIMKeyRecordError: Error, Hashable, Sendable, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}
