import ArgumentParser
import Foundation
import Logging
import SMTPCore

/// Carries out one `mailnode queue` command: through the running node's control socket when a
/// node answers there, else on the files while holding the spool's lock. Prints one line;
/// an unknown id or a refused command is exit status 1, a directory that is not a spool 2.
enum QueueAdministration {
    /// How long to keep trying while the spool is locked but no node answers (a node starting
    /// up or stopping, or another `mailnode queue` command).
    static let settleTime: Duration = .seconds(10)

    static func run(_ command: SpoolAdminCommand, spool option: SpoolOption, hostname: String?) async throws {
        let directory = try option.listing().directory
        let outcome: SpoolAdminOutcome
        do {
            outcome = try await perform(command, directory: directory, hostname: hostname ?? ProcessInfo.processInfo.hostName)
        } catch {
            FileHandle.standardError.write(Data("mailnode: \(error)\n".utf8))
            throw ExitCode(1)
        }
        print(outcome.message)
    }

    static func perform(_ command: SpoolAdminCommand, directory: String, hostname: String) async throws -> SpoolAdminOutcome {
        let deadline = ContinuousClock.now + settleTime
        while true {
            do {
                let response = try await SpoolControlClient.request(command, spoolDirectory: directory)
                if let error = response.error { throw error }
                guard let outcome = response.outcome else { throw SpoolAdminError.failed("the node sent an empty answer") }
                return outcome
            } catch SpoolControlClient.Failure.notListening {
                // No node answers: the files are ours if nobody holds the lock.
            }
            if let lock = try SpoolLock.tryAcquire(spoolDirectory: directory) {
                defer { lock.release() }
                let logger = Logger(label: "mailnode.queue") { StreamLogHandler.standardError(label: $0) }
                let store = try SpoolStore(directory: directory)
                return try await DirectSpoolAdministrator(store: store, hostname: hostname, logger: logger).perform(command)
            }
            guard ContinuousClock.now < deadline else {
                throw SpoolAdminError.failed("\(directory): the spool is locked (\(SpoolLock.path(spoolDirectory: directory))) "
                                             + "but no node answers on \(SpoolControlServer.path(spoolDirectory: directory))")
            }
            try await Task.sleep(for: .milliseconds(100))
        }
    }
}

/// The queue id argument and `--spool`, shared by the commands on one message.
struct QueueIDArguments: ParsableArguments {
    @Argument(help: "The queue id (as in '250 2.0.0 Queued as ID' and `mailnode queue list`).")
    var id: String

    @OptionGroup var spool: SpoolOption
}

/// `mailnode queue flush [ID] [--spool DIR]`
struct QueueFlush: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flush", abstract: "Attempt deferred messages now, ignoring their backoff (all, or one).")

    @Argument(help: "One queue id; without it every deferred message that is not held.")
    var id: String?

    @OptionGroup var spool: SpoolOption

    func run() async throws {
        try await QueueAdministration.run(SpoolAdminCommand(.flush, id: id), spool: spool, hostname: nil)
    }
}

/// `mailnode queue hold ID [--spool DIR]`
struct QueueHold: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hold", abstract: "Keep a message from being attempted until it is released (survives restarts).")

    @OptionGroup var arguments: QueueIDArguments

    func run() async throws {
        try await QueueAdministration.run(SpoolAdminCommand(.hold, id: arguments.id), spool: arguments.spool, hostname: nil)
    }
}

/// `mailnode queue release ID [--spool DIR]`
struct QueueRelease: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "release", abstract: "Put a held message back on the schedule, due now.")

    @OptionGroup var arguments: QueueIDArguments

    func run() async throws {
        try await QueueAdministration.run(SpoolAdminCommand(.release, id: arguments.id), spool: arguments.spool, hostname: nil)
    }
}

/// `mailnode queue delete ID [--spool DIR]`
struct QueueDelete: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete", abstract: "Remove a message without a bounce.")

    @OptionGroup var arguments: QueueIDArguments

    func run() async throws {
        try await QueueAdministration.run(SpoolAdminCommand(.delete, id: arguments.id), spool: arguments.spool, hostname: nil)
    }
}

/// `mailnode queue bounce ID [--spool DIR] [--hostname NAME]`
struct QueueBounce: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bounce",
        abstract: "Fail every pending recipient now: one delivery status notification to the sender (none to <>), then remove.")

    @OptionGroup var arguments: QueueIDArguments

    @Option(help: "Reporting-MTA of the bounce when no node runs (a running node uses its own host name; default: this host's name).")
    var hostname: String?

    func run() async throws {
        try await QueueAdministration.run(SpoolAdminCommand(.bounce, id: arguments.id), spool: arguments.spool, hostname: hostname)
    }
}
