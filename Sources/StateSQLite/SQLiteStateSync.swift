/// How far a commit of ``SQLiteStateStore`` has reached the disk when it returns: SQLite's
/// [`PRAGMA synchronous`](https://www.sqlite.org/pragma.html#pragma_synchronous) in WAL mode
/// (`[state] sync`, docs/state.md).
///
/// Either way a commit survives the node's process dying (kill -9: the WAL is in the kernel's
/// page cache) and the file is never corrupted. They differ only when the *machine* stops (power
/// loss, kernel crash).
public enum SQLiteStateSync: String, Sendable, Hashable, CaseIterable {
    /// The WAL is synced at checkpoints only (the default). A power loss can forget the last
    /// commits — a few seconds of rate-limit counts, greylist triplets or greet-pause records,
    /// which the defenses then relearn (a greylisted sender retries once more, a counter starts
    /// lower). Postfix's anvil keeps its rate counters in memory only and loses all of them on
    /// every restart; the state store holds no mail, no users and no passwords.
    case normal
    /// Every commit syncs the WAL (`fsync`) before the SMTP event it served goes on: nothing
    /// committed is lost even to a power loss, at one disk sync per write transaction.
    case full
}
