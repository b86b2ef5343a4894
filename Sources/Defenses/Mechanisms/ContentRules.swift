import Logging
import NIOConcurrencyHelpers
import NIOCore
import SMTPCore

/// DM23 "regular expressions", on the message: operator patterns matched against each header
/// field and each body line as the message streams into the spool (Postfix's `header_checks`
/// and `body_checks`). The first match refuses the message at the end of DATA with `550 5.7.1`
/// and a generic text; the log names the list and the rule's index, never the message.
///
/// - **Header** (`reject_header`): each field of the top-level header section, unfolded (its
///   CRLFs removed, white space kept) as `Name: value`, the first ``Configuration/maxFieldOctets``
///   octets of it. The header is held while it arrives, bounded by ``Configuration/messageLimits``;
///   a header over those limits is not matched (logged).
/// - **Body** (`reject_body`): each line after the header (without its CRLF), the first
///   ``Configuration/maxLineOctets`` octets of it; lines are assembled across chunk boundaries,
///   only the current line is held. The raw lines are matched: MIME parts, base64 and
///   quoted-printable are not decoded (as Postfix's `body_checks` without MIME decoding).
///   Body octets after ``Configuration/bodyScanLimit`` are not scanned — this bounds the work a
///   message can cost.
/// - Matching is case-insensitive and looks for the pattern anywhere (anchor with `^`/`$`);
///   the text is decoded as UTF-8 (invalid octets become U+FFFD).
/// - Trusted upstream stages and authenticated users are not checked, nor a message the DM21
///   allow list lets skip the spam checks (as the envelope rules sit behind its gate).
///
/// Log field `defense=DM23`, `list=`, `rule=` (the index in its list); counter `DM23 rejected`.
public struct ContentRules: MessageInspector {
    public typealias Rule = EnvelopeRules.Rule

    public struct Configuration: Sendable {
        /// Patterns matched against each unfolded header field `Name: value` (`mx.rules.reject_header`).
        public var header: [Rule]
        /// Patterns matched against each body line (`mx.rules.reject_body`).
        public var body: [Rule]
        /// Body octets scanned per message; the rest passes unscanned (`mx.rules.body_scan_limit`).
        public var bodyScanLimit: Int
        /// Octets of one body line that are matched (RFC 5322 §2.1.1's 998; longer lines are
        /// matched on their start).
        public var maxLineOctets: Int
        /// Octets of one unfolded header field that are matched.
        public var maxFieldOctets: Int
        /// Never checked (upstream stages).
        public var trustedNetworks: [IPNetwork]
        public var messageLimits: MessageLimits
        /// Check authenticated users' mail too: the submission role's rules (`[submission.rules]`),
        /// where every session is authenticated. Off for the mx, whose rules are for strangers.
        public var checksAuthenticatedUsers = false

        public static let defaultBodyScanLimit = 1024 * 1024

        public init(header: [Rule] = [], body: [Rule] = [], bodyScanLimit: Int = Self.defaultBodyScanLimit, maxLineOctets: Int = 998,
                    maxFieldOctets: Int = 16 * 1024, trustedNetworks: [IPNetwork] = [], messageLimits: MessageLimits = MessageLimits()) {
            self.header = header
            self.body = body
            self.bodyScanLimit = bodyScanLimit
            self.maxLineOctets = maxLineOctets
            self.maxFieldOctets = maxFieldOctets
            self.trustedNetworks = trustedNetworks
            self.messageLimits = messageLimits
        }

        /// Whether there is anything to match.
        public var isEmpty: Bool { header.isEmpty && body.isEmpty }
    }

    public static let id = DefenseID.regularExpressions

    /// `550 5.7.1`, the same words as the envelope rules: the rule stays in the log.
    public static let refusal = EnvelopeRules.refusal

    public let configuration: Configuration
    /// DM21: a message it allows (client, sender, every recipient's own list) is not checked.
    public let allowList: AllowList?
    let metrics: DefenseMetrics?
    let logger: Logger

    public init(_ configuration: Configuration, allowList: AllowList? = nil, metrics: DefenseMetrics? = nil,
                logger: Logger = Logger(label: "mailnode.defense.rules")) {
        self.configuration = configuration
        self.allowList = allowList
        self.metrics = metrics
        self.logger = logger
    }

    public func begin(envelope: Envelope, session: SessionContext) async -> (any MessageInspection)? {
        guard !configuration.isEmpty,
              !DefenseHookSupport.isExempt(session, authenticated: !configuration.checksAuthenticatedUsers, trusted: configuration.trustedNetworks),
              allowList?.allows(message: envelope, session: session) == nil else { return nil }
        return Inspection(owner: self, session: session)
    }

    /// Which rule matched.
    struct Match: Sendable, Hashable {
        var list: String
        var index: Int
        /// The header field's name, or the body line's number (1 = the first line after the header).
        var location: String
    }

    /// The index of the first rule of `rules` matching `bytes` (the first `limit` octets of them).
    static func firstMatch(_ rules: [Rule], in bytes: some Collection<UInt8>, limit: Int) -> Int? {
        let text = String(decoding: bytes.prefix(limit), as: UTF8.self)
        return rules.firstIndex { $0.matches(text) }
    }

    /// The header rule matching one of `header`'s fields.
    func headerMatch(_ header: MessageHeader) -> Match? {
        guard !configuration.header.isEmpty else { return nil }
        for field in header.fields {
            let unfolded = field.raw.lazy.filter { $0 != 0x0D && $0 != 0x0A }
            if let index = Self.firstMatch(configuration.header, in: unfolded, limit: configuration.maxFieldOctets) {
                // The name only (sender-chosen: at most 78 characters of it), never the value.
                return Match(list: "reject_header", index: index, location: field.colonIndex == nil ? "-" : String(field.name.prefix(78)))
            }
        }
        return nil
    }

