import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore

/// Which clients of a ``SpoolReceiver`` are earlier mailnode stages.
public struct SpoolReceiverConfiguration: Sendable, Hashable {
    /// Per listener name (``SMTPListenerConfiguration/name``): the networks of upstream
    /// mailnode stages. Their `Mailnode-Id` is kept and retried hand-offs are deduplicated; every
    /// other client's `Mailnode-Id` fields are removed and the message gets a new id. Empty
    /// (the default): every client is outside, as on an `mx`.
    public var trustedUpstreams: [String: [IPNetwork]]
    /// Octets at the start of a message searched for the end of the header section (its
    /// `Mailnode-Id` fields). Held in memory per message being received.
    public var maxHeaderScan: Int
    /// A message that already has this many `Received` fields is refused with
    /// `554 5.4.6` (a mail loop, RFC 5321 §6.3). Postfix's `hopcount_limit` default.
    public var maxHops: Int
    /// Listener names whose `Received` field leaves out the client's address (the submission
    /// role's `hide_client_address`: a user's private or home address is nobody's business
    /// downstream). The address is still in the spool record and the logs.
    public var hideClientAddress: Set<String>

    public init(trustedUpstreams: [String: [IPNetwork]] = [:], maxHeaderScan: Int = 256 * 1024, maxHops: Int = 50,
                hideClientAddress: Set<String> = []) {
        self.trustedUpstreams = trustedUpstreams
        self.maxHeaderScan = maxHeaderScan
        self.maxHops = maxHops
        self.hideClientAddress = hideClientAddress
    }

    /// True when the session's client (after PROXY resolution) is an upstream stage of its listener.
    public func trusts(_ session: SessionContext) -> Bool {
        guard let address = session.remoteAddress, let networks = trustedUpstreams[session.listenerName] else { return false }
        return networks.contains { $0.contains(address) }
    }
}

/// A ``MessageReceiver`` that makes every message durable in a ``SpoolStore`` before the
/// session answers 250 (DESIGN.md §3.1), prepends the stage's `Received:` trace header
/// ([RFC 5321 §4.4](https://www.rfc-editor.org/rfc/rfc5321#section-4.4)) and keeps the
/// message's ``MailnodeIDHeader`` stable across stages.
///
/// **Deduplication.** A message from a trusted upstream stage carries a `Mailnode-Id`. With a
/// ``DeliveredSet``, each (id, recipient) pair stored is remembered — durably, before the 250.
/// When the upstream retries a hand-off whose 250 it never saw, the recipients already stored
/// are answered 250 again (per recipient in LMTP, RFC 2033 §4.2) and not stored twice. A copy
/// that arrives while the first is still being received gets `451 4.3.0` and comes back later.
/// A retry is byte-identical, so the key includes the number of `Received` fields: a copy that
/// comes back around a routing loop has more of them, is not taken for a retry (and silently
/// dropped), and ends at ``SpoolReceiverConfiguration/maxHops`` with `554 5.4.6` instead.
public final class SpoolReceiver: MessageReceiver {
    public let store: SpoolStore
    /// Our name in the `by` clause of the Received header and in new `Mailnode-Id`s.
    public let hostname: String
    public let configuration: SpoolReceiverConfiguration
    /// The pairs already stored; nil turns deduplication off.
    public let delivered: (any DeliveredSet)?
    /// The message stage: checks that see each message as it arrives and decide before the
    /// commit (``MessageInspector``), in order. A message that any of them inspects is written in
    /// format 2 (its fields go in front); an inspector that only removes fields changes nothing else.
    public let inspectors: [any MessageInspector]
    let logger: Logger
    /// Pairs whose message is being received right now, on any session.
    private let receiving = NIOLockedValueBox<Set<DeliveredKey>>([])

    public init(store: SpoolStore, hostname: String, configuration: SpoolReceiverConfiguration = .init(),
                delivered: (any DeliveredSet)? = nil, inspectors: [any MessageInspector] = [],
                logger: Logger = Logger(label: "mailnode.spool")) {
        self.store = store
        self.hostname = hostname
        self.configuration = configuration
        self.delivered = delivered
        self.inspectors = inspectors
        self.logger = logger
    }

    public func open(envelope: Envelope, session: SessionContext) async throws -> any MessageWriter {
        var logger = self.logger
        logger[metadataKey: "session"] = "\(session.sessionID)"
        var inspections: [any MessageInspection] = []
        for inspector in inspectors {
            if let inspection = await inspector.begin(envelope: envelope, session: session) { inspections.append(inspection) }
        }
        return Writer(receiver: self, envelope: envelope, session: session, id: SpoolStore.makeID(), arrival: Date(),
                      trusted: configuration.trusts(session), inspections: inspections, logger: logger)
    }

