import Foundation

/// Where delivery of one spool entry stands, per recipient. Saved beside the entry after every
/// attempt (`state/ID`), so a restart resumes exactly where the node stopped.
public struct DeliveryState: Codable, Sendable, Hashable {
    public enum Status: String, Codable, Sendable, Hashable {
        /// Not delivered yet; will be tried again.
        case pending
        /// Accepted by the next hop (2xx).
        case delivered
        /// Permanently refused, or expired; a bounce was queued if the sender wants one.
        case failed
    }

    public struct Recipient: Codable, Sendable, Hashable {
        public var status: Status
        public var attempts: Int
        /// The last reply (or error) for this recipient, for logs, queue listings and bounces.
        public var lastResult: String?
        /// The next hop or mail exchanger last tried for this recipient (``NextHop/description``);
        /// nil before the first attempt (and in state saved by older versions).
        public var hop: String?
        /// When the delayed-delivery warning for this recipient was dealt with: queued, or found
        /// not to be sent because the message is itself a delivery report. Saved, so a restart
        /// does not warn again (one warning per recipient); nil before (and in older state).
        public var delayNotified: Date?
    }

    /// Parallel to the entry's `envelope.recipients`.
    public var recipients: [Recipient]
    public var attempts: Int
    public var nextAttempt: Date
    /// Set by `mailnode queue hold ID`: the entry is not attempted until released (like Postfix's
    /// `postsuper -h`). Saved with the state, so a hold survives a restart.
    public var heldSince: Date?

    public init(recipientCount: Int, nextAttempt: Date) {
        recipients = Array(repeating: Recipient(status: .pending, attempts: 0, lastResult: nil), count: recipientCount)
        attempts = 0
        self.nextAttempt = nextAttempt
    }

    /// Whether an operator holds the entry (``heldSince``).
    public var isHeld: Bool { heldSince != nil }

    /// The most recent reply or error of a recipient still pending: what holds the entry up.
    public var lastError: String? {
        pendingIndices.compactMap { recipients[$0].lastResult }.last
    }

    public var pendingIndices: [Int] { recipients.indices.filter { recipients[$0].status == .pending } }
    public var isFinished: Bool { !recipients.contains { $0.status == .pending } }
}
