import ArgumentParser
import Foundation
import Logging
import NIOPosix
import Roles

/// `mailnode`: one binary, every stage of the mail architecture.
///
/// `mailnode --role mx --config /etc/mailnode/mailnode.toml` runs one role of a configuration
/// file, `--role all` every role it has a table for, chained in one process; `mailnode up` runs
/// an embedded node (a generated file, or flags). The entry point is main.swift.
struct Mailnode: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mailnode",
        abstract: "A dependable and secure mail node.",
        subcommands: [Up.self, Check.self, QueueCommand.self, UsersCommand.self, QuarantineCommand.self, DKIMCommand.self, DMARCCommand.self, TLSRPTCommand.self, SPFCommand.self, CatalogCommand.self, ReviewCommand.self])

    @Option(help: "The role to run: \(MailNode.availableRoles.joined(separator: ", ")), or all of the file's (planned: \(MailNode.plannedRoles.joined(separator: ", "))).")
    var role: String?

    @Option(help: "Configuration file (TOML; see docs/configuration.md).")
    var config: String = "/etc/mailnode/mailnode.toml"

    @OptionGroup var logging: LoggingOptions

    func run() async throws {
        guard let role else { throw CleanExit.helpRequest(self) }
        guard MailNode.availableRoles.contains(role) || role == "all" else {
            let planned = MailNode.plannedRoles.contains(role) ? " (planned, not built yet)" : ""
            FileHandle.standardError.write(Data("mailnode: role '\(role)' is not available\(planned)\n".utf8))
            throw ExitCode(2)
        }
        let configuration = try Self.load(config, role: role)
        try await NodeRunner.run(configuration, logLevel: logging.logLevel)
    }

    /// Reads and checks the file; any problem: one line naming file, line and key; exit code 2.
    static func load(_ path: String, role: String) throws -> NodeConfiguration {
        func fail(_ message: String) -> ExitCode {
            FileHandle.standardError.write(Data("mailnode: \(message)\n".utf8))
            return ExitCode(2)
        }
        guard let data = FileManager.default.contents(atPath: path) else { throw fail("\(path): cannot read the file") }
        guard let text = String(data: data, encoding: .utf8) else { throw fail("\(path): not UTF-8") }
        let configuration: NodeConfiguration
        do {
            configuration = try NodeConfiguration(toml: text, file: path)
        } catch {
            throw fail("\(error)")
        }
        if role == "mx", configuration.mx == nil { throw fail("\(path): role mx needs an [mx] table") }
        if role == "submission", configuration.submission == nil { throw fail("\(path): role submission needs a [submission] table") }
        if role == "antivirus", configuration.antivirus == nil { throw fail("\(path): role antivirus needs an [antivirus] table") }
        if role == "store", configuration.store == nil { throw fail("\(path): role store needs a [store] table") }
        if role == "outbound", configuration.outbound == nil { throw fail("\(path): role outbound needs an [outbound] table") }
        if role == "all", configuration.enabledRoles.isEmpty {
            throw fail("\(path): role all needs at least one role table ([mx], [submission], [antivirus], [store], [outbound])")
        }
        // One role: the other roles' tables are ignored. "all" runs every table's role, chained
        // (NodeConfiguration.stages()); "" keeps all, for review.
        return role.isEmpty || role == "all" ? configuration : configuration.running(role: role)
    }
}

/// Options every command shares; declared once so the root command and `up` agree on them
/// (two separate `--log-level` options made the root swallow the value given to `up`).
struct LoggingOptions: ParsableArguments {
    @Option(help: "Log level: trace, debug, info, notice, warning, error.")
    var logLevel: Logger.Level = .info
}

/// Starts a node, waits for SIGTERM/SIGINT, stops it gracefully.
enum NodeRunner {
    static func run(_ configuration: NodeConfiguration, logLevel: Logger.Level,
                    started: ([String]) -> Void = { _ in }) async throws {
        var logger = Logger(label: "mailnode")
        logger.logLevel = logLevel
        let openFiles = ResourceLimits.raiseOpenFiles()
        // NIO is this process's global executor (main.swift): sessions' tasks may as well stay on their own loop.
        let node = try NodeChain(configuration: configuration, group: MultiThreadedEventLoopGroup.singleton, logger: logger,
                                 sessionTasksOnConnectionLoop: true)
        let bound = try await node.start()
        logger.notice("mailnode up", metadata: [
            "listen": "\(bound.map { "\($0)" }.joined(separator: ","))",
            "role": "\(node.planned.map(\.role).joined(separator: ","))",
            "domains": "\(configuration.mx?.localDomains.sorted().joined(separator: ",") ?? "-")",
            "spool": "\(configuration.spoolDirectory)", "open_files": "\(openFiles)",
            "absent_roles": "\(MailNode.plannedRoles.joined(separator: ","))",
        ])
        started(bound.map { address in address.port.map { "\(address.ipAddress ?? "?"):\($0)" } ?? "\(address)" })
        let signal = await TerminationSignal.wait()
        logger.notice("stopping", metadata: ["signal": "\(signal)"])
        await node.shutdown()
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
