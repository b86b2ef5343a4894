import NIOCore

/// Where a session hands the messages it receives (the durable spool, a mailbox store...).
///
/// The session opens one writer per message when data starts, streams chunks into it, and
/// calls ``MessageWriter/commit(summary:)`` at the end. The writer's reply is what the client
/// sees: an implementation must make the message durable (fsync) *before* returning a 2xx.
public protocol MessageReceiver: Sendable {
    func open(envelope: Envelope, session: SessionContext) async throws -> any MessageWriter
}

/// Receives one message's bytes in order. Methods are called one at a time, never concurrently.
public protocol MessageWriter: AnyObject, Sendable {
    func write(_ chunk: ByteBuffer) async throws
    /// Makes the message durable and returns the replies.
    func commit(summary: MessageDataSummary) async throws -> CommitResult
    /// Drops the message (rejected, size exceeded, connection lost).
    func abort() async
}

/// The outcome of committing a message.
public struct CommitResult: Sendable, Hashable {
    /// The reply for SMTP (one reply for the whole message).
    public var reply: Reply
    /// LMTP (RFC 2033 §4.2): one reply per accepted recipient, in RCPT order. When nil, `reply`
    /// applies to each recipient.
    public var recipientReplies: [Reply]?
    /// The id under which the message was stored (for logs).
    public var queueID: String?

    public init(reply: Reply, recipientReplies: [Reply]? = nil, queueID: String? = nil) {
        self.reply = reply
        self.recipientReplies = recipientReplies
        self.queueID = queueID
    }
}
