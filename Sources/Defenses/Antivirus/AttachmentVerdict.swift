/// Why a message's attachment was blocked; the log names it, the wire does not.
public struct AttachmentVerdict: Hashable, Sendable, CustomStringConvertible {
    public enum Reason: Hashable, Sendable {
        case `extension`(String)
        case contentType(DetectedFileType)
        case archiveEntry(name: String, extension: String)
        case encryptedArchive
        case officeMacros
        /// The archive declares more than it may expand to (``AttachmentPolicy/maxArchiveDeclaredSize``,
        /// ``AttachmentPolicy/maxArchiveEntryRatio``); `entry` is where the limit was crossed.
        case archiveBomb(entry: String)

        /// Generic words for the replacement text of a stripped part.
        public var summary: String {
            switch self {
            case .extension, .contentType, .archiveEntry: "this file type is not accepted"
            case .encryptedArchive: "encrypted archives are not accepted"
            case .officeMacros: "documents with macros are not accepted"
            case .archiveBomb: "the archive expands too far"
            }
        }
    }

    /// The MIME path of the part (``MIMEPart/path``).
    public var part: String
    public var filename: String?
    public var reason: Reason

    public var description: String {
        let name = filename.map { "\"\($0)\"" } ?? "unnamed part"
        switch reason {
        case .extension(let found): return "\(name) (part \(part)): blocked extension .\(found)"
        case .contentType(let type): return "\(name) (part \(part)): content is \(type)"
        case .archiveEntry(let entry, let found): return "\(name) (part \(part)): archive holds \"\(entry)\" (.\(found))"
        case .encryptedArchive: return "\(name) (part \(part)): encrypted archive"
        case .officeMacros: return "\(name) (part \(part)): Office file with macros"
        case .archiveBomb(let entry): return "\(name) (part \(part)): archive expands too far at \"\(entry)\""
        }
    }
}
