import Foundation
import Testing

@testable import SMTPCore

/// ``Base64``: what Foundation encodes decodes back exactly, every length and padding; what is
/// not strict base64 is refused.
struct Base64Tests {
    @Test func foundationsEncodingDecodesBackAtEveryLength() {
        var generator = SystemRandomNumberGenerator()
        for length in 0..<300 {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let text = Data(bytes).base64EncodedString()
            #expect(Base64.decode(text) == bytes, "length \(length)")
            #expect(Base64.encode(bytes) == text)
        }
    }

    @Test(arguments: ["A", "AB=", "A===", "AB=C", "=ABC", "AB C", "AB\u{e9}C", "AB==AB==", "AB*C"])
    func malformedTextIsRefused(text: String) {
        #expect(Base64.decode(text) == nil)
    }
}
