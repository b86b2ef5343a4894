/// The entry names of a ZIP archive, read from its central directory (PKWARE APPNOTE.TXT
/// §4.3.12 "central directory structure", §4.3.16 "end of central directory record").
///
/// Only the directory is read, nothing is inflated: listing names costs no decompression, so a
/// "zip bomb" costs nothing here (clamd applies its own `MaxScanSize`/`MaxRecursion` to the
/// content). Archives *stored* (method 0) inside the archive are listed too, down to
/// ``MIMELimits/maxArchiveDepth``; compressed inner archives are reported by name only.
///
/// Why our own reader and not ZIPFoundation: we need names, flags and sizes, about 80 lines
/// over bytes already in memory; ZIPFoundation works on files or `Data` through Foundation and
/// would add a dependency to every role for that.
public struct ZipDirectory: Hashable, Sendable {
    public struct Entry: Hashable, Sendable {
        /// The name as stored (UTF-8 when flagged, else read as ISO-8859-1 — CP437's ASCII half,
        /// which is what extensions use). For entries of inner archives: `outer.zip/inner.exe`.
        public var name: String
        /// General-purpose flag bit 0: the entry is encrypted.
        public var encrypted: Bool
        public var compressionMethod: UInt16
        public var compressedSize: UInt32
        public var uncompressedSize: UInt32
    }

    public var entries: [Entry]
    /// True when the directory could not be read completely (truncated, ZIP64, too many
    /// entries): the names are then a partial list.
    public var incomplete: Bool

    /// Reads the central directory of `bytes`; nil when no end-of-central-directory record is found.
    public init?(_ bytes: [UInt8], maxEntries: Int = 10_000, maxDepth: Int = 4) {
        guard let directory = ZipDirectory.read(bytes[...], prefix: "", maxEntries: maxEntries, depth: maxDepth) else { return nil }
        self = directory
    }

    private init(entries: [Entry], incomplete: Bool) {
        self.entries = entries
        self.incomplete = incomplete
    }

    private static func read(_ bytes: ArraySlice<UInt8>, prefix: String, maxEntries: Int, depth: Int) -> ZipDirectory? {
        guard let eocd = findEndRecord(bytes) else { return nil }
        let count = Int(u16(bytes, eocd + 10))
        let offset = Int(u32(bytes, eocd + 16))
        var incomplete = count == 0xFFFF || offset == 0xFFFF_FFFF  // ZIP64: not read
        var entries: [Entry] = []
        var position = bytes.startIndex + offset
        for _ in 0..<count {
            guard entries.count < maxEntries else { incomplete = true; break }
            guard position >= bytes.startIndex, position + 46 <= bytes.endIndex, u32(bytes, position) == 0x0201_4B50 else {
                incomplete = true
                break
            }
            let flags = u16(bytes, position + 8)
            let method = u16(bytes, position + 10)
            let compressed = u32(bytes, position + 20)
            let uncompressed = u32(bytes, position + 24)
            let nameLength = Int(u16(bytes, position + 28))
            let extraLength = Int(u16(bytes, position + 30))
            let commentLength = Int(u16(bytes, position + 32))
            let localOffset = Int(u32(bytes, position + 42))
            let nameStart = position + 46
            guard nameStart + nameLength <= bytes.endIndex else { incomplete = true; break }
            let rawName = bytes[nameStart..<(nameStart + nameLength)]
            let name = flags & 0x0800 != 0
                ? String(decoding: rawName, as: UTF8.self)
                : String(String.UnicodeScalarView(rawName.map { Unicode.Scalar($0) }))
            entries.append(Entry(name: prefix + name, encrypted: flags & 1 != 0, compressionMethod: method,
                                 compressedSize: compressed, uncompressedSize: uncompressed))
            // A stored inner archive: list it too (bounded by depth and the shared entry budget).
            if method == 0, depth > 1, flags & 1 == 0,
               let data = storedData(bytes, localOffset: bytes.startIndex + localOffset, size: Int(compressed)),
               DetectedFileType.detect(data) == .zip,
               let inner = read(data, prefix: prefix + name + "/", maxEntries: maxEntries - entries.count, depth: depth - 1) {
                entries += inner.entries
                incomplete = incomplete || inner.incomplete
            }
            position = nameStart + nameLength + extraLength + commentLength
        }
        return ZipDirectory(entries: entries, incomplete: incomplete)
    }

    /// The data of a stored entry, via its local file header (APPNOTE §4.3.7).
    private static func storedData(_ bytes: ArraySlice<UInt8>, localOffset: Int, size: Int) -> ArraySlice<UInt8>? {
        guard localOffset >= bytes.startIndex, localOffset + 30 <= bytes.endIndex, u32(bytes, localOffset) == 0x0403_4B50 else { return nil }
        let start = localOffset + 30 + Int(u16(bytes, localOffset + 26)) + Int(u16(bytes, localOffset + 28))
        guard size > 0, start + size <= bytes.endIndex else { return nil }
        return bytes[start..<(start + size)]
    }

    /// The end-of-central-directory record: 22 octets plus a comment of up to 65,535, at the end.
    private static func findEndRecord(_ bytes: ArraySlice<UInt8>) -> Int? {
        guard bytes.count >= 22 else { return nil }
        let lowest = max(bytes.startIndex, bytes.endIndex - 22 - 0xFFFF)
        var position = bytes.endIndex - 22
        while position >= lowest {
            if bytes[position] == 0x50, u32(bytes, position) == 0x0605_4B50 { return position }
            position -= 1
        }
        return nil
    }

    private static func u16(_ bytes: ArraySlice<UInt8>, _ at: Int) -> UInt16 {
        UInt16(bytes[at]) | UInt16(bytes[at + 1]) << 8
    }

    private static func u32(_ bytes: ArraySlice<UInt8>, _ at: Int) -> UInt32 {
        UInt32(bytes[at]) | UInt32(bytes[at + 1]) << 8 | UInt32(bytes[at + 2]) << 16 | UInt32(bytes[at + 3]) << 24
    }
}
