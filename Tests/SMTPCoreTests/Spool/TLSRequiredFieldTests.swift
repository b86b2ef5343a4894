import Testing

@testable import SMTPCore

@Suite("TLS-Required header field (RFC 8689 §5)")
struct TLSRequiredFieldTests {
    @Test(arguments: [
        ("Subject: a\r\nTLS-Required: No\r\n\r\n", true),
        ("tls-required:no\r\n\r\n", true),
        ("TLS-Required:\r\n\tNO \r\n\r\n", true),          // folded, any case
        ("TLS-Required: Yes\r\n\r\n", false),
        ("TLS-Required: No thanks\r\n\r\n", false),
        ("X-TLS-Required: No\r\n\r\n", false),
        ("Subject: TLS-Required: No\r\n\r\n", false),      // inside another field's value
        ("Subject: a\r\n\r\n", false),
    ])
    func saysNo(headers: String, expected: Bool) {
        #expect(TLSRequiredField.saysNo(headers: headers) == expected)
    }
}
