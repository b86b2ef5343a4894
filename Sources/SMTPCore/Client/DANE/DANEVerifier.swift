import NIOSSL
import X509

/// Checks a mail exchanger's certificate chain against its DANE records instead of the CA system
/// ([RFC 7672 §3.1](https://www.rfc-editor.org/rfc/rfc7672#section-3.1), [RFC 7671 §5](https://www.rfc-editor.org/rfc/rfc7671#section-5)):
///
/// - **DANE-EE** (usage 3): the server's own certificate (or key) matches a record. Nothing else
///   is checked: not the names, not the dates, not who issued it (§3.1.1).
/// - **DANE-TA** (usage 2): a certificate of the presented chain (or the record's own full
///   certificate) is the trust anchor, and the server's certificate chains to it under RFC 5280
///   (dates, CA constraints, signatures) with one of the reference names (§3.1.2, §3.2.2).
public struct DANEVerifier: Sendable {
    public var authentication: DANEAuthentication

    /// How ``check(_:)``'s refusals begin, for whoever classifies them (TLS-RPT result types).
    public static let noMatchingRecord = "DANE: no TLSA record of "
    public static let anchorChainInvalid = "DANE: the certificate does not chain to the trust anchor of "

    /// DANE-TA chains are validated at the current time.
    public init(_ authentication: DANEAuthentication) {
        self.authentication = authentication
    }

    /// `nil` when the chain (the server's certificate first) is authenticated, else why not.
    public func check(_ chain: [NIOSSLCertificate]) async -> String? {
        guard let leaf = chain.first else { return "DANE: the server sent no certificate" }
        let records = authentication.records.filter(\.isUsable)
        if records.contains(where: { $0.usage == TLSAAssociation.daneEE && $0.matches(leaf) }) { return nil }

        let anchorRecords = records.filter { $0.usage == TLSAAssociation.daneTA }
        var anchors: [(certificate: Certificate, position: Int)] = []
        for (position, certificate) in chain.enumerated() where anchorRecords.contains(where: { $0.matches(certificate) }) {
            if let parsed = try? Certificate(derEncoded: certificate.toDERBytes()) { anchors.append((parsed, position)) }
        }
        // A record carrying the whole anchor certificate needs no copy of it in the chain.
        for record in anchorRecords where record.selector == 0 && record.matchingType == 0 {
            if let parsed = try? Certificate(derEncoded: record.data) { anchors.append((parsed, chain.count)) }
        }
        let base = authentication.ownerName
        guard !anchors.isEmpty else {
            return Self.noMatchingRecord + "\(base) matches the server's certificate chain"
        }
        guard let serverCertificate = try? Certificate(derEncoded: leaf.toDERBytes()) else {
            return "DANE: the server's certificate cannot be parsed"
        }
        for anchor in anchors {
            let intermediates = chain.dropFirst().prefix(max(0, anchor.position - 1))
                .compactMap { try? Certificate(derEncoded: $0.toDERBytes()) }
            for name in authentication.referenceNames {
                var verifier = Verifier(rootCertificates: CertificateStore([anchor.certificate])) {
                    RFC5280Policy()
                    ServerIdentityPolicy(serverHostname: name, serverIP: nil)
                }
                if case .validCertificate = await verifier.validate(leaf: serverCertificate, intermediates: CertificateStore(intermediates)) {
                    return nil
                }
            }
        }
        return Self.anchorChainInvalid + "\(base) as a valid certificate for "
            + authentication.referenceNames.joined(separator: " or ")
    }
}
