import ArgumentParser
import Foundation
import Roles
import SMTPCore

/// `mailnode quarantine list|show ID|release ID|delete ID|purge --older-than DURATION`: the
/// messages a stage held instead of delivering (`antivirus.action = "quarantine"`). Safe while
/// the node runs: `release` injects into the spool queue and leaves a marker the running node
/// picks up within a second (without scanning again); `delete` and `purge` remove files.
struct QuarantineCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quarantine",
        abstract: "List, show, release or delete quarantined messages.",
        subcommands: [QuarantineList.self, QuarantineShowCommand.self, QuarantineRelease.self, QuarantineDelete.self, QuarantinePurge.self])
}

/// `--config FILE | --spool DIR`, shared by the quarantine subcommands.
struct QuarantineLocation: ParsableArguments {
    @Option(help: "Configuration file whose node.spool holds the quarantine.")
    var config: String?

    @Option(help: "Spool directory (default: mailnode-data/spool when it exists, else /var/spool/mailnode).")
    var spool: String?

    /// `--config`, read through ``ConfigurationArgument``.
    var configurationFile: String? { ConfigurationArgument.file(declared: config) }

    /// The spool directory: `--spool`, else the antivirus stage's spool of the file (its
    /// `node.spool`, or `<node.spool>/stages/antivirus` when the file has several roles), else the default.
    func spoolDirectory() throws -> String {
        if let spool { return spool }
        if let file = configurationFile {
            // `--role antivirus` uses node.spool itself; `--role all` with several roles, its stage's spool.
            let configuration = try Mailnode.load(file, role: "")
            if FileManager.default.fileExists(atPath: configuration.spoolDirectory + "/quarantine") { return configuration.spoolDirectory }
            return configuration.stage("antivirus")?.configuration.spoolDirectory ?? configuration.spoolDirectory
        }
        return FileManager.default.fileExists(atPath: "mailnode-data/spool/queue") ? "mailnode-data/spool" : "/var/spool/mailnode"
    }

    /// The quarantine of the chosen spool; exit 2 with one line when it is not a spool.
    func store() throws -> QuarantineStore {
        let directory = try spoolDirectory()
        guard FileManager.default.fileExists(atPath: directory + "/queue") else {
            FileHandle.standardError.write(Data("mailnode: \(directory): not a spool directory (no queue/)\n".utf8))
            throw ExitCode(2)
        }
        return try QuarantineStore(spoolDirectory: directory)
    }
}

/// Exit 1 with `mailnode: ID: problem`.
func quarantineFailure(_ id: String, _ error: any Error) -> ExitCode {
    FileHandle.standardError.write(Data("mailnode: \(error is QuarantineStore.Failure ? "" : "\(id): ")\(error)\n".utf8))
    return ExitCode(1)
}

/// `mailnode quarantine list [--format table|json]`
struct QuarantineList: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List quarantined messages, oldest first.")

    @OptionGroup var location: QuarantineLocation

    @Option(help: "Output format: table or json.")
    var format: QueueOutputFormat = .table

    func run() throws {
        let (records, problems) = try location.store().list()
        switch format {
        case .json:
            print(try QuarantineRendering.json(records, problems: problems))
        case .table:
            print(QuarantineRendering.table(records, problems: problems), terminator: "")
        }
    }
}

/// `mailnode quarantine show ID [--format table|json]`
struct QuarantineShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "One quarantined message: record and header section.")

    @Argument(help: "The quarantine id (as in `mailnode quarantine list`).")
    var id: String

    @OptionGroup var location: QuarantineLocation

    @Option(help: "Output format: table or json.")
    var format: QueueOutputFormat = .table

    func run() throws {
        let store = try location.store()
        let record: QuarantineRecord
        let message: Data
        do {
            record = try store.record(id)
            message = try store.message(id)
        } catch {
            throw quarantineFailure(id, error)
        }
        switch format {
        case .json:
            print(try QuarantineRendering.json([record], problems: []))
        case .table:
            print(QuarantineRendering.table([record], problems: []), terminator: "")
            print("")
            print(QuarantineRendering.headerSection(message))
        }
    }
}