    /// Claims the keys not being received elsewhere; returns which ones it claimed.
    func reserve(_ keys: [DeliveredKey]) -> [Bool] {
        receiving.withLockedValue { set in keys.map { set.insert($0).inserted } }
    }

    func release(_ keys: [DeliveredKey]) {
        guard !keys.isEmpty else { return }
        receiving.withLockedValue { set in
            for key in keys { set.remove(key) }
        }
    }

    static let busyReply = Reply(.localError, .temporarySystemError, "Try again later")
    /// RFC 3463 X.4.6 "Routing loop detected".
    static let loopReply = Reply(.transactionFailed, EnhancedStatusCode(5, 4, 6), "Too many hops: mail loop?")

    /// A writer whose start failed was asked to commit.
    struct WriterFinished: Error {}

    /// One message: collects the header section, decides what to store, then streams into a
    /// spool entry (or discards when nothing is left to store).
    final class Writer: MessageWriter {
        let receiver: SpoolReceiver
        let envelope: Envelope
        let session: SessionContext
        let id: String
        let arrival: Date
        let trusted: Bool
        /// This message's inspections (the message stage), fed every chunk.
        let inspections: [any MessageInspection]
        let logger: Logger

        enum Outcome: Sendable {
            case store
            case duplicate(queueID: String)
            case busy
            case loop
        }

        /// What ``begin(_:)`` decided.
        struct Plan: Sendable {
            var mailnodeID: String
            /// `Received` fields in the message as it arrived (part of the delivered key).
            var hops = 0
            /// The id came from an upstream stage: stored pairs are recorded.
            var fromUpstream: Bool
            /// Per recipient of the envelope, in RCPT order.
            var outcomes: [Outcome]
            /// Keys this writer holds in ``SpoolReceiver/receiving`` (released when done).
            var reserved: [DeliveredKey]

            /// The delivered key: the id and, after a slash, the hop count (see the type's docs).
            func key(for recipient: ForwardPath) -> DeliveredKey {
                DeliveredKey(messageID: "\(mailnodeID)/\(hops)", recipient: recipient)
            }
        }

        enum Phase: Sendable {
            case collecting(HeaderSectionCollector)
            case storing(SpoolStore.EntryWriter, Plan)
            case discarding(Plan)
            case finished
        }

        /// Methods are called one at a time (``MessageWriter``); the lock only makes the class `Sendable`.
        private let phase: NIOLockedValueBox<Phase>

        init(receiver: SpoolReceiver, envelope: Envelope, session: SessionContext, id: String, arrival: Date,
             trusted: Bool, inspections: [any MessageInspection] = [], logger: Logger) {
            self.receiver = receiver
            self.inspections = inspections
            self.envelope = envelope
            self.session = session
            self.id = id
            self.arrival = arrival
            self.trusted = trusted
            self.logger = logger
            phase = NIOLockedValueBox(.collecting(HeaderSectionCollector(limit: receiver.configuration.maxHeaderScan)))
        }

        func write(_ chunk: ByteBuffer) async throws {
            for inspection in inspections { await inspection.update(chunk) }
            // Take the collector out of the box so appending does not copy its bytes.
            let current = phase.withLockedValue { phase -> Phase in
                defer { if case .collecting = phase { phase = .finished } }
                return phase
            }
            switch current {
            case .collecting(var collector):
                if collector.append(chunk) {
                    try await begin(collector)
                } else {
                    phase.withLockedValue { $0 = .collecting(collector) }
                }
            case .storing(let writer, _):
                try await writer.write(chunk)
            case .discarding, .finished:
                return
            }
        }

        func commit(summary: MessageDataSummary) async throws -> CommitResult {
            if case .collecting(var collector) = phase.withLockedValue({ $0 }) {
                collector.finish()
                try await begin(collector)
            }
            let current = phase.withLockedValue { phase in
                defer { phase = .finished }
                return phase
            }
            switch current {
            case .storing(let writer, let plan):
                let prepend: String
                switch await inspect(summary) {
                case .refused(let reply):
                    await writer.abort()
                    receiver.release(plan.reserved)
                    return CommitResult(reply: reply)
                case .accepted(let fields):
                    prepend = fields
                }
                let entry: SpoolEntry
                do {
                    entry = try await writer.commit(prepending: prepend)
                } catch {
                    receiver.release(plan.reserved)
                    throw error
                }
                await remember(plan, queueID: entry.id)
                receiver.release(plan.reserved)
                return result(plan, queueID: entry.id)
            case .discarding(let plan):
                receiver.release(plan.reserved)
                return result(plan, queueID: nil)
            case .collecting, .finished:
                throw WriterFinished()   // begin() failed before; the session answers 451
            }
        }

