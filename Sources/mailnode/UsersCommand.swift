import ArgumentParser
import Defenses
import Foundation
import Roles
import StatePostgres
import StateSQLite

/// `mailnode users add|passwd|del|list|alias|disable|enable`: the node's users (issue 7's user
/// directory) in `<spool>/defenses/users.sqlite`. Passwords are read from standard input (one
/// line), never from the command line (where `ps` and shell history would show them), and stored
/// only as yescrypt hashes.
struct UsersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "users",
        abstract: "Manage the node's mail users (passwords read from standard input).",
        subcommands: [UsersAdd.self, UsersPasswd.self, UsersDelete.self, UsersList.self, UsersAlias.self,
                      UsersDisable.self, UsersEnable.self])
}

/// `--config FILE`, `--spool DIR` or `--directory FILE`: which user directory.
struct UserDirectoryOption: ParsableArguments {
    @Option(help: "Spool directory of the node (default: mailnode-data/spool when it exists, else /var/spool/mailnode).")
    var spool: String?

    @Option(help: "The user directory file (default: <spool>/defenses/users.sqlite).")
    var directory: String?

    /// Declared for `--help`; the root command owns `--config` and takes its value, so the
    /// file is read from the command line (``configurationFile``), as `mailnode review` does.
    @Option(help: "The node's configuration file: its submission.users / store.users (or <node.spool>/defenses/users.sqlite).")
    var config: String?

    var configurationFile: String? { ConfigurationArgument.file(declared: config) }

    var path: String {
        if let directory { return directory }
        if let file = configurationFile { return Self.path(configuration: file) }
        let spool = spool ?? (FileManager.default.fileExists(atPath: "mailnode-data/spool") ? "mailnode-data/spool" : "/var/spool/mailnode")
        return spool + "/defenses/users.sqlite"
    }

    /// The user directory a configuration file's roles use: `submission.users`, `store.users`
    /// (the same file unless the file says otherwise), else `<node.spool>/defenses/users.sqlite`.
    static func path(configuration file: String) -> String {
        let node: NodeConfiguration
        do {
            node = try Mailnode.load(file, role: "")
        } catch {
            Foundation.exit(2)   // load printed the file:line: key: problem line
        }
        let paths = Set([node.submission?.usersPath, node.store?.usersPath].compactMap { $0 })
        guard paths.count <= 1 else {
            UsersCommand.fail("\(file) names two user directories (\(paths.sorted().joined(separator: ", "))): choose one with --directory")
        }
        return paths.first ?? node.spoolDirectory + "/defenses/users.sqlite"
    }

    /// Runs `body` with the directory: the SQLite file, or — when `--config` names a node whose
    /// `state.users = "store"` — the PostgreSQL state store's users (prepared, closed afterwards).
    func withDirectory<T: Sendable>(_ body: (any UserDirectory) async throws -> T) async throws -> T {
        if directory == nil, let file = configurationFile, let postgres = Self.postgresStore(configuration: file) {
            let store = PostgresStateStore(configuration: postgres)
            let result: Result<T, any Error>
            do {
                try await store.prepare()
                result = .success(try await body(store.users))
            } catch {
                result = .failure(error)
            }
            await store.shutdown()
            return try result.get()
        }
        let users: SQLiteUserDirectory
        do {
            users = try SQLiteUserDirectory(path: path)
        } catch {
            UsersCommand.fail("\(path): \(error)")
        }
        return try await body(users)
    }

    /// The PostgreSQL store of a configuration whose users live there (`state.users = "store"`).
    static func postgresStore(configuration file: String) -> PostgresStateConfiguration? {
        guard let node = try? Mailnode.load(file, role: ""), node.state.usersInStore, case .postgres(let postgres) = node.state.backend else {
            return nil
        }
        return postgres
    }
}

extension UsersCommand {
    static func fail(_ message: String) -> Never {
        FileHandle.standardError.write(Data("mailnode: \(message)\n".utf8))
        Foundation.exit(2)
    }

    /// One line from standard input: the password (a trailing CR/LF removed).
    static func readPassword() -> String {
        guard let line = Swift.readLine(strippingNewline: true), !line.isEmpty else {
            fail("no password on standard input (e.g. `printf '%s\\n' \"$PASSWORD\" | mailnode users add …`)")
        }
        return line.hasSuffix("\r") ? String(line.dropLast()) : line
    }

