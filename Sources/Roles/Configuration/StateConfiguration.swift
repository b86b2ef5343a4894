import StatePostgres
import StateSQLite

/// Where the node keeps what its defenses remember across sessions (`[state]`, docs/state.md).
/// The store is opened only when a mechanism that needs it is enabled (greylisting, rate limits).
public struct StateConfiguration: Sendable, Hashable {
    /// Which ``Defenses/StateStore`` implementation.
    public enum Backend: Sendable, Hashable, CustomStringConvertible {
        /// One SQLite file (the default): `[state] path`, default `<node.spool>/defenses/state.sqlite`.
        case sqlite(path: String)
        /// A PostgreSQL database several nodes share: `[state] url`.
        case postgres(PostgresStateConfiguration)
        /// In memory: forgotten on restart (tests, throwaway nodes).
        case memory

        /// For logs and `review`: the password never appears.
        public var description: String {
            switch self {
            case .sqlite(let path): return "sqlite \(path)"
            case .postgres(let configuration): return "postgres \(configuration)"
            case .memory: return "memory"
            }
        }
    }

    public var backend: Backend
    /// How often expired records and counter buckets are deleted (default 3600 s).
    public var purgeInterval: Duration
    /// `state.users = "store"`: the user directory lives in this (PostgreSQL) store, shared by
    /// every node that uses it, instead of the `users.sqlite` file (`"file"`, the default).
    public var usersInStore = false
    /// `state.sync`: how far an SQLite commit has reached the disk when it returns (default
    /// `normal`: synced at checkpoints; `full`: every commit). Only for `backend = "sqlite"`.
    public var sqliteSync: SQLiteStateSync = .normal
    /// `state.write_behind` (ms): the SQLite store keeps the state in memory and writes what
    /// changed this often (default 100 ms; ``StateSQLite/SQLiteWriteBehindStore``); `.zero`: every
    /// operation commits to the file before it returns (``StateSQLite/SQLiteStateStore``, which
    /// several processes may share). Only for `backend = "sqlite"`.
    public var sqliteWriteBehind: Duration = .milliseconds(100)

    public init(backend: Backend, purgeInterval: Duration = .seconds(3600)) {
        self.backend = backend
        self.purgeInterval = purgeInterval
    }

    /// The default SQLite file beside the spool.
    public static func defaultPath(spool: String) -> String { spool + "/defenses/state.sqlite" }
}
