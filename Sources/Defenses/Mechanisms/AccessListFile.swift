import Foundation
import Logging
import NIOConcurrencyHelpers

/// A list file (``AccessListEntries`` format) that is read at start and read again when it
/// changes: at most every `reloadInterval` a look-up checks the file's modification time, size
/// and inode, so an operator edits the file (or `mv`s a new one into place) and the next
/// sessions see it — no restart, no signal.
///
/// The first read must succeed (a missing file stops the node from starting, see
/// ``init(path:reloadInterval:logger:)``). Later a missing or unreadable file keeps the entries
/// last read, logged as a warning; lines that cannot be parsed are skipped and logged with their
/// line number, at every (re)load.
public final class AccessListFile: Sendable {
    public let path: String
    public let reloadInterval: Duration
    let logger: Logger

    private struct Snapshot {
        var entries: AccessListEntries
        var signature: FileSignature?
        var checked: ContinuousClock.Instant
    }

    struct FileSignature: Equatable {
        var modified: Date?
        var size: Int?
        var inode: Int?
    }

    private let state: NIOLockedValueBox<Snapshot>

    /// Reads the file; throws when it cannot be read.
    public init(path: String, reloadInterval: Duration = .seconds(30), logger: Logger = Logger(label: "mailnode.defense.lists")) throws {
        self.path = path
        self.reloadInterval = reloadInterval
        self.logger = logger
        let signature = Self.signature(of: path)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let entries = Self.parse(text, path: path, logger: logger)
        state = NIOLockedValueBox(Snapshot(entries: entries, signature: signature, checked: .now))
    }

    /// The entries, read again first when the interval has passed and the file changed.
    public func entries() -> AccessListEntries {
        let now = ContinuousClock.now
        let due = state.withLockedValue { snapshot -> FileSignature?? in
            guard now - snapshot.checked >= reloadInterval else { return .none }
            snapshot.checked = now
            return .some(snapshot.signature)
        }
        guard case .some(let previous) = due else { return state.withLockedValue { $0.entries } }
        let signature = Self.signature(of: path)
        guard signature != previous else { return state.withLockedValue { $0.entries } }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            logger.warning("list file unreadable; keeping the entries read before", metadata: ["file": "\(path)"])
            return state.withLockedValue { $0.entries }
        }
        let entries = Self.parse(text, path: path, logger: logger)
        logger.notice("list file reloaded", metadata: ["file": "\(path)", "entries": "\(entries.count)"])
        return state.withLockedValue { snapshot in
            snapshot.entries = entries
            snapshot.signature = signature
            return entries
        }
    }

    static func parse(_ text: String, path: String, logger: Logger) -> AccessListEntries {
        let (entries, problems) = AccessListEntries.parse(text)
        for problem in problems {
            logger.warning("list file line skipped", metadata: ["file": "\(path)", "line": "\(problem.line)", "problem": "\(problem.message)"])
        }
        return entries
    }

    static func signature(of path: String) -> FileSignature? {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path) else { return nil }
        return FileSignature(modified: attributes[.modificationDate] as? Date,
                             size: (attributes[.size] as? NSNumber)?.intValue,
                             inode: (attributes[.systemFileNumber] as? NSNumber)?.intValue)
    }
}
