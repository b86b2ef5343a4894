#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Crypto
import _CryptoExtras

/// A verification key built from a ``DKIMKeyRecord``'s `p=`.
///
/// RSA keys are accepted as SubjectPublicKeyInfo (what RFC 6376 §3.6.1 specifies) and as a bare
/// PKCS#1 `RSAPublicKey` (what some signers publish; dkimpy accepts both). Keys below the
/// configured minimum, never below 1024 bits, are refused
/// ([RFC 8301 §3.2](https://www.rfc-editor.org/rfc/rfc8301#section-3.2)). Ed25519 keys are the
/// 32 raw bytes ([RFC 8463 §4.2](https://www.rfc-editor.org/rfc/rfc8463#section-4.2)).
enum DKIMPublicKey: Sendable {
    case rsa(_RSA.Signing.PublicKey, bits: Int)
    case ed25519(Curve25519.Signing.PublicKey)

    init(_ record: DKIMKeyRecord, minimumRSABits: Int) throws(DKIMKeyRecordError) {
        switch record.keyType {
        case .rsa:
            guard let bits = RSAKeyDER.modulusBits(record.publicKey) else {
                throw DKIMKeyRecordError("p= is not an RSA public key")
            }
            let minimum = max(minimumRSABits, 1024)
            guard bits >= minimum else {
                throw DKIMKeyRecordError("RSA key of \(bits) bits is below the \(minimum)-bit minimum (RFC 8301 §3.2)")
            }
            do {
                self = .rsa(try _RSA.Signing.PublicKey(unsafeDERRepresentation: record.publicKey), bits: bits)
            } catch {
                throw DKIMKeyRecordError("p= is not a usable RSA public key")
            }
        case .ed25519:
            guard record.publicKey.count == 32,
                let key = try? Curve25519.Signing.PublicKey(rawRepresentation: record.publicKey)
            else {
                throw DKIMKeyRecordError("p= is not a 32-byte Ed25519 public key")
            }
            self = .ed25519(key)
        }
    }

    /// Checks a signature over the SHA-256 digest of the signed data (RFC 6376 §3.7 step 2;
    /// RFC 8463 §3: Ed25519 signs the digest, not the data).
    func isValid(signature: [UInt8], digest: SHA256Digest) -> Bool {
        switch self {
        case .rsa(let key, _):
            return key.isValidSignature(_RSA.Signing.RSASignature(rawRepresentation: signature), for: digest, padding: .insecurePKCS1v1_5)
        case .ed25519(let key):
            return key.isValidSignature(signature, for: Array(digest))
        }
    }
}

/// Just enough DER to size an RSA key before handing it to BoringSSL
/// ([RFC 8017 A.1.1](https://www.rfc-editor.org/rfc/rfc8017#appendix-A.1.1),
/// [RFC 5280 §4.1](https://www.rfc-editor.org/rfc/rfc5280#section-4.1) SubjectPublicKeyInfo).
enum RSAKeyDER {
    /// The modulus size in bits of an SPKI or PKCS#1 RSA public key; `nil` if it is neither.
    static func modulusBits(_ der: [UInt8]) -> Int? {
        var reader = Reader(bytes: der[...])
        guard var outer = reader.element(tag: 0x30) else { return nil }
        if outer.peek == 0x30 {
            // SubjectPublicKeyInfo: AlgorithmIdentifier, then BIT STRING holding RSAPublicKey.
            guard outer.element(tag: 0x30) != nil, var bits = outer.element(tag: 0x03), bits.byte() == 0 else { return nil }
            guard var inner = bits.element(tag: 0x30) else { return nil }
            return inner.integerBits()
        }
        return outer.integerBits()
    }

    struct Reader {
        var bytes: ArraySlice<UInt8>

        var peek: UInt8? { bytes.first }

        mutating func byte() -> UInt8? { bytes.popFirst() }

        /// Reads one TLV of the given tag and returns a reader over its content.
        mutating func element(tag: UInt8) -> Reader? {
            guard byte() == tag, let first = byte() else { return nil }
            var length = Int(first)
            if first & 0x80 != 0 {
                let count = Int(first & 0x7F)
                guard count >= 1, count <= 4 else { return nil }
                length = 0
                for _ in 0..<count {
                    guard let next = byte() else { return nil }
                    length = length << 8 | Int(next)
                }
            }
            guard length <= bytes.count else { return nil }
            let content = bytes.prefix(length)
            bytes = bytes.dropFirst(length)
            return Reader(bytes: content)
        }

        /// Reads an INTEGER and returns its size in bits (leading zero octets ignored).
        mutating func integerBits() -> Int? {
            guard var integer = element(tag: 0x02) else { return nil }
            while integer.peek == 0 { _ = integer.byte() }
            guard let top = integer.peek else { return nil }
            return (integer.bytes.count - 1) * 8 + (8 - top.leadingZeroBitCount)
        }
    }
}
