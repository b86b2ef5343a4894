import Testing

@testable import Defenses

@Suite("attachment policy")
struct AttachmentPolicyTests {
    let policy = AttachmentPolicy.default

    static func part(_ name: String?, _ body: [UInt8] = Array("plain text".utf8)) -> MIMEPart {
        MIMEPart(path: "1.2", depth: 1, contentType: "application/octet-stream", disposition: "attachment",
                 filename: name, transferEncoding: "base64", body: body)
    }

    @Test func extensionsIncludingDoubleAndDisguisedOnes() {
        for name in ["run.exe", "RUN.EXE", "invoice.pdf.exe", "invoice.exe.pdf", "evil.exe.", "evil.exe ", "a.scr",
                     "macro.docm", "sheet.xlsm", "deck.pptm", "disk.iso", "disk.img", "setup.msi", "x.ps1",
                     "link.lnk", "page.hta", "s.js", "s.jse", "s.wsf", "s.vbs", "p.vbp", "c.com", "b.bat",
                     "C:\\Users\\x\\run.exe", "dir/run.exe"] {
            #expect(policy.evaluate(Self.part(name)) != nil, "\(name) should be blocked")
        }
        for name in ["report.pdf", "photo.jpeg", "notes.txt", "archive.zip", "exe", "my.exercise.doc", "com", "letter.docx"] {
            #expect(policy.evaluate(Self.part(name)) == nil, "\(name) should pass")
        }
        #expect(policy.blockedExtension(in: "invoice.pdf.exe") == "exe")
        #expect(policy.blockedExtension(in: "invoice.exe.pdf") == "exe")
    }

    @Test func detectedTypeWhateverTheName() {
        let verdict = policy.evaluate(Self.part("report.pdf", [0x4D, 0x5A, 0x90, 0x00, 0x03]))
        #expect(verdict?.reason == .contentType(.windowsExecutable))
        #expect(policy.evaluate(Self.part(nil, [0x7F, 0x45, 0x4C, 0x46]))?.reason == .contentType(.elf))
        #expect(policy.evaluate(Self.part("report.pdf", Array("%PDF-1.7".utf8))) == nil)
    }

    @Test func namesInsideArchives() {
        let zip = TestZip.make([("docs/readme.txt", Array("hi".utf8)), ("docs/Invoice.PDF.js", Array("x".utf8))])
        let verdict = policy.evaluate(Self.part("docs.zip", zip))
        #expect(verdict?.reason == .archiveEntry(name: "docs/Invoice.PDF.js", extension: "js"))
        // Hidden one level deeper, in a stored inner ZIP with an innocent name.
        let nested = TestZip.make([("photos.dat", TestZip.make([("run.exe", [0x4D, 0x5A])]))])
        #expect(policy.evaluate(Self.part("photos.zip", nested))?.reason == .archiveEntry(name: "photos.dat/run.exe", extension: "exe"))
        // Switched off, archives pass.
        var open = policy
        open.inspectArchives = false
        #expect(open.evaluate(Self.part("docs.zip", zip)) == nil)
        #expect(policy.evaluate(Self.part("fine.zip", TestZip.make([("a.txt", [1])]))) == nil)
    }

    @Test func archiveBombsByTheirDirectory() {
        // 10 KiB claiming 4 GiB: beyond the ratio.
        let flat = TestZip.make([("zeros.bin", [UInt8](repeating: 0, count: 10_240))], declaredSizes: [0xFFFF_0000])
        #expect(policy.evaluate(Self.part("big.zip", flat))?.reason == .archiveBomb(entry: "zeros.bin"))
        // Many entries of honest ratio that add up beyond 1 GiB.
        let entries = (0..<16).map { (name: "layer\($0).zip", data: [UInt8](repeating: 1, count: 100_000)) }
        let many = TestZip.make(entries, declaredSizes: Array(repeating: 90_000_000, count: 16))
        #expect(policy.evaluate(Self.part("42.zip", many))?.reason == .archiveBomb(entry: "layer11.zip"))
        // A normal compression ratio passes.
        let normal = TestZip.make([("text.txt", [UInt8](repeating: 0x41, count: 2_000_000))], declaredSizes: [20_000_000])
        #expect(policy.evaluate(Self.part("text.zip", normal)) == nil)
    }

    @Test func macroEnabledOfficeByContent() {
        // A .docx name, but the ZIP holds a VBA project: a renamed .docm.
        let docm = TestZip.make([("[Content_Types].xml", Array("<Types/>".utf8)), ("word/vbaProject.bin", [0xD0, 0xCF])])
        #expect(policy.evaluate(Self.part("letter.docx", docm))?.reason == .officeMacros)
        let docx = TestZip.make([("[Content_Types].xml", Array("<Types/>".utf8)), ("word/document.xml", Array("<w/>".utf8))])
        #expect(policy.evaluate(Self.part("letter.docx", docx)) == nil)
    }

    @Test func configurableLists() {
        let custom = AttachmentPolicy(blockedExtensions: [".PDF"], blockedTypes: [])
        #expect(custom.evaluate(Self.part("a.pdf")) != nil)
        #expect(custom.evaluate(Self.part("a.exe", [0x4D, 0x5A])) == nil)
    }
}
