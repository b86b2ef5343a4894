/// Which attachments a message may not carry: by file-name extension (every extension of the
/// name, so `invoice.pdf.exe` and `invoice.exe.pdf` are both caught), by the type its content
/// really has (magic bytes, whatever the name says), and by the names inside ZIP archives.
///
/// The defense against viruses no signature knows yet (the second seed paper's attachment
/// blocking, next to DM28). Every value has a default; ``default`` is the shipped policy.
public struct AttachmentPolicy: Hashable, Sendable {
    /// Blocked extensions, lower case, without the dot.
    public var blockedExtensions: Set<String>
    /// Blocked content types, whatever the part's name.
    public var blockedTypes: Set<DetectedFileType>
    /// Look at the names inside ZIP archives (and stored ZIPs inside them).
    public var inspectArchives: Bool
    /// Block archives with encrypted entries (their content cannot be scanned). Default off:
    /// many legitimate senders encrypt archives; turn on where that never happens.
    public var blockEncryptedArchives: Bool
    /// Block macro-enabled Office Open XML files detected by content (`vbaProject.bin` inside),
    /// whatever their extension.
    public var blockOfficeMacros: Bool
    /// Block a ZIP whose directory declares more than this many uncompressed octets in total (a
    /// "zip bomb": nothing is inflated here, but clamd or the recipient would). Default 1 GiB.
    public var maxArchiveDeclaredSize: UInt64
    /// Block a ZIP entry above 1 MiB that claims to expand more than this many times (deflate
    /// tops out near 1,032:1). Default 1,000.
    public var maxArchiveEntryRatio: UInt64

    /// The second seed's list (.vbs .vbp .scr .com .exe .bat) plus what malware uses today:
    /// scripts (.js .jse .vbe .wsf .wsh .hta .ps1 .cmd), shortcuts and installers (.lnk .msi
    /// .msp .cpl .pif .reg .jar), disc images (.iso .img .vhd .vhdx) and macro-enabled Office
    /// files (.docm .dotm .xlsm .xltm .xlam .pptm .potm .ppam .ppsm .sldm).
    public static let defaultExtensions: Set<String> = [
        "vbs", "vbp", "scr", "com", "exe", "bat",
        "js", "jse", "vbe", "wsf", "wsh", "hta", "ps1", "cmd",
        "lnk", "msi", "msp", "cpl", "pif", "reg", "jar",
        "iso", "img", "vhd", "vhdx",
        "docm", "dotm", "xlsm", "xltm", "xlam", "pptm", "potm", "ppam", "ppsm", "sldm",
    ]

    /// Executables and the containers used to smuggle them past extension checks.
    public static let defaultTypes: Set<DetectedFileType> = [.windowsExecutable, .elf, .machO, .windowsShortcut, .isoImage]

    public static let `default` = AttachmentPolicy()

    public init(
        blockedExtensions: Set<String> = AttachmentPolicy.defaultExtensions,
        blockedTypes: Set<DetectedFileType> = AttachmentPolicy.defaultTypes,
        inspectArchives: Bool = true,
        blockEncryptedArchives: Bool = false,
        blockOfficeMacros: Bool = true,
        maxArchiveDeclaredSize: UInt64 = 1 << 30,
        maxArchiveEntryRatio: UInt64 = 1000
    ) {
        self.blockedExtensions = Set(blockedExtensions.map { $0.lowercased().trimmingPrefixDot() })
        self.blockedTypes = blockedTypes
        self.inspectArchives = inspectArchives
        self.blockEncryptedArchives = blockEncryptedArchives
        self.blockOfficeMacros = blockOfficeMacros
        self.maxArchiveDeclaredSize = maxArchiveDeclaredSize
        self.maxArchiveEntryRatio = maxArchiveEntryRatio
    }

    /// The first reason to block one of `parts`, or nil when all may pass.
    public func evaluate(_ parts: [MIMEPart], limits: MIMELimits = MIMELimits()) -> AttachmentVerdict? {
        for part in parts {
            if let verdict = evaluate(part, limits: limits) { return verdict }
        }
        return nil
    }

    /// Every part to block, with its reason (for stripping them all).
    public func evaluateAll(_ parts: [MIMEPart], limits: MIMELimits = MIMELimits()) -> [(part: MIMEPart, verdict: AttachmentVerdict)] {
        parts.compactMap { part in evaluate(part, limits: limits).map { (part, $0) } }
    }

    /// The reason to block `part`, or nil.
    public func evaluate(_ part: MIMEPart, limits: MIMELimits = MIMELimits()) -> AttachmentVerdict? {
        if let name = part.filename, let extensionFound = blockedExtension(in: name) {
            return AttachmentVerdict(part: part.path, filename: name, reason: .extension(extensionFound))
        }
        let detected = part.detectedType
        if let detected, blockedTypes.contains(detected) {
            return AttachmentVerdict(part: part.path, filename: part.filename, reason: .contentType(detected))
        }
        guard detected == .zip, inspectArchives || blockOfficeMacros,
              let directory = ZipDirectory(part.body, maxEntries: limits.maxArchiveEntries, maxDepth: limits.maxArchiveDepth)
        else { return nil }
        if blockOfficeMacros, directory.entries.contains(where: { AttachmentPolicy.isVBAProject($0.name) }) {
            return AttachmentVerdict(part: part.path, filename: part.filename, reason: .officeMacros)
        }
        guard inspectArchives else { return nil }
        var declared: UInt64 = 0
        for entry in directory.entries {
            let expanded = UInt64(entry.uncompressedSize)
            declared += expanded
            if declared > maxArchiveDeclaredSize
                || (expanded > 1 << 20 && expanded / max(1, UInt64(entry.compressedSize)) > maxArchiveEntryRatio) {
                return AttachmentVerdict(part: part.path, filename: part.filename, reason: .archiveBomb(entry: entry.name))
            }
            if let extensionFound = blockedExtension(in: entry.name) {
                return AttachmentVerdict(part: part.path, filename: part.filename, reason: .archiveEntry(name: entry.name, extension: extensionFound))
            }
            if blockEncryptedArchives, entry.encrypted {
                return AttachmentVerdict(part: part.path, filename: part.filename, reason: .encryptedArchive)
            }
        }
        return nil
    }

    /// The first blocked extension among all of `name`'s extensions (`a.pdf.exe` has `pdf` and
    /// `exe`). Trailing dots and spaces are ignored, as Windows ignores them (`evil.exe.`).
    public func blockedExtension(in name: String) -> String? {
        // The last path component: names in archives carry folders, some clients send paths.
        let base = name.split(whereSeparator: { $0 == "/" || $0 == "\\" }).last.map(String.init) ?? name
        var trimmed = Substring(base)
        while let last = trimmed.last, last == "." || last == " " || last.isWhitespace { trimmed.removeLast() }
        let pieces = trimmed.split(separator: ".", omittingEmptySubsequences: false).dropFirst()
        for piece in pieces.reversed() {
            let candidate = piece.trimmingWhitespace().lowercased()
            if blockedExtensions.contains(candidate) { return candidate }
        }
        return nil
    }

    static func isVBAProject(_ name: String) -> Bool {
        name.lowercased().hasSuffix("vbaproject.bin")
    }
}

extension String {
    fileprivate func trimmingPrefixDot() -> String {
        hasPrefix(".") ? String(dropFirst()) : self
    }
}