    /// One message.
    final class Inspection: MessageInspection {
        struct State {
            var reader: MessageReader
            var headerChecked = false
            /// The current body line's first octets (up to the line cap).
            var line: [UInt8] = []
            var lineNumber = 0
            /// Body octets looked at so far.
            var scanned = 0
            var match: Match?
            var problem: String?
        }

        let owner: ContentRules
        let session: SessionContext
        /// Methods are called one at a time; the lock only makes the class `Sendable`.
        private let state: NIOLockedValueBox<State>

        init(owner: ContentRules, session: SessionContext) {
            self.owner = owner
            self.session = session
            state = NIOLockedValueBox(State(reader: MessageReader(limits: owner.configuration.messageLimits)))
        }

        /// Octets matched between two yields: a large chunk does not hold a pool thread for long.
        static let slice = 16 * 1024

        func update(_ chunk: ByteBuffer) async {
            guard state.withLockedValue({ !isDone($0) }) else { return }
            let bytes = Array(chunk.readableBytesView)
            var start = 0
            while start < bytes.count {
                let end = min(start + Self.slice, bytes.count)
                let done = state.withLockedValue { state -> Bool in
                    let body: ArraySlice<UInt8>
                    do {
                        body = try state.reader.feed(bytes[start..<end])
                    } catch {
                        state.problem = "message header: \(error)"
                        return true
                    }
                    if !state.headerChecked, let header = state.reader.header { checkHeader(&state, header) }
                    scan(&state, body)
                    return isDone(state)
                }
                guard !done else { return }
                start = end
                if start < bytes.count { await Task.yield() }
            }
        }

        /// Nothing more to look at: a rule matched, the header could not be read, or the header
        /// is checked and the body needs no (more) scanning.
        private func isDone(_ state: State) -> Bool {
            if state.match != nil || state.problem != nil { return true }
            let configuration = owner.configuration
            return state.headerChecked && (configuration.body.isEmpty || state.scanned >= configuration.bodyScanLimit)
        }

        private func checkHeader(_ state: inout State, _ header: MessageHeader) {
            state.headerChecked = true
            state.match = owner.headerMatch(header)
        }

        /// Splits `body` into lines and matches each completed one, up to the scan limit.
        private func scan(_ state: inout State, _ body: ArraySlice<UInt8>) {
            let configuration = owner.configuration
            guard !configuration.body.isEmpty, state.match == nil, !body.isEmpty, state.scanned < configuration.bodyScanLimit else { return }
            let take = min(body.count, configuration.bodyScanLimit - state.scanned)
            let part = body.prefix(take)
            state.scanned += take
            var start = part.startIndex
            while start < part.endIndex {
                guard let newline = part[start...].firstIndex(of: MessageASCII.lf) else {
                    append(&state.line, part[start...])
                    break
                }
                append(&state.line, part[start..<newline])
                start = newline + 1
                if endLine(&state) { return }
            }
            // The limit ends the scan: the line cut there is still matched.
            if state.scanned >= configuration.bodyScanLimit, !state.line.isEmpty { _ = endLine(&state) }
        }

        private func append(_ line: inout [UInt8], _ bytes: ArraySlice<UInt8>) {
            let room = owner.configuration.maxLineOctets + 1 - line.count   // + 1: the CR before LF
            if room > 0 { line.append(contentsOf: bytes.prefix(room)) }
        }

        /// Matches the current line; true when a rule matched.
        private func endLine(_ state: inout State) -> Bool {
            defer { state.line.removeAll(keepingCapacity: true) }
            state.lineNumber += 1
            var line = state.line[...]
            if line.last == MessageASCII.cr { line = line.dropLast() }
            guard let index = ContentRules.firstMatch(owner.configuration.body, in: line, limit: owner.configuration.maxLineOctets)
            else { return false }
            state.match = Match(list: "reject_body", index: index, location: "line \(state.lineNumber)")
            return true
        }

        func finish(summary: MessageDataSummary) async -> InspectionVerdict {
            let (match, problem, scanned) = state.withLockedValue { state -> (Match?, String?, Int) in
                if state.match == nil, state.problem == nil {
                    if !state.headerChecked {
                        // The message ended inside (or right after) its header.
                        do {
                            checkHeader(&state, try state.reader.finish())
                        } catch {
                            state.problem = "message header: \(error)"
                        }
                    } else if !state.line.isEmpty, state.scanned < owner.configuration.bodyScanLimit {
                        _ = endLine(&state)   // a last line without CRLF
                    }
                }
                return (state.match, state.problem, state.scanned)
            }
            let configuration = owner.configuration
            if let problem {
                owner.logger.info("content rules not applied", metadata: [
                    "defense": "\(ContentRules.id)", "session": "\(session.sessionID)", "problem": "\(problem)",
                ])
            }
            guard let match else {
                if !configuration.body.isEmpty, scanned >= configuration.bodyScanLimit {
                    owner.logger.debug("body scanned up to the limit", metadata: [
                        "defense": "\(ContentRules.id)", "session": "\(session.sessionID)", "limit": "\(configuration.bodyScanLimit)",
                    ])
                }
                return .accept
            }
            let pattern = match.list == "reject_header" ? configuration.header[match.index] : configuration.body[match.index]
            owner.logger.notice("content rule matched", metadata: [
                "defense": "\(ContentRules.id)", "session": "\(session.sessionID)", "list": "\(match.list)",
                "rule": "\(match.index)", "pattern": "\(pattern)", "where": "\(match.location)",
            ])
            owner.metrics?.record("\(ContentRules.id)", .rejected)
            return .refuse(ContentRules.refusal, defense: "\(ContentRules.id)")
        }
    }
}
