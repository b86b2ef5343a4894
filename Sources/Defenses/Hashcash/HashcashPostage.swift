import Crypto
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import SMTPCore

/// DM26 "CAMRAM": hashcash postage checked at the mx. A stranger who spent CPU time on a
/// stamp for each recipient (``HashcashStamp`` in an `X-Hashcash:` or `Hashcash:` field) is
/// unlikely to be a bulk sender; the stage verifies the stamps and writes what it found into
/// the message for the later stages and the reader, or (action `require`) refuses unpaid mail.
///
/// A recipient is **paid** when one stamp of the message's header
/// - is a version 1 stamp whose resource is that envelope recipient (case-insensitive),
/// - claims at least ``Configuration/requiredBits`` and its SHA-1 has the claimed zero bits,
/// - was minted at most ``Configuration/maxAge`` ago and at most
///   ``Configuration/futureTolerance`` ahead of our clock (the date has day resolution),
/// - and was not spent on another message before: the stage records each stamp it counts in the
///   ``StateStore`` (`hashcash:` + the stamp's SHA-1) until it expires, with a digest of the
///   message's header. A stamp seen again with the same header is the same message retried
///   (after a 4xx), not a double spend. A store failure counts the stamp (logged): a broken
///   database does not refuse paid mail.
///
/// The result field, above the message (stripped from incoming mail like every `X-Mailnode-`
/// field): `X-Mailnode-Hashcash: pass; paid=2/2; bits=20`, or `partial`, `fail` (stamps, none
/// paid; with the reason of the first refused stamp) or `none` (no stamp). With
/// ``Configuration/Action/require`` anything but `pass` is refused with `550 5.7.1`.
///
/// Trusted upstream stages, authenticated sessions and messages the DM21 allow list lets skip
/// the spam checks are not checked (no field). Log field `defense=DM26`; counters `DM26 tagged`
/// and `DM26 rejected`.
public struct HashcashPostage: MessageInspector {
    public struct Configuration: Sendable, Hashable {
        /// What the stage does with what it found.
        public enum Action: String, Sendable, Hashable, CaseIterable {
            /// Write the result field; accept (the default).
            case tag
            /// Refuse mail unless every recipient is paid (`550 5.7.1`).
            case require
        }

        /// The least work a stamp must show (`mx.hashcash.bits`, default 20: about a second of one core).
        public var requiredBits: Int
        /// How old a stamp may be (`mx.hashcash.max_age`, default 7 days: mail waits in queues).
        public var maxAge: Duration
        /// How far ahead of our clock a stamp's date may be (2 days: the date is a day, not an instant).
        public var futureTolerance: Duration
        public var action: Action
        /// Never checked (upstream stages).
        public var trustedNetworks: [IPNetwork]
        public var messageLimits: MessageLimits

        public init(requiredBits: Int = 20, maxAge: Duration = .seconds(7 * 86_400), futureTolerance: Duration = .seconds(2 * 86_400),
                    action: Action = .tag, trustedNetworks: [IPNetwork] = [], messageLimits: MessageLimits = MessageLimits()) {
            self.requiredBits = requiredBits
            self.maxAge = maxAge
            self.futureTolerance = futureTolerance
            self.action = action
            self.trustedNetworks = trustedNetworks
            self.messageLimits = messageLimits
        }
    }

    /// Why a stamp did not pay for a recipient (the first one is named in the result field).
    public enum Refusal: String, Sendable, Hashable {
        case malformed
        /// Its resource is none of the envelope recipients (or another stamp paid for it).
        case otherResource = "other-resource"
        case insufficient
        case expired
        case future
        /// Counted for another message before.
        case spent
    }

    /// The summary for one message.
    public struct Result: Sendable, Hashable {
        public var stamps: Int
        public var paid: Int
        public var recipients: Int
        public var refusal: Refusal?

        /// `pass`, `partial`, `fail` or `none`.
        public var keyword: String {
            if recipients > 0, paid == recipients { return "pass" }
            if paid > 0 { return "partial" }
            return stamps == 0 ? "none" : "fail"
        }
    }

    public static let id = DefenseID.camram
    /// The header fields read (lower case); `X-Hashcash` is what the hashcash tool and CAMRAM write.
    public static let stampFields: Set<String> = ["x-hashcash", "hashcash"]
    public static let resultField = "X-Mailnode-Hashcash"
    /// `550 5.7.1` under `require`: the sender has to learn that postage is asked for.
    public static let refusal = Reply(.mailboxUnavailable, EnhancedStatusCode(5, 7, 1), "Hashcash postage required for every recipient")
    /// Stamp fields looked at per message (each costs one SHA-1).
    public static let maxStampFields = 1000

    public let configuration: Configuration
    public let store: any StateStore
    /// DM21: a message it allows is not checked.
    public let allowList: AllowList?
    let metrics: DefenseMetrics?
    let now: @Sendable () -> Date
    let logger: Logger

    public init(_ configuration: Configuration, store: any StateStore, allowList: AllowList? = nil, metrics: DefenseMetrics? = nil,
                now: @escaping @Sendable () -> Date = { Date() }, logger: Logger = Logger(label: "mailnode.defense.hashcash")) {
        self.configuration = configuration
        self.store = store
        self.allowList = allowList
        self.metrics = metrics
        self.now = now
        self.logger = logger
    }

    public func begin(envelope: Envelope, session: SessionContext) async -> (any MessageInspection)? {
        guard !DefenseHookSupport.isExempt(session, authenticated: true, trusted: configuration.trustedNetworks),
              allowList?.allows(message: envelope, session: session) == nil else { return nil }
        let recipients = envelope.recipients.compactMap { $0.path.mailbox.map { MessageASCII.lowercased("\($0)") } }
        return Inspection(owner: self, recipients: recipients, session: session)
    }

