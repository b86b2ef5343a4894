import Testing

@testable import Defenses

@Suite("magic-byte file types and ZIP directories")
struct FileTypeDetectionTests {
    @Test func magicBytes() {
        #expect(DetectedFileType.detect([0x4D, 0x5A, 0x90, 0x00]) == .windowsExecutable)
        #expect(DetectedFileType.detect([0x7F, 0x45, 0x4C, 0x46, 2]) == .elf)
        #expect(DetectedFileType.detect([0xCF, 0xFA, 0xED, 0xFE]) == .machO)
        #expect(DetectedFileType.detect([0x4C, 0, 0, 0, 0x01, 0x14, 0x02, 0, 0, 0]) == .windowsShortcut)
        #expect(DetectedFileType.detect([0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]) == .ole2)
        #expect(DetectedFileType.detect(Array("MSCF\0\0".utf8)) == .cabinet)
        #expect(DetectedFileType.detect(TestZip.make([("a.txt", [1])])) == .zip)
        #expect(DetectedFileType.detect([0x52, 0x61, 0x72, 0x21, 0x1A, 0x07, 0x01]) == .rar)
        #expect(DetectedFileType.detect([0x37, 0x7A, 0xBC, 0xAF, 0x27, 0x1C]) == .sevenZip)
        #expect(DetectedFileType.detect([0x1F, 0x8B, 8]) == .gzip)
        #expect(DetectedFileType.detect(Array("#!/bin/sh\n".utf8)) == .shebangScript)
        var iso = [UInt8](repeating: 0, count: 0x8800)
        iso.replaceSubrange(0x8001..<0x8006, with: Array("CD001".utf8))
        #expect(DetectedFileType.detect(iso) == .isoImage)
        #expect(DetectedFileType.detect(Array("Hello".utf8)) == nil)
        #expect(DetectedFileType.detect([UInt8]()) == nil)
    }

    @Test func zipNamesIncludingStoredInnerArchives() throws {
        let inner = TestZip.make([("payload.exe", [0x4D, 0x5A])])
        let outer = TestZip.make([("readme.txt", Array("hi".utf8)), ("inner.zip", inner)])
        let directory = try #require(ZipDirectory(outer))
        #expect(directory.entries.map(\.name) == ["readme.txt", "inner.zip", "inner.zip/payload.exe"])
        #expect(!directory.incomplete)
        // Depth 1: the inner archive is named but not opened.
        #expect(try #require(ZipDirectory(outer, maxDepth: 1)).entries.map(\.name) == ["readme.txt", "inner.zip"])
        // The entry limit holds.
        let many = TestZip.make((0..<50).map { ("f\($0).txt", [UInt8]()) })
        let limited = try #require(ZipDirectory(many, maxEntries: 10))
        #expect(limited.entries.count == 10)
        #expect(limited.incomplete)
    }

    @Test func brokenZipsDoNotCrash() {
        let zip = TestZip.make([("a.exe", [1, 2, 3]), ("b.txt", [4])])
        // Every truncation and a few corruptions: no crash, at most a partial listing.
        for length in 0..<zip.count {
            _ = ZipDirectory(Array(zip.prefix(length)))
        }
        for index in stride(from: 0, to: zip.count, by: 3) {
            var broken = zip
            broken[index] ^= 0xFF
            _ = ZipDirectory(broken)
        }
        #expect(ZipDirectory(Array("not a zip at all".utf8)) == nil)
    }
}