        func abort() async {
            let current = phase.withLockedValue { phase in
                defer { phase = .finished }
                return phase
            }
            switch current {
            case .storing(let writer, let plan):
                await writer.abort()
                receiver.release(plan.reserved)
            case .discarding(let plan):
                receiver.release(plan.reserved)
            case .collecting, .finished:
                return
            }
        }

        // MARK: - Deciding

        enum InspectionOutcome {
            case accepted(prepend: String)
            case refused(Reply)
        }

        /// Asks every inspection for its verdict (all of them, so each can log and count); the
        /// first refusal decides. Accepted: the prepended fields in inspector order.
        private func inspect(_ summary: MessageDataSummary) async -> InspectionOutcome {
            guard !inspections.isEmpty else { return .accepted(prepend: "") }
            var prepend = ""
            var refusal: InspectionVerdict?
            for inspection in inspections {
                let verdict = await inspection.finish(summary: summary)
                if case .refuse = verdict.disposition {
                    if refusal == nil { refusal = verdict }
                } else {
                    prepend += verdict.prepend
                }
            }
            if let refusal, case .refuse(let reply) = refusal.disposition {
                logger.notice("message refused", metadata: [
                    "defense": "\(refusal.defense ?? "-")", "reply": "\(reply.code.rawValue) \(reply.enhancedCode.map { "\($0)" } ?? "")",
                    "from": "\(envelope.reversePath)", "size": "\(summary.octets)",
                ])
                return .refused(reply)
            }
            return .accepted(prepend: prepend)
        }

        /// The header section is complete: choose the id, filter the header, check the
        /// delivered set, and start the spool entry for the recipients left to store.
        private func begin(_ collector: HeaderSectionCollector) async throws {
            let headerLength = collector.headerLength ?? collector.bytes.count
            let fields = HeaderSectionFields(collector.bytes[..<headerLength])
            var plan = Plan(mailnodeID: "", hops: fields.receivedCount, fromUpstream: false,
                            outcomes: Array(repeating: .store, count: envelope.recipients.count), reserved: [])
            if fields.receivedCount >= receiver.configuration.maxHops {
                logger.warning("mail loop: too many hops", metadata: [
                    "received_fields": "\(fields.receivedCount)", "limit": "\(receiver.configuration.maxHops)",
                    "mailnode_id": "\(fields.firstMailnodeID ?? "-")",
                ])
                plan.outcomes = plan.outcomes.map { _ in .loop }
                phase.withLockedValue { $0 = .discarding(plan) }
                return
            }
            var removed: [Range<Int>] = []
            if trusted, let upstreamID = fields.firstMailnodeID, MailnodeIDHeader.isValid(upstreamID) {
                plan.mailnodeID = upstreamID
                plan.fromUpstream = true
            } else {
                // Outside clients never choose the id (they could suppress someone else's mail).
                plan.mailnodeID = MailnodeIDHeader.makeID(queueID: id, hostname: receiver.hostname)
                removed = fields.mailnodeIDRanges
                if fields.mailnodeIDCount > 0 {
                    logger.notice("Mailnode-Id removed", metadata: [
                        "fields": "\(fields.mailnodeIDCount)", "trusted": "\(trusted)", "mailnode_id": "\(plan.mailnodeID)",
                    ])
                }
            }
            if !receiver.inspectors.isEmpty {
                let session = self.session
                let inspectors = receiver.inspectors
                let dropped = fields.ranges { name, value in inspectors.contains { $0.removesField(name: name, value: value, session: session) } }
                if !dropped.isEmpty {
                    logger.notice("header fields removed", metadata: ["fields": "\(dropped.count)"])
                    removed = Array(Set(removed + dropped)).sorted { $0.lowerBound < $1.lowerBound }
                }
            }
            let header = fields.removing(removed)
            if plan.fromUpstream, let delivered = receiver.delivered {
                try await deduplicate(&plan, delivered: delivered)
            }

            let stored = envelope.recipients.indices.filter { if case .store = plan.outcomes[$0] { return true } else { return false } }
            if stored.isEmpty {
                phase.withLockedValue { $0 = .discarding(plan) }
                return
            }
            var storedEnvelope = envelope
            storedEnvelope.recipients = stored.map { envelope.recipients[$0] }
            let record = SpoolRecord(id: id, envelope: storedEnvelope, client: session.remoteAddress?.ipAddress,
                                     helo: session.heloName?.description, tls: session.tls?.version,
                                     authenticatedUser: session.authenticatedUser, session: session.sessionID,
                                     arrival: arrival)
            var prefix = ReceivedHeader(record: record, session: session, hostname: receiver.hostname,
                                        hideClient: receiver.configuration.hideClientAddress.contains(session.listenerName)).text
            if !plan.fromUpstream { prefix += MailnodeIDHeader.field(plan.mailnodeID) }
            let writer: SpoolStore.EntryWriter
            do {
                writer = try receiver.store.begin(record, prefix: ByteBuffer(string: prefix), withPrepend: !inspections.isEmpty)
            } catch {
                receiver.release(plan.reserved)
                phase.withLockedValue { $0 = .finished }
                throw error
            }
            phase.withLockedValue { $0 = .storing(writer, plan) }
            var start = ByteBuffer(bytes: header)
            start.writeBytes(collector.bytes[headerLength...])
            try await writer.write(start)
        }