    static func run(_ body: () async throws -> Void) async {
        do {
            try await body()
        } catch let error as UserDirectoryError {
            fail("\(error)")
        } catch PasswordHash.Failure.unusablePassword {
            fail("the password is empty or too long")
        } catch {
            fail("\(error)")
        }
    }
}

struct UsersAdd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "add", abstract: "Add a user; the password comes from standard input.")
    @OptionGroup var target: UserDirectoryOption
    @Argument(help: "The login name, usually the address (alice@example.org).") var name: String
    @Option(name: .customLong("alias"), help: "Another address of the user (repeatable).") var aliases: [String] = []

    func run() async {
        let password = UsersCommand.readPassword()
        await UsersCommand.run {
            let hash = try await PasswordHash.make(password)
            try await target.withDirectory { try await $0.add(MailUser(name: name, passwordHash: hash, aliases: aliases)) }
            print("added \(name.lowercased())" + (aliases.isEmpty ? "" : " (aliases: \(aliases.map { $0.lowercased() }.joined(separator: ", ")))"))
        }
    }
}

struct UsersPasswd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "passwd", abstract: "Set a user's password from standard input.")
    @OptionGroup var target: UserDirectoryOption
    @Argument var name: String

    func run() async {
        let password = UsersCommand.readPassword()
        await UsersCommand.run {
            let hash = try await PasswordHash.make(password)
            try await target.withDirectory { try await $0.setPasswordHash(hash, for: name) }
            print("password of \(name.lowercased()) changed")
        }
    }
}

struct UsersDelete: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "del", abstract: "Remove a user and its aliases.")
    @OptionGroup var target: UserDirectoryOption
    @Argument var name: String

    func run() async {
        await UsersCommand.run {
            guard try await target.withDirectory({ try await $0.remove(name) }) else { throw UserDirectoryError.noSuchUser(name.lowercased()) }
            print("removed \(name.lowercased())")
        }
    }
}

struct UsersAlias: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "alias", abstract: "Replace a user's aliases (none given: remove them all).")
    @OptionGroup var target: UserDirectoryOption
    @Argument var name: String
    @Argument var aliases: [String] = []

    func run() async {
        await UsersCommand.run {
            try await target.withDirectory { try await $0.setAliases(aliases, for: name) }
            print("aliases of \(name.lowercased()): \(aliases.isEmpty ? "none" : aliases.map { $0.lowercased() }.joined(separator: ", "))")
        }
    }
}

struct UsersDisable: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "disable", abstract: "Refuse a user's logins (mail for them is still accepted).")
    @OptionGroup var target: UserDirectoryOption
    @Argument var name: String

    func run() async {
        await UsersCommand.run { try await target.withDirectory { try await $0.setDisabled(true, for: name) }; print("\(name.lowercased()) disabled") }
    }
}

struct UsersEnable: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "enable", abstract: "Allow a disabled user's logins again.")
    @OptionGroup var target: UserDirectoryOption
    @Argument var name: String

    func run() async {
        await UsersCommand.run { try await target.withDirectory { try await $0.setDisabled(false, for: name) }; print("\(name.lowercased()) enabled") }
    }
}

struct UsersList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List the users (never their password hashes).")
    @OptionGroup var target: UserDirectoryOption
    @Option(help: "Output format: table or json.") var format: QueueOutputFormat = .table

    struct Entry: Encodable {
        var name: String
        var aliases: [String]
        var disabled: Bool
        var created: String
        var hashMethod: String
    }

    func run() async {
        await UsersCommand.run {
            let users = try await target.withDirectory { try await $0.all() }
            let formatter = ISO8601DateFormatter()
            let entries = users.map {
                Entry(name: $0.name, aliases: $0.aliases, disabled: $0.disabled, created: formatter.string(from: $0.created),
                      hashMethod: $0.passwordHash.split(separator: "$").first.map { "$\($0)$" } ?? "?")
            }
            switch format {
            case .json:
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                print(String(decoding: try encoder.encode(["users": entries]), as: UTF8.self))
            case .table:
                print("USER                                      ALIASES                         STATE     HASH  CREATED")
                for entry in entries {
                    let aliases = entry.aliases.isEmpty ? "-" : entry.aliases.joined(separator: ",")
                    print(entry.name.padding(toLength: 42, withPad: " ", startingAt: 0) + aliases.padding(toLength: 32, withPad: " ", startingAt: 0)
                          + (entry.disabled ? "disabled  " : "active    ") + entry.hashMethod.padding(toLength: 6, withPad: " ", startingAt: 0)
                          + entry.created)
                }
                print("\(entries.count) user(s)")
            }
        }
    }
}
