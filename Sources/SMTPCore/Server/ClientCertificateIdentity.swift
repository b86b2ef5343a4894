import NIOSSL
import X509

/// Who a verified client certificate says the client is: its email subject alternative names
/// (rfc822Name, [RFC 5280 §4.2.1.6](https://www.rfc-editor.org/rfc/rfc5280#section-4.2.1.6)),
/// else its subject common name, lower case — the identities AUTH EXTERNAL may log in as.
struct ClientCertificateIdentity {
    var names: [String]
    var subject: String?

    init(_ certificate: NIOSSLCertificate) {
        guard let bytes = try? certificate.toDERBytes(), let parsed = try? Certificate(derEncoded: bytes) else {
            names = []
            subject = nil
            return
        }
        subject = parsed.subject.description
        var emails: [String] = []
        if let alternatives = try? parsed.extensions.subjectAlternativeNames {
            for name in alternatives {
                if case .rfc822Name(let address) = name { emails.append(address.lowercased()) }
            }
        }
        if emails.isEmpty {
            let commonNames = parsed.subject.flatMap { $0 }.filter { $0.type == .RDNAttributeType.commonName }
                .compactMap { String($0.value) }
            emails = commonNames.map { $0.lowercased() }
        }
        names = emails
    }
}