        /// Marks recipients already stored (duplicates) or being received elsewhere (busy).
        private func deduplicate(_ plan: inout Plan, delivered: any DeliveredSet) async throws {
            let keys = envelope.recipients.map { plan.key(for: $0.path) }
            // The same recipient twice in one envelope follows its first occurrence.
            var first: [DeliveredKey: Int] = [:]
            for index in keys.indices where first[keys[index]] == nil { first[keys[index]] = index }
            let unique = keys.indices.filter { first[keys[$0]] == $0 }
            // Claim first, then look up: a copy that finished meanwhile is then in the set.
            let claimed = receiver.reserve(unique.map { keys[$0] })
            for (position, index) in unique.enumerated() {
                if claimed[position] { plan.reserved.append(keys[index]) } else { plan.outcomes[index] = .busy }
            }
            let found: [DeliveredKey: String]
            do {
                found = try await delivered.lookup(plan.reserved)
            } catch {
                receiver.release(plan.reserved)
                phase.withLockedValue { $0 = .finished }
                throw error
            }
            for index in keys.indices {
                if let queueID = found[keys[index]] {
                    plan.outcomes[index] = .duplicate(queueID: queueID)
                } else if let earlier = first[keys[index]], earlier != index {
                    plan.outcomes[index] = plan.outcomes[earlier]
                }
            }
            var released: [DeliveredKey] = []
            for (key, queueID) in found {
                released.append(key)
                logger.notice("duplicate hand-off not stored again", metadata: [
                    "mailnode_id": "\(plan.mailnodeID)", "rcpt": "\(key.recipient)", "queued_as": "\(queueID)",
                ])
            }
            let busy = plan.outcomes.contains { if case .busy = $0 { return true } else { return false } }
            if busy {
                logger.info("copy of a message being received on another session: try again later",
                            metadata: ["mailnode_id": "\(plan.mailnodeID)"])
                if session.sessionProtocol == .smtp {
                    // One reply for all recipients: store none now, the retry sorts them out.
                    released = plan.reserved
                    plan.outcomes = plan.outcomes.map { _ in .busy }
                }
            }
            receiver.release(released)
            plan.reserved.removeAll { released.contains($0) }
        }

        // MARK: - Finishing

        /// Records the stored pairs; a failure here costs at worst a duplicate later, never the
        /// message, so the stored message still gets its 250.
        private func remember(_ plan: Plan, queueID: String) async {
            guard plan.fromUpstream, let delivered = receiver.delivered else { return }
            let keys = envelope.recipients.indices.compactMap { index -> DeliveredKey? in
                guard case .store = plan.outcomes[index] else { return nil }
                return plan.key(for: envelope.recipients[index].path)
            }
            do {
                try await delivered.record(keys, queueID: queueID)
            } catch {
                logger.error("cannot record delivered pairs: a retry of this hand-off would be stored again",
                             metadata: ["mailnode_id": "\(plan.mailnodeID)", "queue_id": "\(queueID)", "error": "\(error)"])
            }
        }

        private func result(_ plan: Plan, queueID: String?) -> CommitResult {
            let replies = plan.outcomes.map { outcome -> Reply in
                switch outcome {
                case .store: return Reply(.ok, .ok, "Queued as \(queueID ?? id)")
                case .duplicate(let earlier): return Reply(.ok, .ok, "Queued as \(earlier)")
                case .busy: return SpoolReceiver.busyReply
                case .loop: return SpoolReceiver.loopReply
                }
            }
            if session.sessionProtocol == .lmtp {
                return CommitResult(reply: replies.first ?? Reply(.ok, .ok, "OK"), recipientReplies: replies, queueID: queueID)
            }
            // SMTP: busy means nothing was stored; otherwise every recipient is stored now or was before.
            let reply = replies.first { !$0.code.isPositiveCompletion } ?? (queueID.map { Reply(.ok, .ok, "Queued as \($0)") } ?? replies.first)
            return CommitResult(reply: reply ?? Reply(.ok, .ok, "OK"), queueID: queueID)
        }
    }
}
