import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Report data as lines appended to one file per UTC day, `DIR/YYYY-MM-DD.jsonl` — what the
/// DMARC aggregate records (``DMARCReportFileStore``) and the TLS-RPT records
/// (``TLSReportFileStore``) are kept in. Owned by one actor, which serialises the calls.
///
/// - An append is one `write(2)` on an `O_APPEND` descriptor: `kill -9` loses nothing written;
///   there is no `fsync` (statistics, not mail), so a power loss can lose the last seconds.
/// - Opening a day file whose end is torn (a power loss mid-line) adds the missing line end, so
///   the next line starts clean; readers skip lines they cannot decode.
/// - Day files older than ``retentionDays`` go when a new day's first line is written.
struct DayFileLog {
    let directory: String
    let retentionDays: Int
    private var openDay: Int64?
    private var descriptor: Int32 = -1

    init(directory: String, retentionDays: Int) throws(ReportStoreError) {
        self.directory = directory
        self.retentionDays = max(1, retentionDays)
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
        } catch {
            throw ReportStoreError("cannot create \(directory): \(error.localizedDescription)")
        }
    }

    func path(day: Int64) -> String { directory + "/" + UTCDay.name(of: day) + ".jsonl" }

    /// Appends `line` (without its line end) to the file of `day`.
    mutating func append(_ line: Data, day: Int64) throws(ReportStoreError) {
        if day != openDay {
            close()
            let path = self.path(day: day)
            let fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
            guard fd >= 0 else { throw ReportStoreError("cannot open \(path): \(String(cString: strerror(errno)))") }
            descriptor = fd
            openDay = day
            var last: UInt8 = 0
            let size = lseek(fd, 0, SEEK_END)
            if size > 0, pread(fd, &last, 1, size - 1) == 1, last != UInt8(ascii: "\n") {
                var newline = UInt8(ascii: "\n")
                _ = write(fd, &newline, 1)
            }
            removeExpiredFiles(today: day)
        }
        var bytes = line
        bytes.append(UInt8(ascii: "\n"))
        let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        guard written == bytes.count else {
            let reason = written < 0 ? String(cString: strerror(errno)) : "short write"
            throw ReportStoreError("cannot append to \(path(day: day)): \(reason)")
        }
    }

    mutating func close() {
        if descriptor >= 0 { closeDescriptor(descriptor) }
        descriptor = -1
        openDay = nil
    }

    /// The day files present, by day.
    func dayFiles() -> [(day: Int64, name: String)] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.compactMap { name in
            guard name.hasSuffix(".jsonl"), let day = UTCDay.day(named: String(name.dropLast(6))) else { return nil }
            return (day, name)
        }.sorted { $0.day < $1.day }
    }

    /// The lines of the days `first...last`, oldest day first.
    func lines(days first: Int64, _ last: Int64) throws(ReportStoreError) -> [Data] {
        var result: [Data] = []
        for file in dayFiles() where file.day >= first && file.day <= last {
            result += try lines(path: directory + "/" + file.name)
        }
        return result
    }

    func lines(path: String) throws(ReportStoreError) -> [Data] {
        guard let data = FileManager.default.contents(atPath: path) else { throw ReportStoreError("cannot read \(path)") }
        return data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true).map { Data($0) }
    }

    /// Removes the files of the days before `day`; the file of `day` itself is rewritten
    /// (temporary file and rename) with the lines `keep` accepts.
    mutating func remove(before day: Int64, keepingIn cutDay: (Data) -> Bool) throws(ReportStoreError) {
        for file in dayFiles() where file.day < day {
            if file.day == openDay { close() }
            unlink(directory + "/" + file.name)
        }
        let path = self.path(day: day)
        guard FileManager.default.fileExists(atPath: path) else { return }
        let kept = try lines(path: path).filter(cutDay)
        if day == openDay { close() }
        var data = Data()
        for line in kept {
            data.append(line)
            data.append(UInt8(ascii: "\n"))
        }
        do {
            try data.write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw ReportStoreError("cannot rewrite \(path): \(error.localizedDescription)")
        }
    }

    private func removeExpiredFiles(today: Int64) {
        for file in dayFiles() where file.day <= today - Int64(retentionDays) {
            unlink(directory + "/" + file.name)
        }
    }
}

private func closeDescriptor(_ descriptor: Int32) { _ = close(descriptor) }

/// A report store failed (directory not writable, disk full). The stage logs it and goes on:
/// report data never stops mail.
public struct ReportStoreError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// The DMARC stores' name for ``ReportStoreError``.
public typealias DMARCReportStoreError = ReportStoreError
