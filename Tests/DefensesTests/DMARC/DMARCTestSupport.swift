@testable import Defenses

/// Builders for DMARC inputs: SPF checks and DKIM verifications as the checks would return them.
enum DMARCInputs {
    static func spf(_ result: SPFResult, domain: String, identity: SPFIdentity = .mailFrom) -> SPFCheck {
        SPFCheck(
            result: result, identity: identity, clientIP: IPAddress("192.0.2.1")!, domain: domain,
            sender: identity == .mailFrom ? SPFSender(localPart: "bounce", domain: domain) : .postmaster(domain), helo: "mail.\(domain)")
    }

    static func dkim(_ result: DKIMResult, domain: String, selector: String = "sel") -> DKIMVerification {
        let field = HeaderField(name: "DKIM-Signature", value: " v=1; a=rsa-sha256; d=\(domain); s=\(selector); h=from; bh=AAAA; b=AAAA")
        let signature = try! DKIMSignature.parse(field)
        return DKIMVerification(field: field, signature: signature, result: result)
    }

    static func header(from: String) -> MessageHeader {
        try! MessageHeader.parse(Array("From: \(from)\r\nTo: x@example.net\r\nSubject: t\r\n".utf8))
    }

    static func verifier(_ records: [String: String], sample: Int = 0, configure: (inout MockResolver) -> Void = { _ in }) -> DMARCVerifier {
        var dns = MockResolver()
        for (name, text) in records { dns.addTXT(text, at: name) }
        configure(&dns)
        return DMARCVerifier(resolver: dns, configuration: DMARCConfiguration(sample: { sample }))
    }
}
