import Logging
import NIOConcurrencyHelpers
import NIOCore
import SMTPCore

/// The submission role's check of the message's author: every address of the `From:` field
/// ([RFC 5322 §3.6.2](https://www.rfc-editor.org/rfc/rfc5322#section-3.6.2)) and of a `Sender:`
/// field must be the authenticated user's name or one of their aliases. ``SenderOwnership``
/// checks the envelope at MAIL; this checks what the recipient's mail program shows — a user
/// who may send as `alice@example.org` cannot write `From: ceo@example.org` (anti-forging, and
/// what DMARC alignment later trusts).
///
/// A message without exactly one `From:` field is refused too (RFC 5322 §3.6: exactly one).
/// Refusal: `550 5.7.1` at the end of DATA, nothing stored; the directory failing: `451 4.3.0`.
/// Sessions without AUTH are not inspected (the submission role requires AUTH before MAIL).
/// Log field: `defense=DM04`.
public struct AuthorOwnership: MessageInspector {
    public struct Configuration: Sendable, Hashable {
        /// Bounds on the header read (the same as the message stage's other checks).
        public var messageLimits: MessageLimits

        public init(messageLimits: MessageLimits = MessageLimits()) {
            self.messageLimits = messageLimits
        }
    }

    public static let id = DefenseID.smtpAuth
    /// `550 5.7.1` ([RFC 3463 §3.8](https://www.rfc-editor.org/rfc/rfc3463#section-3.8) X.7.1 "delivery not authorized").
    public static let notOwned = Reply(.mailboxUnavailable, EnhancedStatusCode(5, 7, 1), "From: address not owned by the authenticated user")
    /// `550 5.6.0` for a header without a single usable From field.
    public static let badFrom = Reply(.mailboxUnavailable, EnhancedStatusCode(5, 6, 0), "The message needs exactly one From: field with an address")
    /// `451 4.3.0` when the directory cannot answer.
    public static let unavailable = Reply(.localError, EnhancedStatusCode(4, 3, 0), "Cannot check the From: address now, try again later")

    public let users: any UserDirectory
    public let configuration: Configuration
    let metrics: DefenseMetrics?
    let logger: Logger

    public init(users: any UserDirectory, configuration: Configuration = .init(), metrics: DefenseMetrics? = nil,
                logger: Logger = Logger(label: "mailnode.defense.author-owner")) {
        self.users = users
        self.configuration = configuration
        self.metrics = metrics
        self.logger = logger
    }

    public func begin(envelope: Envelope, session: SessionContext) async -> (any MessageInspection)? {
        guard let login = session.authenticatedUser else { return nil }
        return Inspection(owner: self, login: login.lowercased(), session: session)
    }

    /// The verdict for a parsed header, given the login name (lower case).
    public func verdict(header: MessageHeader, login: String, session: SessionContext) async -> InspectionVerdict {
        let from = header.fields(named: "From")
        guard from.count == 1, case .success(let authors) = AddressListScanner.addresses(Array(from[0].rawValue), limit: 64),
              !authors.isEmpty else {
            return refuse(Self.badFrom, login: login, address: "\(from.count) From fields", session: session)
        }
        var addresses = authors
        for sender in header.fields(named: "Sender") {
            // An unreadable Sender: is refused, not skipped: it is shown to the recipient like From:.
            guard case .success(let found) = AddressListScanner.addresses(Array(sender.rawValue), limit: 64) else {
                return refuse(Self.badFrom, login: login, address: "unreadable Sender field", session: session)
            }
            addresses += found
        }
        for bytes in addresses {
            let address = String(decoding: bytes, as: UTF8.self)
            do {
                guard let user = try await users.user(forAddress: address), user.name == login else {
                    return refuse(Self.notOwned, login: login, address: address, session: session)
                }
            } catch {
                logger.error("user directory failed; From: not checked", metadata: [
                    "defense": "\(Self.id)", "session": "\(session.sessionID)", "user": "\(login)", "error": "\(error)",
                ])
                return .refuse(Self.unavailable, defense: "\(Self.id)")
            }
        }
        return .accept
    }

    func refuse(_ reply: Reply, login: String, address: String, session: SessionContext) -> InspectionVerdict {
        logger.notice("From: not owned by the authenticated user", metadata: [
            "defense": "\(Self.id)", "session": "\(session.sessionID)", "user": "\(login)", "from": "\(address)",
        ])
        metrics?.record("\(Self.id)", .rejected)
        return .refuse(reply, defense: "\(Self.id)")
    }

    final class Inspection: MessageInspection {
        struct State {
            var reader: MessageReader
            var failed = false
        }

        let owner: AuthorOwnership
        let login: String
        let session: SessionContext
        let state: NIOLockedValueBox<State>

        init(owner: AuthorOwnership, login: String, session: SessionContext) {
            self.owner = owner
            self.login = login
            self.session = session
            state = NIOLockedValueBox(State(reader: MessageReader(limits: owner.configuration.messageLimits)))
        }

        func update(_ chunk: ByteBuffer) async {
            state.withLockedValue { state in
                guard !state.failed, state.reader.header == nil else { return }
                do {
                    _ = try state.reader.feed(Array(chunk.readableBytesView))
                } catch {
                    state.failed = true
                }
            }
        }

        func finish(summary: MessageDataSummary) async -> InspectionVerdict {
            let header: MessageHeader? = state.withLockedValue { state in
                guard !state.failed else { return nil }
                if let header = state.reader.header { return header }
                return try? state.reader.finish()
            }
            guard let header else {
                return owner.refuse(AuthorOwnership.badFrom, login: login, address: "unreadable header", session: session)
            }
            return await owner.verdict(header: header, login: login, session: session)
        }
    }
}
