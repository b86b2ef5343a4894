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
/// File format: `MAILNODE-SPOOL 1 <n>\n`, `n` octets of JSON (``SpoolRecord``), `\n`, then the
/// message bytes exactly as they will be forwarded.
public struct SpoolEntry: Sendable, Hashable {
    public var record: SpoolRecord
    public var path: String
    /// Offset of the first message byte in the file.
    public var messageOffset: Int
    /// Length of the message in octets.
    public var messageSize: Int

    public var id: String { record.id }

    static let magic = "MAILNODE-SPOOL 1 "
    /// Longest header line we accept (magic + a decimal length + LF).
    static let maxHeaderLine = 64

    /// The bytes that precede the message in a new entry.
    static func header(for record: SpoolRecord) throws -> ByteBuffer {
        let json = try JSONEncoder().encode(record)
        var header = ByteBuffer(string: "\(magic)\(json.count)\n")
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
              line.hasPrefix(magic), let length = Int(line.dropFirst(magic.count)), length > 0,
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
        return SpoolEntry(record: record, path: path, messageOffset: offset, messageSize: fileSize - offset)
    }
}