    /// The state store key of a stamp.
    static func spentKey(_ stamp: HashcashStamp) -> String { "hashcash:" + stamp.digestHex }

    /// Judges `header`'s stamps for `recipients` (lower-cased addresses), spending the ones that pay.
    func evaluate(_ header: MessageHeader, recipients: [String], session: SessionContext) async -> Result {
        // By bytes (``HeaderField/hasName(_:)``): no lower-cased copy of every field name per message.
        let fields = header.fields.lazy.filter { field in Self.stampFields.contains { field.hasName($0) } }
            .prefix(Self.maxStampFields)
        var result = Result(stamps: 0, paid: 0, recipients: Set(recipients).count, refusal: nil)
        var unpaid = Set(recipients)
        let instant = now()
        // Only a stamp that reaches the double-spend check needs it (most mail has no stamp).
        var headerDigest: String?
        func refuse(_ reason: Refusal) { if result.refusal == nil { result.refusal = reason } }
        for field in fields {
            result.stamps += 1
            guard let stamp = HashcashStamp(field.value) else { refuse(.malformed); continue }
            let resource = MessageASCII.lowercased(stamp.resource)
            guard unpaid.contains(resource) else { refuse(.otherResource); continue }
            guard stamp.isPaid(required: configuration.requiredBits) else { refuse(.insufficient); continue }
            guard stamp.date >= instant.addingTimeInterval(-configuration.maxAge.seconds) else { refuse(.expired); continue }
            guard stamp.date <= instant.addingTimeInterval(configuration.futureTolerance.seconds) else { refuse(.future); continue }
            // Kept as long as the stamp would be accepted: until its date plus the age limit.
            let expires = max(stamp.date.addingTimeInterval(configuration.maxAge.seconds), instant).addingTimeInterval(1)
            let digest = headerDigest ?? HashcashStamp.hex(SHA256.hash(data: header.wireBytes).prefix(16))
            headerDigest = digest
            do {
                let record = try await store.insertRecord(Self.spentKey(stamp), value: digest, expires: expires, at: instant)
                guard record.value == digest else {
                    logger.notice("hashcash stamp spent before", metadata: [
                        "defense": "\(Self.id)", "session": "\(session.sessionID)", "stamp": "\(stamp)",
                        "first_seen": "\(record.created)",
                    ])
                    refuse(.spent)
                    continue
                }
            } catch {
                logger.warning("hashcash double-spend check failed; stamp counted", metadata: [
                    "defense": "\(Self.id)", "session": "\(session.sessionID)", "stamp": "\(stamp)", "error": "\(error)",
                ])
            }
            unpaid.remove(resource)
            result.paid += 1
        }
        return result
    }

    /// One message: the header is read as it streams in, the body ignored.
    final class Inspection: MessageInspection {
        struct State {
            var reader: MessageReader
            var header: MessageHeader?
            var problem: String?
        }

        let owner: HashcashPostage
        let recipients: [String]
        let session: SessionContext
        /// Methods are called one at a time; the lock only makes the class `Sendable`.
        private let state: NIOLockedValueBox<State>

        init(owner: HashcashPostage, recipients: [String], session: SessionContext) {
            self.owner = owner
            self.recipients = recipients
            self.session = session
            state = NIOLockedValueBox(State(reader: MessageReader(limits: owner.configuration.messageLimits)))
        }

        func update(_ chunk: ByteBuffer) async {
            state.withLockedValue { state in
                guard state.header == nil, state.problem == nil else { return }
                do {
                    _ = try state.reader.feed(Array(chunk.readableBytesView))
                    state.header = state.reader.header
                } catch {
                    state.problem = "message header: \(error)"
                }
            }
        }

        func finish(summary: MessageDataSummary) async -> InspectionVerdict {
            let (header, problem) = state.withLockedValue { state -> (MessageHeader?, String?) in
                if state.header == nil, state.problem == nil {
                    do { state.header = try state.reader.finish() } catch { state.problem = "message header: \(error)" }
                }
                return (state.header, state.problem)
            }
            let configuration = owner.configuration
            guard let header else {
                // The header could not be read: no stamps to count.
                owner.logger.info("hashcash postage not checked", metadata: [
                    "defense": "\(HashcashPostage.id)", "session": "\(session.sessionID)", "problem": "\(problem ?? "-")",
                ])
                return configuration.action == .require
                    ? .refuse(HashcashPostage.refusal, defense: "\(HashcashPostage.id)") : .accept
            }
            let result = await owner.evaluate(header, recipients: recipients, session: session)
            var metadata: Logger.Metadata = [
                "defense": "\(HashcashPostage.id)", "session": "\(session.sessionID)", "result": "\(result.keyword)",
                "paid": "\(result.paid)/\(result.recipients)", "stamps": "\(result.stamps)",
            ]
            if let refusal = result.refusal { metadata["reason"] = "\(refusal.rawValue)" }
            if configuration.action == .require, result.keyword != "pass" {
                owner.logger.notice("hashcash postage missing; message refused", metadata: metadata)
                owner.metrics?.record("\(HashcashPostage.id)", .rejected)
                return .refuse(HashcashPostage.refusal, defense: "\(HashcashPostage.id)")
            }
            owner.logger.info("hashcash postage checked", metadata: metadata)
            owner.metrics?.record("\(HashcashPostage.id)", .tagged)
            var value = "\(result.keyword); paid=\(result.paid)/\(result.recipients); bits=\(configuration.requiredBits)"
            if result.keyword != "pass", let refusal = result.refusal { value += "; reason=\(refusal.rawValue)" }
            return InspectionVerdict(prepend: "\(HashcashPostage.resultField): \(value)\r\n")
        }
    }
}
