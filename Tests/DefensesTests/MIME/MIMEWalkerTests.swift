import Foundation
import Testing

@testable import Defenses

@Suite("MIME walking")
struct MIMEWalkerTests {
    static func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    @Test func nestedMultipartWithEveryEncoding() throws {
        let inner = "From: x@example.org\r\nSubject: inner\r\nContent-Type: text/plain\r\n\r\nforwarded text\r\n"
        let message = """
            Content-Type: multipart/mixed; boundary="outer"\r
            \r
            --outer\r
            Content-Type: multipart/alternative; boundary=alt\r
            \r
            --alt\r
            Content-Type: text/plain\r
            Content-Transfer-Encoding: quoted-printable\r
            \r
            caf=C3=A9 is soft=\r
            ly broken\r
            --alt\r
            Content-Type: text/html\r
            \r
            <p>hi</p>\r
            --alt--\r
            --outer\r
            Content-Type: application/pdf\r
            Content-Disposition: attachment; filename="report.pdf"\r
            Content-Transfer-Encoding: base64\r
            \r
            JVBERi0xLjQK\r
            --outer\r
            Content-Type: message/rfc822\r
            Content-Transfer-Encoding: base64\r
            \r
            \(Data(inner.utf8).base64EncodedString())\r
            --outer--\r
            epilogue\r

            """
        let parts = try MIMEWalker().parts(of: Self.bytes(message))
        #expect(parts.map(\.path) == ["1.1.1", "1.1.2", "1.2", "1.3.1"])
        #expect(parts.map(\.contentType) == ["text/plain", "text/html", "application/pdf", "text/plain"])
        #expect(String(decoding: parts[0].body, as: UTF8.self) == "café is softly broken")
        #expect(parts[1].body == Self.bytes("<p>hi</p>"))
        #expect(parts[2].filename == "report.pdf")
        #expect(parts[2].disposition == "attachment")
        #expect(parts[2].body == Self.bytes("%PDF-1.4\n"))
        #expect(parts[2].detectedType == .pdf)
        #expect(parts[3].body == Self.bytes("forwarded text\r\n"))
        #expect(parts[3].depth == 2)
    }

