import Foundation
import Synchronization

/// The durable ``DMARCReportStore`` of a node: one line of JSON per evaluated message
/// (``DMARCRecordLine``) appended to `DIR/YYYY-MM-DD.jsonl`, one file per UTC day — the
/// "history file" OpenDMARC keeps, in a form `mailnode dmarc report` (or `jq`) reads.
///
/// - Appends are single `write(2)` calls on an `O_APPEND` descriptor (``DayFileLog``): a process
///   killed with `kill -9` loses no record that was appended; there is no `fsync` per message
///   (report data is statistics, not mail), so a power loss can lose the last few seconds.
/// - A line that does not decode (the torn end of a file after a power loss, a line from a newer
///   version) is skipped when reading and counted in ``skippedLines``; appending after a torn
///   end starts a new line first.
/// - Day files older than ``retentionDays`` are removed when the first record of a new day is
///   appended, so the directory cannot grow without bound when no report is ever sent.
///
/// A class behind one lock, not an actor: an append is one `write(2)`, and the mx appends once per
/// message, which as an actor cost two executor hops each time.
public final class DMARCReportFileStore: DMARCReportStore {
    /// The directory of the day files (created 0700 if missing).
    public let directory: String
    /// Whole days of records kept (the current day included).
    public let retentionDays: Int
    private struct State {
        var log: DayFileLog
        var skippedLines = 0
    }
    private let state: Mutex<State>

    /// Lines that could not be read back, since this instance started.
    public var skippedLines: Int { state.withLock { $0.skippedLines } }

    public init(directory: String, retentionDays: Int = 31) throws {
        let log = try DayFileLog(directory: directory, retentionDays: retentionDays)
        self.directory = directory
        self.retentionDays = log.retentionDays
        state = Mutex(State(log: log))
    }

    deinit {
        state.withLock { $0.log.close() }
    }

    public func append(_ record: DMARCAggregateRecord) async throws {
        let line = Data(DMARCRecordLine(record).jsonLine)
        let day = UTCDay.day(of: record.date)
        try state.withLock { state throws(ReportStoreError) in try state.log.append(line, day: day) }
    }

    public func records(policyDomain: String, from: Int64, to: Int64) async throws -> [DMARCAggregateRecord] {
        let wanted = policyDomain.lowercased()
        return try read(from: from, to: to).filter { $0.policyDomain.lowercased() == wanted }
    }

    public func policyDomains(from: Int64, to: Int64) async throws -> [String] {
        var seen = Set<String>()
        var ordered: [String] = []
        for record in try read(from: from, to: to) where seen.insert(record.policyDomain.lowercased()).inserted {
            ordered.append(record.policyDomain.lowercased())
        }
        return ordered
    }

    /// Removes the day files that end at or before `date`; the day holding `date` is rewritten
    /// (through a temporary file and a rename) without its older records.
    public func removeRecords(before date: Int64) async throws {
        try state.withLock { state throws(ReportStoreError) in
            try state.log.remove(before: UTCDay.day(of: date)) { line in
                (Self.decode(line)?.record?.date ?? date) >= date
            }
        }
    }

    private func read(from: Int64, to: Int64) throws -> [DMARCAggregateRecord] {
        guard from < to else { return [] }
        let lines = try state.withLock { state throws(ReportStoreError) in
            try state.log.lines(days: UTCDay.day(of: from), UTCDay.day(of: to - 1))
        }
        var records: [DMARCAggregateRecord] = []
        var skipped = 0
        for line in lines {
            guard let record = Self.decode(line)?.record else { skipped += 1; continue }
            if record.date >= from && record.date < to { records.append(record) }
        }
        if skipped > 0 { state.withLock { $0.skippedLines += skipped } }
        return records.sorted { $0.date < $1.date }
    }

    private static func decode(_ line: Data) -> DMARCRecordLine? { try? JSONDecoder().decode(DMARCRecordLine.self, from: line) }
}

extension JSONEncoder {
    /// Sorted keys: the same record always gives the same line. What ``DMARCRecordLine/jsonLine``
    /// writes by hand, and is tested against.
    static var dmarcLines: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }
}

/// Days since 1970-01-01 (UTC) and their `YYYY-MM-DD` names, by the civil-calendar algorithm
/// (no `DateFormatter`, no time zone database): the day files of ``DMARCReportFileStore`` and
/// the report periods of `mailnode dmarc report`.
public enum UTCDay {
    /// The day (since 1970-01-01) that the instant `seconds` falls in.
    public static func day(of seconds: Int64) -> Int64 {
        seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
    }

    /// The first second of `day`.
    public static func start(of day: Int64) -> Int64 { day * 86_400 }

    public static func name(of day: Int64) -> String {
        let (year, month, dayOfMonth) = civil(day)
        func two(_ value: Int64) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(year)-\(two(month))-\(two(dayOfMonth))"
    }

    /// The day of a `YYYY-MM-DD` name; `nil` for anything else.
    public static func day(named name: String) -> Int64? {
        let parts = name.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
              let year = Int64(parts[0]), let month = Int64(parts[1]), let dayOfMonth = Int64(parts[2]),
              (1...12).contains(month), (1...31).contains(dayOfMonth) else { return nil }
        let day = days(year: year, month: month, day: dayOfMonth)
        return name == Self.name(of: day) ? day : nil
    }

    /// Howard Hinnant's `days_from_civil`.
    static func days(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// Howard Hinnant's `civil_from_days`.
    static func civil(_ days: Int64) -> (Int64, Int64, Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}
