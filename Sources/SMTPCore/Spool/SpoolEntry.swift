import Foundation
import NIOCore

/// The JSON part of a spool entry: everything about a message except its bytes.
public struct SpoolRecord: Codable, Sendable, Hashable {
    /// The stable message id (time-ordered, unique per node).
    public var id: String
    public var envelope: Envelope
    /// Client IP address the message came from.
    public var client: String?
    public var helo: String?
    /// TLS version of the session, when TLS was used.
    public var tls: String?
    public var authenticatedUser: String?
    /// The receiving session's id (for log correlation).
    public var session: String
    public var arrival: Date
}

/// A committed spool entry as found on disk: its record and where the message bytes lie.
///
/// File format 1: `MAILNODE-SPOOL 1 <n>\n`, `n` octets of JSON (``SpoolRecord``), `\n`, then the
/// message bytes exactly as they will be forwarded.
///
/// File format 2 (written when the receiving stage runs ``MessageInspector``s): the same head
/// line with `2`, the JSON and `\n`, the stored message bytes, then the header fields the
/// inspectors decided to prepend at the end of DATA, then a fixed footer
/// `MAILNODE-PREPEND <15 digits: their length>\n`. The fields are known only after the last
/// byte arrived, when the start of a large message is already on disk; appending them keeps
/// every write sequential. Readers emit the prepended fields first, then the stored bytes.
public struct SpoolEntry: Sendable, Hashable {
    public var record: SpoolRecord
    public var path: String
    /// Offset of the first stored message byte in the file.
    public var messageOffset: Int
    /// Length of the message as forwarded: the prepended fields plus the stored bytes.
    public var messageSize: Int
    /// Offset and length of the prepended header fields (format 2; both 0 in format 1).
    public var prependOffset: Int
    public var prependSize: Int

    public var id: String { record.id }
    /// Octets of the stored message after ``messageOffset`` (without the prepended fields).
    public var storedSize: Int { messageSize - prependSize }

    public init(record: SpoolRecord, path: String, messageOffset: Int, messageSize: Int, prependOffset: Int = 0, prependSize: Int = 0) {
        self.record = record
        self.path = path
        self.messageOffset = messageOffset
        self.messageSize = messageSize
        self.prependOffset = prependOffset
        self.prependSize = prependSize
    }

    /// The file byte ranges of the message as forwarded, in order: prepended fields, stored bytes.
    public var messageRanges: [Range<Int>] {
        var ranges: [Range<Int>] = []
        if prependSize > 0 { ranges.append(prependOffset..<prependOffset + prependSize) }
        if storedSize > 0 { ranges.append(messageOffset..<messageOffset + storedSize) }
        return ranges
    }

    static let magic = "MAILNODE-SPOOL 1 "
    static let magicWithPrepend = "MAILNODE-SPOOL 2 "
    static let footerTag = "MAILNODE-PREPEND "
    /// `MAILNODE-PREPEND ` + 15 digits + LF.
    static let footerLength = footerTag.utf8.count + 15 + 1

    /// The footer of a format 2 entry whose prepended fields are `length` octets.
    static func footer(prependLength length: Int) -> String {
        let digits = String(length)
        return footerTag + String(repeating: "0", count: max(0, 15 - digits.count)) + digits + "\n"
    }
    /// Longest header line we accept (magic + a decimal length + LF).
    static let maxHeaderLine = 64

    /// The bytes that precede the message in a new entry.
    static func header(for record: SpoolRecord, withPrepend: Bool = false) throws -> ByteBuffer {
        let json = try JSONEncoder().encode(record)
        var header = ByteBuffer(string: "\(withPrepend ? magicWithPrepend : magic)\(json.count)\n")
        header.writeBytes(json)
        header.writeString("\n")
        return header
    }

    public enum ParseError: Error, Hashable, Sendable, CustomStringConvertible {
        case unreadable(String)
        case badHeader
        case badRecord(String)

        public var description: String {
            switch self {
            case .unreadable(let reason): return "unreadable: \(reason)"
            case .badHeader: return "not a spool entry (bad header line)"
            case .badRecord(let reason): return "bad record: \(reason)"
            }
        }
    }

    /// Reads and validates an entry's header and record (blocking; call off the event loop).
    static func load(path: String) throws(ParseError) -> SpoolEntry {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw .unreadable("cannot open") }
        defer { try? handle.close() }
        let fileSize: Int
        do {
            fileSize = Int(try handle.seekToEnd())
            try handle.seek(toOffset: 0)
        } catch {
            throw .unreadable("\(error)")
        }
        let firstBytes = (try? handle.read(upToCount: maxHeaderLine)) ?? Data()
        guard let newline = firstBytes.firstIndex(of: 0x0A),
              let line = String(data: firstBytes[..<newline], encoding: .utf8),
              line.hasPrefix(magic) || line.hasPrefix(magicWithPrepend),
              let length = Int(line.dropFirst(magic.count)), length > 0,
              newline + 1 + length + 1 <= fileSize
        else { throw .badHeader }
        let recordData: Data
        do {
            try handle.seek(toOffset: UInt64(newline + 1))
            recordData = try handle.read(upToCount: length + 1) ?? Data()
        } catch {
            throw .unreadable("\(error)")
        }
        guard recordData.count == length + 1, recordData.last == 0x0A else { throw .badHeader }
        let record: SpoolRecord
        do {
            record = try JSONDecoder().decode(SpoolRecord.self, from: recordData.prefix(length))
        } catch {
            throw .badRecord("\(error)")
        }
        let offset = newline + 1 + length + 1
        guard line.hasPrefix(magicWithPrepend) else {
            return SpoolEntry(record: record, path: path, messageOffset: offset, messageSize: fileSize - offset)
        }
        guard fileSize - offset >= footerLength else { throw .badHeader }
        let footer: Data
        do {
            try handle.seek(toOffset: UInt64(fileSize - footerLength))
            footer = try handle.read(upToCount: footerLength) ?? Data()
        } catch {
            throw .unreadable("\(error)")
        }
        guard let text = String(data: footer, encoding: .utf8), text.hasPrefix(footerTag), text.hasSuffix("\n"),
              let prepend = Int(text.dropFirst(footerTag.count).dropLast()), prepend >= 0,
              prepend <= fileSize - offset - footerLength
        else { throw .badRecord("bad prepend footer") }
        let stored = fileSize - offset - footerLength - prepend
        return SpoolEntry(record: record, path: path, messageOffset: offset, messageSize: stored + prepend,
                          prependOffset: offset + stored, prependSize: prepend)
    }
}
