#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Crypto
import SMTPCore
import _CryptoExtras

/// A private key for DKIM signing: RSA (`rsa-sha256`, 1024 bits or more; 2048 is the default
/// and what RFC 8301 §3.2 asks signers for) or Ed25519 (`ed25519-sha256`, RFC 8463).
public struct DKIMSigningKey: Sendable {
    enum Backing: Sendable {
        case rsa(_RSA.Signing.PrivateKey)
        case ed25519(Curve25519.Signing.PrivateKey)
    }

    let backing: Backing

    /// Reads a key from text:
    /// - PEM `RSA PRIVATE KEY` (PKCS#1) or `PRIVATE KEY` (PKCS#8, RSA or Ed25519);
    /// - the base64 of a raw 32-byte Ed25519 seed on one line (dkimpy's and RFC 8463's format).
    public init(pem text: String) throws(DKIMKeyError) {
        let trimmed = Self.trimmed(text)
        if !trimmed.hasPrefix("-----BEGIN") {
            guard let seed = Base64.decode(DKIMTagList.removingFWS(trimmed)), seed.count == 32,
                let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: seed)
            else { throw DKIMKeyError("neither PEM nor a base64 Ed25519 seed") }
            backing = .ed25519(key)
            return
        }
        if trimmed.hasPrefix("-----BEGIN PRIVATE KEY-----"), let der = Self.pemBody(trimmed), let seed = Self.ed25519Seed(pkcs8: der) {
            guard let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: seed) else { throw DKIMKeyError("bad Ed25519 key") }
            backing = .ed25519(key)
            return
        }
        do {
            backing = .rsa(try _RSA.Signing.PrivateKey(unsafePEMRepresentation: trimmed))
        } catch {
            throw DKIMKeyError("not a usable RSA private key of 1024 bits or more")
        }
    }

    /// A new random key: RSA of `rsaBits` bits (2048 by default) or Ed25519.
    public static func generate(_ type: DKIMKeyType, rsaBits: Int = 2048) throws(DKIMKeyError) -> DKIMSigningKey {
        switch type {
        case .rsa:
            do {
                let size = _RSA.Signing.KeySize(bitCount: rsaBits)
                // swift-crypto's checked initialiser refuses < 2048; 1024 is for tests only.
                let key = rsaBits >= 2048 ? try _RSA.Signing.PrivateKey(keySize: size) : try _RSA.Signing.PrivateKey(unsafeKeySize: size)
                return DKIMSigningKey(backing: .rsa(key))
            } catch {
                throw DKIMKeyError("RSA key generation failed: \(error)")
            }
        case .ed25519:
            return DKIMSigningKey(backing: .ed25519(Curve25519.Signing.PrivateKey()))
        }
    }

    init(backing: Backing) {
        self.backing = backing
    }

    /// The algorithm this key signs with.
    public var algorithm: DKIMAlgorithm {
        switch backing {
        case .rsa: .rsaSHA256
        case .ed25519: .ed25519SHA256
        }
    }

    /// The `p=` bytes: SubjectPublicKeyInfo DER for RSA, the 32 raw bytes for Ed25519.
    public var publicKeyBytes: [UInt8] {
        switch backing {
        case .rsa(let key): Array(key.publicKey.derRepresentation)
        case .ed25519(let key): Array(key.publicKey.rawRepresentation)
        }
    }

    /// The TXT record to publish at `<selector>._domainkey.<domain>`.
    public var keyRecord: String {
        DKIMKeyRecord.text(keyType: algorithm.keyType, publicKey: publicKeyBytes)
    }

    /// The key as PKCS#8 PEM (`PRIVATE KEY`), readable by ``init(pem:)`` and OpenSSL.
    public var pemRepresentation: String {
        switch backing {
        case .rsa(let key):
            return key.pkcs8PEMRepresentation
        case .ed25519(let key):
            let der = Self.ed25519PKCS8Prefix + Array(key.rawRepresentation)
            return Self.pem("PRIVATE KEY", der)
        }
    }

    /// Signs the SHA-256 digest of the data (RSASSA-PKCS1-v1_5, or Ed25519 over the digest bytes,
    /// RFC 8463 §3).
    func signature(for digest: SHA256Digest) throws(DKIMKeyError) -> [UInt8] {
        do {
            switch backing {
            case .rsa(let key):
                return Array(try key.signature(for: digest, padding: .insecurePKCS1v1_5).rawRepresentation)
            case .ed25519(let key):
                return Array(try key.signature(for: Array(digest)))
            }
        } catch {
            throw DKIMKeyError("signing failed: \(error)")
        }
    }

    // MARK: - PEM and PKCS#8 for Ed25519 (RFC 8410 §7)

    /// `SEQUENCE { INTEGER 0, SEQUENCE { OID 1.3.101.112 }, OCTET STRING { OCTET STRING (32) } }`.
    static let ed25519PKCS8Prefix: [UInt8] = [0x30, 0x2E, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2B, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20]

    static func ed25519Seed(pkcs8 der: [UInt8]) -> [UInt8]? {
        guard der.count == ed25519PKCS8Prefix.count + 32, Array(der.prefix(ed25519PKCS8Prefix.count)) == ed25519PKCS8Prefix else { return nil }
        return Array(der.suffix(32))
    }

    static func pemBody(_ pem: String) -> [UInt8]? {
        let body = pem.split(whereSeparator: { $0 == "\n" || $0 == "\r" }).filter { !$0.hasPrefix("-----") }.joined()
        return Base64.decode(body)
    }

    static func trimmed(_ text: String) -> String {
        var scalars = text.unicodeScalars[...]
        let space: Set<Unicode.Scalar> = [" ", "\t", "\n", "\r"]
        while let first = scalars.first, space.contains(first) { scalars.removeFirst() }
        while let last = scalars.last, space.contains(last) { scalars.removeLast() }
        return String(String.UnicodeScalarView(scalars))
    }

    static func pem(_ label: String, _ der: [UInt8]) -> String {
        let text = Array(Base64.encode(der))
        var lines = ["-----BEGIN \(label)-----"]
        var start = 0
        while start < text.count {
            lines.append(String(text[start..<min(start + 64, text.count)]))
            start += 64
        }
        lines.append("-----END \(label)-----")
        return lines.joined(separator: "\n") + "\n"
    }
}

/// Why a key could not be read, made or used.
public struct DKIMKeyError: Error, Hashable, Sendable, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}
