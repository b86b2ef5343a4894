import ArgumentParser
import Foundation
import SMTPCore

/// `mailnode queue list|show|flush|hold|release|delete|bounce`: what a node's spool holds and
/// where each message's delivery stands (`list`, `show`: read-only, like Postfix's `postqueue -p`),
/// and the operator's commands on it (like `postqueue -f`/`-i`, `postsuper -h`/`-H`/`-d`). A
/// command goes to the running node's control socket; with no node on the spool it changes the
/// files itself, holding the spool's lock (docs/spool.md, "Administration").
struct QueueCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "queue",
        abstract: "Show the spool, or flush, hold, release, delete or bounce queued messages.",
        subcommands: [QueueList.self, QueueShow.self, QueueFlush.self, QueueHold.self, QueueRelease.self, QueueDelete.self, QueueBounce.self])
}

/// `--spool DIR`, shared by the queue subcommands.
struct SpoolOption: ParsableArguments {
    @Option(help: "Spool directory (default: mailnode-data/spool when it exists, else /var/spool/mailnode).")
    var spool: String?

    /// The listing of the chosen spool; exit 2 with one line when it is not a spool.
    func listing() throws -> SpoolListing {
        let directory = self.directory
        let listing = SpoolListing(directory: directory)
        guard listing.exists else {
            FileHandle.standardError.write(Data("mailnode: \(directory): not a spool directory (no queue/)\n".utf8))
            throw ExitCode(2)
        }
        return listing
    }

    var directory: String {
        spool ?? (SpoolListing(directory: "mailnode-data/spool").exists ? "mailnode-data/spool" : "/var/spool/mailnode")
    }
}

enum QueueOutputFormat: String, CaseIterable, ExpressibleByArgument {
    case table
    case json
}

/// `mailnode queue list [--spool DIR] [--format table|json]`
struct QueueList: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List queued messages, oldest first.")

    @OptionGroup var spool: SpoolOption

    @Option(help: "Output format: table or json.")
    var format: QueueOutputFormat = .table

    func run() throws {
        let (items, problems) = try spool.listing().items()
        switch format {
        case .json:
            print(try QueueRendering.json(["messages": items.map(QueueRendering.Entry.init), "unreadable": problems.map(QueueRendering.Entry.init),
                                           "destinations": SpoolListing.destinations(items).map(QueueRendering.Entry.init)]))
        case .table:
            print(QueueRendering.table(items, problems: problems, now: Date()), terminator: "")
        }
    }
}

/// `mailnode queue show ID [--spool DIR]`
struct QueueShow: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "One queued message: envelope, delivery state per recipient, header section.")

    @Argument(help: "The queue id (as in '250 2.0.0 Queued as ID').")
    var id: String

    @OptionGroup var spool: SpoolOption

    func run() throws {
        let listing = try spool.listing()
        let item: SpoolListing.Item
        do {
            item = try listing.item(id)
        } catch {
            FileHandle.standardError.write(Data("mailnode: \(id): \(error)\n".utf8))
            throw ExitCode(1)
        }
        print(QueueRendering.table([item], problems: [], now: Date()), terminator: "")
        print("")
        print((try? listing.headerSection(id)) ?? "(header section unreadable)")
    }
}

/// Text and JSON output of the queue commands.
enum QueueRendering {
    /// A JSON value of either kind (messages or problems).
    struct Entry: Encodable {
        let value: any Encodable
        init(_ item: SpoolListing.Item) { value = item }
        init(_ problem: SpoolListing.Problem) { value = problem }
        init(_ destination: SpoolListing.Destination) { value = destination }
        func encode(to encoder: any Encoder) throws { try value.encode(to: encoder) }
    }

    static func json(_ object: [String: [Entry]]) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        return String(decoding: try encoder.encode(object), as: UTF8.self)
    }

    /// `postqueue -p` style: a line per message, an indented line per recipient.
    static func table(_ items: [SpoolListing.Item], problems: [SpoolListing.Problem], now: Date) -> String {
        let formatter = ISO8601DateFormatter()
        var out = ""
        for item in items {
            let next: String
            if let held = item.heldSince {
                next = "held since \(formatter.string(from: held))"
            } else if let due = item.nextAttempt, due > now {
                next = "next try in \(Int(due.timeIntervalSince(now)))s"
            } else {
                next = "due now"
            }
            out += "\(item.id)  \(item.size) octets  \(formatter.string(from: item.arrival))  \(item.sender)  "
                + "\(item.attempts) attempt\(item.attempts == 1 ? "" : "s"), \(next)\n"
            for recipient in item.recipients {
                out += "    \(recipient.address)  \(recipient.status.rawValue)"
                if let last = recipient.lastResult { out += "  (\(last))" }
                if let warned = recipient.delayNotified { out += "  delay warning sent \(formatter.string(from: warned))" }
                out += "\n"
            }
            if let error = item.lastError { out += "    last error: \(error)\n" }
        }
        for problem in problems { out += "\(problem.id)  unreadable: \(problem.reason)\n" }
        let destinations = SpoolListing.destinations(items)
        if !destinations.isEmpty {
            out += "-- pending recipients by destination (last hop tried, else domain)\n"
            let width = destinations.map(\.name.count).max() ?? 0
            for destination in destinations {
                out += "    \(destination.name.padding(toLength: width, withPad: " ", startingAt: 0))  "
                    + "\(destination.recipients) recipient\(destination.recipients == 1 ? "" : "s") in "
                    + "\(destination.messages) message\(destination.messages == 1 ? "" : "s")"
                    + (destination.held > 0 ? " (\(destination.held) held)" : "") + "\n"
            }
        }
        let recipients = items.reduce(0) { $0 + $1.recipients.filter { $0.status == .pending }.count }
        let held = items.filter(\.held).count
        out += "-- \(items.count) message\(items.count == 1 ? "" : "s"), \(recipients) recipient\(recipients == 1 ? "" : "s") pending"
        if held > 0 { out += ", \(held) held" }
        out += problems.isEmpty ? "\n" : ", \(problems.count) unreadable\n"
        return out
    }
}
