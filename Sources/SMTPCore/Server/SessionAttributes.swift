import NIOConcurrencyHelpers

/// The key of one value that hooks keep for the length of a session.
///
/// Every key made with ``init(_:)`` is distinct, even with the same name, and copies of a key are
/// the same key: a hook makes its keys once (in its `init`, or as a `static let`), so two
/// instances of one defense never read each other's values.
///
/// ```swift
/// let verdictKey = SessionAttributeKey<Task<Verdict, Never>>("dnsbl.client")
/// session.attributes[verdictKey] = Task { await check(client) }   // at connect
/// let verdict = await session.attributes[verdictKey]?.value       // at RCPT TO
/// ```
public struct SessionAttributeKey<Value: Sendable>: Hashable, Sendable, CustomStringConvertible {
    /// For logs and debugging only; not part of the identity.
    public let name: String
    let token = SessionAttributeToken()

    public init(_ name: String) {
        self.name = name
    }

    public var description: String { name }

    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.token === rhs.token
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(ObjectIdentifier(token))
    }
}

/// What makes a ``SessionAttributeKey`` unique.
final class SessionAttributeToken: Sendable {}

/// Values that hooks keep per session, e.g. a DNS-list verdict found at connect time and acted
/// on at RCPT TO without asking DNS again.
///
/// ``SessionHooks`` receive the ``SessionContext`` by value, so a hook cannot change it; this is
/// the one reference inside it. It is created with the session, shared by every copy of that
/// session's context, and released with the session — no store keyed by session id that someone
/// must clean up. Hooks of one session run one after the other, but a value may be used by a
/// task a hook started, so access is locked.
///
/// Equality is identity: two contexts are equal only if they share one session's storage.
public final class SessionAttributes: Sendable, Hashable {
    private struct Entry: Sendable {
        /// Held so that the key's identity cannot be reused while its value is stored.
        var token: SessionAttributeToken
        var value: any Sendable
    }

    private let entries = NIOLockedValueBox<[ObjectIdentifier: Entry]>([:])

    public init() {}

    /// The value stored under `key`, or `nil`; assigning `nil` removes it.
    public subscript<Value>(key: SessionAttributeKey<Value>) -> Value? {
        get { entries.withLockedValue { $0[ObjectIdentifier(key.token)]?.value as? Value } }
        set {
            entries.withLockedValue { stored in
                stored[ObjectIdentifier(key.token)] = newValue.map { Entry(token: key.token, value: $0) }
            }
        }
    }

    /// The value under `key`; when there is none, `make()` creates it and it is stored — in one
    /// step, so two callers never both create one.
    public func value<Value>(for key: SessionAttributeKey<Value>, orInsert make: () -> Value) -> Value {
        entries.withLockedValue { stored in
            if let existing = stored[ObjectIdentifier(key.token)]?.value as? Value { return existing }
            let created = make()
            stored[ObjectIdentifier(key.token)] = Entry(token: key.token, value: created)
            return created
        }
    }

    /// Drops every value. The server calls it when the session closes (before its last reply
    /// goes out, and when the client goes away), so that what a value holds — DM10's connection
    /// slot — is given back then, not whenever the last copy of the context is released.
    func removeAll() {
        let dropped = entries.withLockedValue { stored in
            defer { stored = [:] }
            return stored
        }
        _ = consume dropped   // released outside the lock: a value's deinit may take other locks
    }

    public static func == (lhs: SessionAttributes, rhs: SessionAttributes) -> Bool {
        lhs === rhs
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(ObjectIdentifier(self))
    }
}
