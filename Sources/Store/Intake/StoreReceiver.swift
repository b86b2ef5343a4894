#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Defenses
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import SMTPCore

/// How the store takes mail from the stage in front of it.
public struct StoreIntakeConfiguration: Sendable {
    /// Our name in the `Received` field.
    public var hostname: String
    /// Clients whose `Mailnode-Id` is trusted: a retried hand-off from them is not stored twice
    /// (MN06). Everyone else's id is ignored (an outsider must not suppress someone's mail).
    public var trustedUpstreams: [IPNetwork]
    /// DM35, the same for every user (`store.quota_bytes`, `store.quota_messages`).
    public var quota: QuotaLimits
    /// A message with this many `Received` fields is refused (`554 5.4.6`, a loop).
    public var maxHops: Int

    public init(hostname: String, trustedUpstreams: [IPNetwork] = [], quota: QuotaLimits = .init(), maxHops: Int = 50) {
        self.hostname = hostname
        self.trustedUpstreams = trustedUpstreams
        self.quota = quota
        self.maxHops = maxHops
    }

    func trusts(_ session: SessionContext) -> Bool {
        guard let address = session.remoteAddress else { return false }
        return trustedUpstreams.contains { $0.contains(address) }
    }
}

/// The store's replies, named.
public enum StoreReplies {
    /// `250 2.0.0` for a recipient whose INBOX has the message.
    public static func delivered(_ id: String) -> Reply { Reply(.ok, .ok, "Delivered as \(id)") }
    /// `550 5.1.1`: no such user (RFC 3463 X.1.1).
    public static let unknownUser = Reply(.mailboxUnavailable, .badDestinationMailbox, "No such user here")
    /// `452 4.2.2`: over quota (RFC 3463 X.2.2 "mailbox full"); the previous stage keeps the message.
    public static let mailboxFull = Reply(.insufficientStorage, .mailboxFull, "Mailbox full, try again later")
    /// `451 4.3.0`: the directory or store could not answer.
    public static let tryLater = Reply(.localError, .temporarySystemError, "Local error in processing, try again later")
    /// `554 5.4.6`: too many hops.
    public static let loop = Reply(.transactionFailed, EnhancedStatusCode(5, 4, 6), "Too many hops: mail loop?")
}

extension StoreFileError: SMTPReplyError {
    /// A full disk is temporary (`452 4.3.1`); anything else `451 4.3.0`.
    public var reply: Reply {
        isDiskFull ? Reply(.insufficientStorage, .systemFull, "Insufficient system storage, try again later") : StoreReplies.tryLater
    }
}

/// Delivers each message the store role receives over LMTP (or SMTP) into its recipients'
/// INBOXes: the bytes stream into a body file while they arrive (``Defenses/UserDirectory``
/// resolves names and aliases to users), and at the end of data one store transaction files it
/// for every recipient, checking quota (DM35) and earlier deliveries of the same
/// `Mailnode-Id` (MN06). Each recipient's `250` comes after that transaction is durable (RFC
/// 2033 §4.2: one reply per recipient); over quota is `452 4.2.2` for that recipient only, and
/// the previous stage keeps it. Over SMTP, with one reply for all, either every recipient gets
/// the message or none does.
///
/// The stored message is `Return-Path:` (RFC 5321 §4.4) and our `Received:` field, then the
/// message exactly as received.
public struct StoreReceiver: MessageReceiver {
    public let store: any MailboxStore
    public let users: any UserDirectory
    public let configuration: StoreIntakeConfiguration
    let logger: Logger

    public init(store: any MailboxStore, users: any UserDirectory, configuration: StoreIntakeConfiguration,
                logger: Logger = Logger(label: "mailnode.store")) {
        self.store = store
        self.users = users
        self.configuration = configuration
        self.logger = logger
    }

    public func open(envelope: Envelope, session: SessionContext) async throws -> any MessageWriter {
        let body = try store.stage()
        let writer = StoreMessageWriter(receiver: self, envelope: envelope, session: session, body: body)
        try await body.write(ByteBuffer(string: Self.traceFields(envelope: envelope, session: session, id: body.id,
                                                                  hostname: configuration.hostname, arrival: Date())))
        return writer
    }

    /// `Return-Path` and `Received` (RFC 5321 §4.4), CRLF-terminated.
    static func traceFields(envelope: Envelope, session: SessionContext, id: String, hostname: String, arrival: Date) -> String {
        var from = session.heloName?.description ?? "unknown"
        if let client = session.remoteAddress?.ipAddress { from += " (\(client))" }
        var received = "Received: from \(from)\r\n\tby \(hostname) with \(session.receivedProtocol(smtpUTF8: envelope.parameters.smtpUTF8)) id \(id)"
        if let tls = session.tls { received += " (\(tls.version))" }
        if envelope.recipients.count == 1 { received += "\r\n\tfor \(envelope.recipients[0].path)" }
        return "Return-Path: \(envelope.reversePath)\r\n" + received + "; " + RFC5322Date.string(arrival) + "\r\n"
    }
}

/// One message on its way into the store. Methods are called one at a time (``MessageWriter``);
/// the lock only makes the class `Sendable`.
final class StoreMessageWriter: MessageWriter {
    let receiver: StoreReceiver
    let envelope: Envelope
    let session: SessionContext
    let body: any BodyWriter
    private let scanner = NIOLockedValueBox(TraceFieldScanner())

