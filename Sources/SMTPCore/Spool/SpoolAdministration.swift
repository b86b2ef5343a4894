import Foundation
import Logging
import NIOCore

/// One operator command on a spool (`mailnode queue flush|hold|release|delete|bounce`), as
/// Postfix's `postqueue -f`/`-i` and `postsuper -h`/`-H`/`-d` do it.
public struct SpoolAdminCommand: Sendable, Hashable, Codable, CustomStringConvertible {
    public enum Verb: String, Sendable, Hashable, Codable, CaseIterable {
        /// Attempt now, ignoring the backoff: one entry, or every deferred one (`id` nil).
        case flush
        /// Not attempted until released; persisted in `state/ID` (``DeliveryState/heldSince``).
        case hold
        /// Back to the schedule, due now.
        case release
        /// Removed without a bounce.
        case delete
        /// Every still-pending recipient fails now: one RFC 3464 bounce to the sender (never to
        /// `<>`, never for NOTIFY=NEVER), then the entry is removed.
        case bounce
    }

    public var verb: Verb
    /// The queue id; nil only for `flush` of the whole queue.
    public var id: String?

    public init(_ verb: Verb, id: String?) {
        self.verb = verb
        self.id = id
    }

    public var description: String { id.map { "\(verb.rawValue) \($0)" } ?? verb.rawValue }

    /// Why every pending recipient of a bounced entry failed (RFC 3463 X.0.0: other status).
    public static let bounceReply = Reply(.transactionFailed, EnhancedStatusCode(5, 0, 0), "Returned to sender by the mail system administrator")
}

/// What a command did, in one line for the operator.
public struct SpoolAdminOutcome: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The entries it changed.
    public var ids: [String]
    public var message: String
    /// The bounce queued by `bounce` (nil: none, for `<>` or NOTIFY=NEVER).
    public var bounceID: String?

    public init(ids: [String], message: String, bounceID: String? = nil) {
        self.ids = ids
        self.message = message
        self.bounceID = bounceID
    }

    public var description: String { message }
}

/// Why a command was not carried out. Each is one line for the operator (exit status 1).
extension SpoolAdminCommand {
    /// Carries the command out through `body` with the queue id in the log metadata, and logs
    /// the result: `queue admin` (done), `queue admin refused` (a ``SpoolAdminError``) or
    /// `queue admin failed` (anything else, reported as ``SpoolAdminError/failed(_:)``). Shared
    /// by the running runner and the direct file administrator.
    func logged(_ logger: Logger, isolation: isolated (any Actor)? = #isolation,
                _ body: (Logger) async throws -> SpoolAdminOutcome) async throws(SpoolAdminError) -> SpoolAdminOutcome {
        var log = logger
        if let id { log[metadataKey: "msg"] = "\(id)" }
        do {
            let outcome = try await body(log)
            log.notice("queue admin", metadata: ["action": "\(verb.rawValue)", "result": "\(outcome.message)"])
            return outcome
        } catch let error as SpoolAdminError {
            log.warning("queue admin refused", metadata: ["action": "\(verb.rawValue)", "error": "\(error)"])
            throw error
        } catch {
            log.error("queue admin failed", metadata: ["action": "\(verb.rawValue)", "error": "\(error)"])
            throw .failed("\(self): \(error)")
        }
    }
}

public enum SpoolAdminError: Error, Sendable, Hashable, Codable, CustomStringConvertible {
    /// Not a name ``SpoolStore/makeID()`` produces (nothing outside `queue/` can be named).
    case badID(String)
    /// No such entry in `queue/` (never there, or already delivered or removed).
    case notFound(String)
    /// `flush ID` of a held entry: release it first.
    case held(String)
    /// The command could not be carried out (a file operation failed, the node did not answer).
    case failed(String)

    public var description: String {
        switch self {
        case .badID(let id): "'\(id)' is not a queue id"
        case .notFound(let id): "\(id): no such message in the queue"
        case .held(let id): "\(id): held; release it first"
        case .failed(let why): why
        }
    }
}

/// Carries out operator commands on one spool: the running ``SpoolRunner`` (which then honours
/// them in its schedule at once), or ``DirectSpoolAdministrator`` on the files when no runner
/// owns the spool.
public protocol SpoolAdministrator: Sendable {
    func perform(_ command: SpoolAdminCommand) async throws(SpoolAdminError) -> SpoolAdminOutcome
}

