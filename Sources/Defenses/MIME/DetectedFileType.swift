/// A file's type recognised by its first octets ("magic bytes"), independent of the name the
/// sender gave it. Only types that matter to an attachment policy are recognised.
public enum DetectedFileType: String, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    /// DOS/Windows executable (`MZ`: .exe .dll .scr .com .cpl .sys ...).
    case windowsExecutable = "windows-executable"
    /// ELF executable or library (`\x7FELF`).
    case elf
    /// Mach-O executable (`FEEDFACE`/`FEEDFACF`, either byte order).
    case machO = "mach-o"
    /// Windows shortcut (.lnk; MS-SHLLINK header size 0x4C and its CLSID).
    case windowsShortcut = "windows-shortcut"
    /// ISO 9660 disc image (`CD001` at sector 16).
    case isoImage = "iso-image"
    /// Microsoft Cabinet (`MSCF`).
    case cabinet
    /// OLE2 compound file: legacy Office (.doc .xls .ppt), .msi, .msg.
    case ole2
    /// ZIP archive (`PK\x03\x04`, or an empty archive `PK\x05\x06`); Office Open XML files are ZIPs.
    case zip
    /// RAR archive (v4 and v5).
    case rar
    /// 7-Zip archive.
    case sevenZip = "7z"
    /// gzip stream.
    case gzip
    /// PDF document.
    case pdf
    /// A script with a `#!` line.
    case shebangScript = "script"

    public var description: String { rawValue }

    /// The type of `bytes`, or nil when none of the above.
    public static func detect(_ bytes: some Collection<UInt8>) -> DetectedFileType? {
        let head = Array(bytes.prefix(16))
        func starts(_ magic: [UInt8]) -> Bool { head.starts(with: magic) }
        if starts([0x4D, 0x5A]) { return .windowsExecutable }
        if starts([0x7F, 0x45, 0x4C, 0x46]) { return .elf }
        if starts([0xFE, 0xED, 0xFA, 0xCE]) || starts([0xCE, 0xFA, 0xED, 0xFE])
            || starts([0xFE, 0xED, 0xFA, 0xCF]) || starts([0xCF, 0xFA, 0xED, 0xFE]) { return .machO }
        if starts([0x4C, 0x00, 0x00, 0x00, 0x01, 0x14, 0x02, 0x00]) { return .windowsShortcut }
        if starts([0x4D, 0x53, 0x43, 0x46]) { return .cabinet }
        if starts([0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]) { return .ole2 }
        if starts([0x50, 0x4B, 0x03, 0x04]) || starts([0x50, 0x4B, 0x05, 0x06]) { return .zip }
        if starts([0x52, 0x61, 0x72, 0x21, 0x1A, 0x07]) { return .rar }
        if starts([0x37, 0x7A, 0xBC, 0xAF, 0x27, 0x1C]) { return .sevenZip }
        if starts([0x1F, 0x8B]) { return .gzip }
        if starts(Array("%PDF-".utf8)) { return .pdf }
        if starts([0x23, 0x21]) { return .shebangScript }
        // ISO 9660: the volume descriptor at sector 16 (offset 0x8000) holds "CD001" at +1.
        if bytes.count >= 0x8006 {
            let start = bytes.index(bytes.startIndex, offsetBy: 0x8001)
            let end = bytes.index(start, offsetBy: 5)
            if Array(bytes[start..<end]) == Array("CD001".utf8) { return .isoImage }
        }
        return nil
    }
}