    init(receiver: StoreReceiver, envelope: Envelope, session: SessionContext, body: any BodyWriter) {
        self.receiver = receiver
        self.envelope = envelope
        self.session = session
        self.body = body
    }

    private var logger: Logger { receiver.logger }

    func write(_ chunk: ByteBuffer) async throws {
        scanner.withLockedValue { $0.append(chunk) }
        try await body.write(chunk)
    }

    func abort() async {
        await body.abort()
    }

    func commit(summary: MessageDataSummary) async throws -> CommitResult {
        let trace = scanner.withLockedValue { scanner in
            scanner.finish()
            return scanner
        }
        let lmtp = session.sessionProtocol == .lmtp
        func finish(_ replies: [Reply], queueID: String?) -> CommitResult {
            if lmtp { return CommitResult(reply: replies.first ?? StoreReplies.tryLater, recipientReplies: replies, queueID: queueID) }
            return CommitResult(reply: replies.first { !$0.code.isPositiveCompletion } ?? replies.first ?? StoreReplies.tryLater, queueID: queueID)
        }
        if trace.receivedCount >= receiver.configuration.maxHops {
            await body.abort()
            logger.warning("mail loop: too many hops", metadata: ["session": "\(session.sessionID)", "received_fields": "\(trace.receivedCount)"])
            return finish(envelope.recipients.map { _ in StoreReplies.loop }, queueID: nil)
        }
        // Each recipient's user; several addresses of one user get one copy.
        var owners: [String?] = []
        var failures: [Int: Reply] = [:]
        for (index, recipient) in envelope.recipients.enumerated() {
            do {
                let user = try await receiver.users.user(forAddress: Self.address(recipient.path))
                owners.append(user?.name)
                if user == nil { failures[index] = StoreReplies.unknownUser }
            } catch {
                owners.append(nil)
                failures[index] = StoreReplies.tryLater
                logger.error("user directory failed", metadata: ["session": "\(session.sessionID)", "error": "\(error)"])
            }
        }
        if !lmtp, !failures.isEmpty {
            await body.abort()
            return finish([failures.values.first!], queueID: nil)
        }
        let staged = try await body.finish()
        var targets: [String] = []
        for case let user? in owners where !targets.contains(user) { targets.append(user) }
        let key: String? = receiver.configuration.trusts(session) ? trace.mailnodeID.flatMap { MailnodeIDHeader.isValid($0) ? $0 : nil } : nil
        let outcomes: [DeliveryOutcome]
        if targets.isEmpty {
            await receiver.store.discard(staged)
            outcomes = []
        } else {
            outcomes = try await receiver.store.deliver(
                staged, to: targets.map { DeliveryTarget(user: $0, quota: receiver.configuration.quota) },
                deduplicationKey: key, allOrNothing: !lmtp)
        }
        var byUser: [String: DeliveryOutcome] = [:]
        for (user, outcome) in zip(targets, outcomes) {
            byUser[user] = outcome
            log(outcome, user: user, id: staged.id, key: key, size: staged.size)
        }
        let replies = envelope.recipients.indices.map { index -> Reply in
            if let failure = failures[index] { return failure }
            switch byUser[owners[index]!]! {
            case .stored: return StoreReplies.delivered(staged.id)
            case .duplicate: return StoreReplies.delivered("before")
            case .overQuota, .notAttempted: return StoreReplies.mailboxFull
            }
        }
        return finish(replies, queueID: staged.id)
    }

    static func address(_ path: ForwardPath) -> String {
        switch path {
        case .postmaster: return "postmaster"
        case .mailbox(let mailbox): return mailbox.description
        }
    }

    private func log(_ outcome: DeliveryOutcome, user: String, id: String, key: String?, size: Int) {
        var metadata: Logger.Metadata = ["session": "\(session.sessionID)", "user": "\(user)", "id": "\(id)", "size": "\(size)"]
        if let key { metadata["mailnode_id"] = "\(key)" }
        switch outcome {
        case .stored(let uid, let usage, let before):
            metadata["uid"] = "\(uid)"
            logger.info("delivered", metadata: metadata)
            let quota = receiver.configuration.quota
            let percent = quota.percent(of: usage)
            if !quota.isUnlimited, percent >= quota.warningPercent, quota.percent(of: before) < quota.warningPercent {
                metadata["defense"] = "\(DefenseID.mailboxQuota)"
                metadata["percent"] = "\(percent)"
                metadata["bytes"] = "\(usage.bytes)/\(quota.bytes)"
                metadata["messages"] = "\(usage.messages)/\(quota.messages)"
                logger.warning("mailbox quota warning", metadata: metadata)
            }
        case .duplicate:
            logger.notice("duplicate hand-off not stored again", metadata: metadata)
        case .overQuota(let usage):
            metadata["defense"] = "\(DefenseID.mailboxQuota)"
            metadata["bytes"] = "\(usage.bytes)"
            metadata["messages"] = "\(usage.messages)"
            logger.notice("over quota: not delivered", metadata: metadata)
        case .notAttempted:
            logger.info("not delivered: another recipient is over quota (one SMTP reply)", metadata: metadata)
        }
    }
}
