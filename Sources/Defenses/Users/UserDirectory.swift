import Foundation
import SMTPCore

/// One mail user: the login name (usually the address), the password hash, the other addresses
/// that deliver to and may send as this user (aliases).
public struct MailUser: Sendable, Hashable, Codable {
    /// Lower case; usually the primary address (`alice@example.org`).
    public var name: String
    /// A crypt(3) string (``PasswordHash``); never logged.
    public var passwordHash: String
    /// Other addresses of the user (lower case).
    public var aliases: [String]
    /// A disabled user cannot log in; their mail is still accepted.
    public var disabled: Bool
    public var created: Date

    public init(name: String, passwordHash: String, aliases: [String] = [], disabled: Bool = false, created: Date = Date()) {
        self.name = name.lowercased()
        self.passwordHash = passwordHash
        self.aliases = aliases.map { $0.lowercased() }
        self.disabled = disabled
        self.created = created
    }

    /// Every address of the user: the name when it is an address, then the aliases.
    public var addresses: [String] { (name.contains("@") ? [name] : []) + aliases }
}

/// Why a directory change was refused.
public enum UserDirectoryError: Error, Sendable, Hashable, CustomStringConvertible {
    case exists(String)
    case noSuchUser(String)
    /// The address is already a user's name or alias.
    case addressTaken(String, by: String)

    public var description: String {
        switch self {
        case .exists(let name): "user \(name) exists"
        case .noSuchUser(let name): "no user \(name)"
        case .addressTaken(let address, let owner): "\(address) already belongs to \(owner)"
        }
    }
}

/// The users of a node (issue 7): the submission role authenticates against it, and the mx and
/// store roles ask it which local addresses exist. `SQLiteUserDirectory` (module `StateSQLite`)
/// keeps it in a file; ``MemoryUserDirectory`` for tests and embedders.
public protocol UserDirectory: Sendable {
    func user(named name: String) async throws -> MailUser?
    /// The user an address (name or alias) belongs to.
    func user(forAddress address: String) async throws -> MailUser?
    func add(_ user: MailUser) async throws
    func setPasswordHash(_ hash: String, for name: String) async throws
    func setAliases(_ aliases: [String], for name: String) async throws
    func setDisabled(_ disabled: Bool, for name: String) async throws
    /// Returns false when there was no such user.
    func remove(_ name: String) async throws -> Bool
    /// Every user, sorted by name.
    func all() async throws -> [MailUser]
}

/// A ``UserDirectory`` in memory.
public actor MemoryUserDirectory: UserDirectory {
    private var users: [String: MailUser] = [:]

    public init(_ users: [MailUser] = []) {
        for user in users { self.users[user.name] = user }
    }

    public func user(named name: String) -> MailUser? { users[name.lowercased()] }

    public func user(forAddress address: String) -> MailUser? {
        let address = address.lowercased()
        return users[address] ?? users.values.first { $0.aliases.contains(address) }
    }

    public func add(_ user: MailUser) throws {
        guard users[user.name] == nil else { throw UserDirectoryError.exists(user.name) }
        for address in user.addresses {
            if let owner = self.user(forAddress: address) { throw UserDirectoryError.addressTaken(address, by: owner.name) }
        }
        users[user.name] = user
    }

    public func setPasswordHash(_ hash: String, for name: String) throws {
        guard users[name.lowercased()] != nil else { throw UserDirectoryError.noSuchUser(name) }
        users[name.lowercased()]?.passwordHash = hash
    }

    public func setAliases(_ aliases: [String], for name: String) throws {
        guard users[name.lowercased()] != nil else { throw UserDirectoryError.noSuchUser(name) }
        for alias in aliases.map({ $0.lowercased() }) {
            if let owner = user(forAddress: alias), owner.name != name.lowercased() { throw UserDirectoryError.addressTaken(alias, by: owner.name) }
        }
        users[name.lowercased()]?.aliases = aliases.map { $0.lowercased() }
    }

    public func setDisabled(_ disabled: Bool, for name: String) throws {
        guard users[name.lowercased()] != nil else { throw UserDirectoryError.noSuchUser(name) }
        users[name.lowercased()]?.disabled = disabled
    }

    public func remove(_ name: String) -> Bool { users.removeValue(forKey: name.lowercased()) != nil }

    public func all() -> [MailUser] { users.values.sorted { $0.name < $1.name } }
}

/// The directory's users as DM19's recipient directory: an address exists when it is a user's
/// name or alias.
public struct UserRecipientDirectory: RecipientDirectory {
    public let users: any UserDirectory

    public init(_ users: any UserDirectory) { self.users = users }

    public func lookup(_ mailbox: Mailbox) async -> RecipientLookup {
        do {
            return try await users.user(forAddress: "\(mailbox)") != nil ? .exists : .unknown
        } catch {
            return .unavailable("\(error)")
        }
    }
}
