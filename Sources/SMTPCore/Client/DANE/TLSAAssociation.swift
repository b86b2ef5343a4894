import Crypto
import NIOSSL

/// One TLSA record's certificate association as an SMTP client uses it
/// ([RFC 6698 §2.1](https://www.rfc-editor.org/rfc/rfc6698#section-2.1)): which certificate of the
/// server's chain it names (``usage``), which part of it (``selector``) and how (``matchingType``).
public struct TLSAAssociation: Hashable, Sendable, Codable, CustomStringConvertible {
    /// 0 PKIX-TA, 1 PKIX-EE, 2 DANE-TA, 3 DANE-EE ([RFC 7218 §2.1](https://www.rfc-editor.org/rfc/rfc7218#section-2.1)).
    public var usage: UInt8
    /// 0 the whole certificate (DER), 1 its SubjectPublicKeyInfo (DER).
    public var selector: UInt8
    /// 0 the selected bytes themselves, 1 their SHA-256, 2 their SHA-512.
    public var matchingType: UInt8
    /// The certificate association data.
    public var data: [UInt8]

    /// DANE-TA: the record names a trust anchor in (or the issuer of) the server's chain.
    public static let daneTA: UInt8 = 2
    /// DANE-EE: the record names the server's own certificate or key.
    public static let daneEE: UInt8 = 3

    public init(usage: UInt8, selector: UInt8, matchingType: UInt8, data: [UInt8]) {
        self.usage = usage
        self.selector = selector
        self.matchingType = matchingType
        self.data = data
    }

    /// Whether an SMTP client can use the record: DANE-TA or DANE-EE with a known selector and
    /// matching type and data of the digest's length. PKIX-TA and PKIX-EE are unusable for SMTP
    /// ([RFC 7672 §3.1.3](https://www.rfc-editor.org/rfc/rfc7672#section-3.1.3)); so is anything unknown
    /// ([RFC 7671 §4](https://www.rfc-editor.org/rfc/rfc7671#section-4)).
    public var isUsable: Bool {
        guard usage == Self.daneTA || usage == Self.daneEE, selector <= 1 else { return false }
        switch matchingType {
        case 0: return !data.isEmpty
        case 1: return data.count == SHA256.byteCount
        case 2: return data.count == SHA512.byteCount
        default: return false
        }
    }

    /// Whether `certificate` is the one this record names (by ``selector`` and ``matchingType``).
    public func matches(_ certificate: NIOSSLCertificate) -> Bool {
        let selected: [UInt8]
        do {
            selected = selector == 0 ? try certificate.toDERBytes() : try certificate.extractPublicKey().toSPKIBytes()
        } catch {
            return false
        }
        switch matchingType {
        case 0: return selected == data
        case 1: return Array(SHA256.hash(data: selected)) == data
        case 2: return Array(SHA512.hash(data: selected)) == data
        default: return false
        }
    }

    /// Presentation form, `3 1 1 0a1b…` (RFC 6698 §2.2).
    public var description: String {
        "\(usage) \(selector) \(matchingType) " + data.map { String($0, radix: 16).leftPadded(2) }.joined()
    }
}

extension String {
    fileprivate func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}

/// How one mail exchanger's certificate is authenticated by DANE
/// ([RFC 7672 §3](https://www.rfc-editor.org/rfc/rfc7672#section-3)): its usable, DNSSEC-validated
/// TLSA records, the names a DANE-TA chain must be issued to, and the name sent as SNI.
public struct DANEAuthentication: Hashable, Sendable, Codable {
    /// The usable records (``TLSAAssociation/isUsable``); at least one.
    public var records: [TLSAAssociation]
    /// The TLSA base domain: the MX host name (after a validated CNAME, its target); sent as
    /// SNI ([RFC 7672 §8.1](https://www.rfc-editor.org/rfc/rfc7672#section-8.1)).
    public var baseDomain: String
    /// Names a certificate matched through a DANE-TA record must carry (one suffices): the base
    /// domain, the MX host name, the next-hop domain
    /// ([RFC 7672 §3.2.2](https://www.rfc-editor.org/rfc/rfc7672#section-3.2.2)). DANE-EE
    /// ignores names and validity dates (§3.1.1).
    public var referenceNames: [String]
    /// The port in the TLSA owner name `_PORT._tcp.BASE` (25 for SMTP, RFC 7672 §2.2.3).
    public var port: Int

    public init(records: [TLSAAssociation], baseDomain: String, referenceNames: [String], port: Int = 25) {
        self.records = records
        self.baseDomain = baseDomain
        self.referenceNames = referenceNames
        self.port = port
    }

    /// `_25._tcp.mx.example.org`: where the records were found.
    public var ownerName: String { "_\(port)._tcp.\(baseDomain)" }
}