extension SpoolStore {
    /// True for names ``makeID()`` produces: upper-case letters and digits only.
    public static func isValidID(_ id: String) -> Bool {
        !id.isEmpty && id.count <= 40 && id.unicodeScalars.allSatisfy { ("0"..."9").contains($0) || ("A"..."Z").contains($0) }
    }

    /// The saved delivery state of `id` (nil: none saved yet, or unusable — recovery starts such
    /// an entry over).
    public func savedState(_ id: String, recipientCount: Int) -> DeliveryState? {
        guard let data = FileManager.default.contents(atPath: stateDirectory + "/" + id),
              let state = try? JSONDecoder().decode(DeliveryState.self, from: data),
              state.recipients.count == recipientCount else { return nil }
        return state
    }

    /// Removes an entry and its state and fsyncs both directories, so that an operator's delete
    /// is not undone by a crash (``remove(_:)`` skips the fsyncs: a lost removal there only
    /// re-sends a delivered message).
    public func delete(_ id: String) async throws {
        let queue = queueDirectory, state = stateDirectory
        try await threadPool.runIfActive {
            DurableFile.remove(state + "/" + id)
            DurableFile.remove(queue + "/" + id)
            try DurableFile.syncDirectory(state)
            try DurableFile.syncDirectory(queue)
        }
    }

    /// Queues one RFC 3464 bounce for `failures` of `entry` to its sender, the code path of every
    /// bounce (a next hop's 5yz, expiry, `mailnode queue bounce`). None for `<>` or NOTIFY=NEVER
    /// ([RFC 3461 §4.1](https://www.rfc-editor.org/rfc/rfc3461#section-4.1),
    /// [RFC 5321 §6.1](https://www.rfc-editor.org/rfc/rfc5321#section-6.1)); returns the bounce's id.
    @discardableResult
    public func queueBounce(for entry: SpoolEntry, failures: [DeliveryStatusNotification.ReportedRecipient],
                            reportingMTA: String, logger: Logger) async throws -> String? {
        try await queueReport(.failure, for: entry, recipients: failures, reportingMTA: reportingMTA, logger: logger)
    }

    /// Queues one RFC 3464 report of `kind` about `recipients` of `entry` to its sender: the code
    /// path of bounces, delayed-delivery warnings and success reports. Only for the recipients
    /// whose NOTIFY asks for `kind`, never to `<>`
    /// ([RFC 3461 §4.1](https://www.rfc-editor.org/rfc/rfc3461#section-4.1),
    /// [RFC 5321 §6.1](https://www.rfc-editor.org/rfc/rfc5321#section-6.1)); no warning or success
    /// report about a message that is itself a delivery report. Returns the report's id, nil
    /// when none was wanted (that is not an error: the caller's decision is done).
    @discardableResult
    public func queueReport(_ kind: DeliveryStatusNotification.Kind, for entry: SpoolEntry,
                            recipients: [DeliveryStatusNotification.ReportedRecipient], reportingMTA: String,
                            willRetryUntil: Date? = nil, date: Date = Date(), logger: Logger) async throws -> String? {
        let wanted = DeliveryStatusNotification.reportable(recipients, kind: kind, sender: entry.record.envelope.reversePath)
        guard !wanted.isEmpty else {
            logger.info(kind == .failure ? "no bounce" : "no \(kind.rawValue) report", metadata: [
                "reason": "null sender or not asked for by NOTIFY",
            ])
            return nil
        }
        let headers = (try? await DeliveryStatusNotification.headerSection(of: message(of: entry))) ?? ""
        if kind != .failure, DeliveryStatusNotification.isDeliveryReport(headers: headers) {
            logger.info("no \(kind.rawValue) report", metadata: ["reason": "the message is itself a delivery report"])
            return nil
        }
        var full: String?
        if kind == .failure,
           DeliveryStatusNotification.returnsFullMessage(entry.record.envelope.parameters, size: entry.messageSize),
           let bytes = try? await DeliveryStatusNotification.wholeMessage(of: message(of: entry)) {
            full = DeliveryStatusNotification.attachable(bytes)
        }
        let dsn = DeliveryStatusNotification(kind: kind, reportingMTA: reportingMTA, record: entry.record, recipients: wanted,
                                             originalHeaders: headers, originalMessage: full,
                                             willRetryUntil: willRetryUntil, date: date)
        guard let envelope = dsn.envelope else { return nil }
        let report = try await inject(envelope: envelope, message: ByteBuffer(string: dsn.message),
                                      session: kind == .failure ? "bounce" : "dsn")
        let event: Logger.Message
        switch kind {
        case .failure: event = "bounce queued"
        case .delay: event = "delay warning queued"
        case .success: event = "success report queued"
        }
        logger.notice(event, metadata: [
            kind == .failure ? "bounce" : "dsn": "\(report.id)", "to": "\(entry.record.envelope.reversePath)",
            "rcpts": "\(wanted.count)",
        ])
        return report.id
    }
}