/// `mailnode quarantine release ID`
struct QuarantineRelease: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "release",
        abstract: "Put a quarantined message into the spool queue: it goes to the next hop without another scan.")

    @Argument(help: "The quarantine id.")
    var id: String

    @OptionGroup var location: QuarantineLocation

    func run() async throws {
        let store = try location.store()
        let spool = try SpoolStore(directory: store.spoolDirectory)
        let who = ProcessInfo.processInfo.environment["SUDO_USER"] ?? ProcessInfo.processInfo.environment["USER"]
            ?? "uid \(getuid())"
        do {
            let entry = try await store.release(id, into: spool, by: who)
            print("\(id) released as \(entry.id) by \(who)")
        } catch {
            throw quarantineFailure(id, error)
        }
    }
}

/// `mailnode quarantine delete ID`
struct QuarantineDelete: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "delete", abstract: "Delete a quarantined message for good.")

    @Argument(help: "The quarantine id.")
    var id: String

    @OptionGroup var location: QuarantineLocation

    func run() throws {
        do {
            try location.store().delete(id)
        } catch let exit as ExitCode {
            throw exit
        } catch {
            throw quarantineFailure(id, error)
        }
        print("\(id) deleted")
    }
}

/// `mailnode quarantine purge --older-than DURATION`
struct QuarantinePurge: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "purge", abstract: "Delete quarantined messages older than a duration.")

    @Option(help: "Age: seconds, or a number with s, m, h or d (30d, 12h).")
    var olderThan: String

    @OptionGroup var location: QuarantineLocation

    func run() throws {
        guard let seconds = Self.seconds(olderThan) else {
            throw ValidationError("--older-than: '\(olderThan)' is not a duration (30d, 12h, 90m, 45s)")
        }
        let removed = try location.store().purge(olderThan: Date().addingTimeInterval(-Double(seconds)))
        print("\(removed.count) message\(removed.count == 1 ? "" : "s") purged")
    }

    /// `30d`, `12h`, `90m`, `45s` or `45`.
    static func seconds(_ text: String) -> Int? {
        let units: [Character: Int] = ["s": 1, "m": 60, "h": 3600, "d": 86_400]
        var digits = Substring(text)
        var factor = 1
        if let last = text.last, let unit = units[last] {
            factor = unit
            digits = digits.dropLast()
        }
        guard let value = Int(digits), value >= 0 else { return nil }
        return value * factor
    }
}

/// Text and JSON output of the quarantine commands.
enum QuarantineRendering {
    struct Listing: Encodable {
        struct Problem: Encodable {
            var id: String
            var reason: String
        }
        var messages: [QuarantineRecord]
        var unreadable: [Problem]
    }

    static func json(_ records: [QuarantineRecord], problems: [(id: String, reason: String)]) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        let listing = Listing(messages: records, unreadable: problems.map { .init(id: $0.id, reason: $0.reason) })
        return String(decoding: try encoder.encode(listing), as: UTF8.self)
    }

    /// A line per message (id, size, time, defense, what matched, sender), an indented line per recipient.
    static func table(_ records: [QuarantineRecord], problems: [(id: String, reason: String)]) -> String {
        let formatter = ISO8601DateFormatter()
        var out = ""
        for record in records {
            let found = record.signature.map { "virus \($0)" } ?? record.attachment.map { "attachment \"\($0)\"" } ?? "content"
            out += "\(record.id)  \(record.size) octets  \(formatter.string(from: record.time))  \(record.defense)  \(found)  "
                + "\(record.envelope.reversePath)  from \(record.client ?? "-")\n"
            for recipient in record.envelope.recipients { out += "    \(recipient.path)\n" }
            out += "    reason: \(record.reason)\n"
        }
        for problem in problems { out += "\(problem.id)  unreadable: \(problem.reason)\n" }
        out += "-- \(records.count) message\(records.count == 1 ? "" : "s") held"
        out += problems.isEmpty ? "\n" : ", \(problems.count) unreadable\n"
        return out
    }

    /// The message's header section (up to the first empty line), as text.
    static func headerSection(_ message: Data) -> String {
        let bytes = [UInt8](message.prefix(256 * 1024))
        var end = bytes.count
        for index in bytes.indices where index + 3 < bytes.count {
            if bytes[index] == 13, bytes[index + 1] == 10, bytes[index + 2] == 13, bytes[index + 3] == 10 {
                end = index
                break
            }
        }
        return String(decoding: bytes[..<end], as: UTF8.self).replacingOccurrences(of: "\r\n", with: "\n")
    }
}
