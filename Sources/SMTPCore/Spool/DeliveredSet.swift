/// One message for one recipient, as a receiving stage remembers it: the `Mailnode-Id` the
/// first stage gave the message and the recipient's forward-path.
///
/// Two hand-offs of the same message to the same recipient have the same key, however often
/// the upstream stage retries; the same message to another recipient has another key.
public struct DeliveredKey: Hashable, Sendable, CustomStringConvertible {
    /// The `Mailnode-Id` value, e.g. `<00HOFLHTBTQ7XLKT016I@mx.example.org>`; ``SpoolReceiver``
    /// appends the hop count (`/3`) so a copy that went round a loop is not taken for a retry.
    public var messageID: String
    /// The forward-path in canonical form (``canonical(_:)``), e.g. `<b@example.org>`.
    public var recipient: String

    public init(messageID: String, recipient: String) {
        self.messageID = messageID
        self.recipient = recipient
    }

    public init(messageID: String, recipient: ForwardPath) {
        self.init(messageID: messageID, recipient: DeliveredKey.canonical(recipient))
    }

    /// The forward-path with its domain in lower case (domains are case-insensitive, RFC 5321
    /// §2.4; the local part is not, so it stays as sent).
    public static func canonical(_ path: ForwardPath) -> String {
        switch path {
        case .postmaster:
            return "<postmaster>"
        case .mailbox(let mailbox):
            var lowered = mailbox
            if case .domain(let name) = mailbox.host { lowered.host = .domain(name.lowercased()) }
            return "<\(lowered)>"
        }
    }

    public var description: String { "\(messageID) \(recipient)" }
}

/// The pairs a receiving stage has already stored, so that a retried hand-off from an earlier
/// stage is answered 250 without storing the message again (DESIGN.md §3.1: forwarding is
/// at-least-once, delivery exactly-once).
///
/// The spool keeps a file-backed set (``FileDeliveredSet``); a shared SQL state store can take
/// its place for stages that run as several instances. An implementation must make
/// ``record(_:queueID:)`` durable before it returns: the 250 that follows relies on it.
public protocol DeliveredSet: Sendable {
    /// The keys among `keys` that were recorded within the retention period, each with the
    /// queue id under which the message was stored.
    func lookup(_ keys: [DeliveredKey]) async throws -> [DeliveredKey: String]
    /// Remembers that `keys` were stored under `queueID`; returns once that is on stable storage.
    func record(_ keys: [DeliveredKey], queueID: String) async throws
}