/// Operator commands carried out on the spool's files, for when no ``SpoolRunner`` owns the
/// spool: `mailnode queue …` with no node running (it holds the spool's ``SpoolLock`` meanwhile),
/// or a node without next hops. Each change is durable before it returns (state: write, fsync,
/// rename, fsync `state/`; removals: fsync both directories).
public struct DirectSpoolAdministrator: SpoolAdministrator {
    public let store: SpoolStore
    /// Our name in bounces (`Reporting-MTA`).
    public let hostname: String
    let logger: Logger

    public init(store: SpoolStore, hostname: String, logger: Logger) {
        self.store = store
        self.hostname = hostname
        self.logger = logger
    }

    public func perform(_ command: SpoolAdminCommand) async throws(SpoolAdminError) -> SpoolAdminOutcome {
        try await command.logged(logger) { log in try await carryOut(command, logger: log) }
    }

    private func carryOut(_ command: SpoolAdminCommand, logger: Logger) async throws -> SpoolAdminOutcome {
        guard let id = command.id else {
            // flush of the whole queue: every deferred entry that is not held becomes due.
            var flushed: [String] = []
            for id in try store.committedIDs() where SpoolStore.isValidID(id) {
                guard let (entry, state) = try? load(id), !state.isHeld, !state.isFinished else { continue }
                if state.nextAttempt > Date() {
                    var due = state
                    due.nextAttempt = Date()
                    try await store.save(due, for: entry.id)
                }
                flushed.append(id)
            }
            return SpoolAdminOutcome(ids: flushed, message: "\(flushed.count) message\(flushed.count == 1 ? "" : "s") due now")
        }
        var (entry, state) = try load(id)
        switch command.verb {
        case .flush:
            guard !state.isHeld else { throw SpoolAdminError.held(id) }
            state.nextAttempt = Date()
            try await store.save(state, for: id)
            return SpoolAdminOutcome(ids: [id], message: "\(id): due now")
        case .hold:
            guard !state.isHeld else { return SpoolAdminOutcome(ids: [id], message: "\(id): already held") }
            state.heldSince = Date()
            try await store.save(state, for: id)
            return SpoolAdminOutcome(ids: [id], message: "\(id): held")
        case .release:
            guard state.isHeld else { return SpoolAdminOutcome(ids: [id], message: "\(id): not held") }
            state.heldSince = nil
            state.nextAttempt = Date()
            try await store.save(state, for: id)
            return SpoolAdminOutcome(ids: [id], message: "\(id): released, due now")
        case .delete:
            try await store.delete(id)
            return SpoolAdminOutcome(ids: [id], message: "\(id): deleted")
        case .bounce:
            let failures = state.pendingIndices.map {
                DeliveryStatusNotification.ReportedRecipient(recipient: entry.record.envelope.recipients[$0],
                                                             reply: SpoolAdminCommand.bounceReply, remoteMTA: nil)
            }
            // The bounce is durable before the entry goes: a crash in between bounces twice, never not at all.
            let bounce = try await store.queueBounce(for: entry, failures: failures, reportingMTA: hostname, logger: logger)
            try await store.delete(id)
            return SpoolAdminOutcome.bounced(id, bounce: bounce)
        }
    }

    private func load(_ id: String) throws -> (SpoolEntry, DeliveryState) {
        guard SpoolStore.isValidID(id) else { throw SpoolAdminError.badID(id) }
        guard FileManager.default.fileExists(atPath: store.queueDirectory + "/" + id) else { throw SpoolAdminError.notFound(id) }
        let entry = try store.committedEntry(id)
        let count = entry.record.envelope.recipients.count
        return (entry, store.savedState(id, recipientCount: count) ?? DeliveryState(recipientCount: count, nextAttempt: Date()))
    }
}

extension SpoolAdminOutcome {
    static func bounced(_ id: String, bounce: String?) -> SpoolAdminOutcome {
        SpoolAdminOutcome(ids: [id], message: bounce.map { "\(id): returned to the sender (bounce \($0)), removed" }
                              ?? "\(id): removed; no bounce (null sender or NOTIFY=NEVER)",
                          bounceID: bounce)
    }
}