    @Test func fileNames() throws {
        func name(_ headers: String) throws -> String? {
            try MIMEWalker().parts(of: Self.bytes(headers + "\r\n\r\nx")).first?.filename
        }
        // RFC 2231 §4: charset and percent-encoding.
        #expect(try name("Content-Disposition: attachment; filename*=utf-8''%E2%82%AC%20invoice.exe") == "€ invoice.exe")
        // RFC 2231 §3: continuations, mixed encoded and plain sections, out of order.
        #expect(try name("Content-Disposition: attachment;\r\n filename*1=\"ice.pdf\";\r\n filename*0*=utf-8''invo;\r\n filename*2=\".exe\"")
            == "invoice.pdf.exe")
        // Content-Type name when the disposition has none; RFC 2047 encoded word.
        #expect(try name("Content-Type: application/octet-stream; name=\"=?UTF-8?B?aW52b2ljZS5leGU=?=\"") == "invoice.exe")
        #expect(try name("Content-Type: application/octet-stream; name=\"=?iso-8859-1?Q?r=E9sum=E9?= .js\"") == "résumé .js")
        // Quoted semicolons and escapes.
        #expect(try name("Content-Disposition: attachment; filename=\"a;b \\\"c\\\".txt\"") == "a;b \"c\".txt")
        #expect(try name("Content-Disposition: attachment; filename=plain.bat") == "plain.bat")
        #expect(try name("Subject: none") == nil)
    }

    @Test func uuencodedFileInATextPart() throws {
        // "begin 644 run.exe" with the 4 octets "MZ\0\0".
        let message = "Subject: old style\r\n\r\nHere it is:\r\n\r\nbegin 644 run.exe\r\n$35H`````\r\n`\r\nend\r\n"
        let parts = try MIMEWalker().parts(of: Self.bytes(message))
        #expect(parts.count == 2)
        #expect(parts[1].filename == "run.exe")
        #expect(parts[1].transferEncoding == "x-uuencode")
        #expect(parts[1].body == [0x4D, 0x5A, 0x00, 0x00])
        #expect(parts[1].detectedType == .windowsExecutable)
    }

    @Test func tenThousandPartsAreRefused() throws {
        var message = "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
        for index in 0..<10_000 { message += "--b\r\n\r\npart \(index)\r\n" }
        message += "--b--\r\n"
        #expect(throws: MIMEError.tooManyParts(limit: 1000)) { try MIMEWalker().parts(of: Self.bytes(message)) }
        // Within a raised limit the same message walks completely.
        let parts = try MIMEWalker(limits: MIMELimits(maxParts: 10_001)).parts(of: Self.bytes(message))
        #expect(parts.count == 10_000)
    }

    @Test func deepNestingIsRefused() throws {
        var message = ""
        for level in 0..<100 { message += "Content-Type: multipart/mixed; boundary=b\(level)\r\n\r\n--b\(level)\r\n" }
        message += "\r\ncore\r\n"
        #expect(throws: MIMEError.tooDeep(limit: 16)) { try MIMEWalker().parts(of: Self.bytes(message)) }
        // message/rfc822 nesting counts too.
        var wrapped = "Subject: core\r\n\r\nx"
        for _ in 0..<20 { wrapped = "Content-Type: message/rfc822\r\n\r\n" + wrapped }
        #expect(throws: MIMEError.tooDeep(limit: 16)) { try MIMEWalker().parts(of: Self.bytes(wrapped)) }
    }

    @Test func base64InsideBase64CountsEveryDecoding() throws {
        // A message/rfc822 part, base64, holding a base64 attachment: both decodings count.
        let payload = [UInt8](repeating: 0x41, count: 30_000)
        let inner = "Content-Transfer-Encoding: base64\r\n\r\n" + Data(payload).base64EncodedString() + "\r\n"
        let outer = "Content-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            + Data(inner.utf8).base64EncodedString() + "\r\n"
        #expect(throws: MIMEError.decodedTooLarge(limit: 50_000)) {
            try MIMEWalker(limits: MIMELimits(maxDecodedBytes: 50_000)).parts(of: Self.bytes(outer))
        }
        #expect(try MIMEWalker(limits: MIMELimits(maxDecodedBytes: 80_000)).parts(of: Self.bytes(outer)).first?.body == payload)
    }

    @Test func everyTruncationAndCorruptionIsHandled() throws {
        let inner = "Subject: in\r\nContent-Type: multipart/mixed; boundary=i\r\n\r\n--i\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\na=3D=\r\n--i--\r\n"
        let message = Self.bytes(
            "Content-Type: multipart/mixed; boundary=o\r\n\r\n--o\r\nContent-Disposition: attachment; filename*0*=utf-8''%E2%82;"
            + " filename*1=x.exe\r\nContent-Transfer-Encoding: base64\r\n\r\nTVo=\r\n--o\r\nContent-Type: message/rfc822\r\n\r\n"
            + inner + "\r\n--o\r\nContent-Type: text/plain\r\n\r\nbegin 644 a.exe\r\n$35H`````\r\n--o--\r\n")
        #expect(try MIMEWalker().parts(of: message).count == 4)
        // No prefix and no single-octet corruption crashes or loops; each yields parts or a MIMEError.
        for length in 0...message.count {
            _ = try? MIMEWalker().parts(of: message.prefix(length))
        }
        for index in message.indices {
            for replacement: UInt8 in [0x00, 0x0A, 0x3D, 0x2D] {
                var broken = message
                broken[index] = replacement
                _ = try? MIMEWalker().parts(of: broken)
            }
        }
    }

    @Test func decoders() {
        #expect(TransferDecoding.base64(Array("SGVs\r\nbG8=garbage".utf8)[...]) == Array("Hello".utf8))
        #expect(TransferDecoding.base64(Array("S G V s b G 8".utf8)[...]) == Array("Hello".utf8))
        #expect(TransferDecoding.quotedPrintable(Array("a=3Db=\nc=ZZ=".utf8)[...]) == Array("a=bc=ZZ".utf8))
        #expect(MultipartBody.parts(of: Array("--b\r\none\r\n--b \r\ntwo\r\n--b--\r\n".utf8)[...], boundary: "b").map { Array($0) }
            == [Array("one".utf8), Array("two".utf8)])
        // No close delimiter: the last part runs to the end.
        #expect(MultipartBody.parts(of: Array("--b\nx\n--b\ny".utf8)[...], boundary: "b").count == 2)
        // A line that only starts like the boundary is content.
        #expect(MultipartBody.parts(of: Array("--b\r\n--bc\r\n--b--".utf8)[...], boundary: "b").map { Array($0) } == [Array("--bc".utf8)])
    }
}
