import Foundation
import Logging
import SMTPCore

/// DM32 greet pause: the greeting is held back for ``Configuration/pause``; a client that talks
/// before it — many spam engines do, to save time, though a client must wait for the greeting
/// ([RFC 5321 §3.1](https://www.rfc-editor.org/rfc/rfc5321#section-3.1), §4.3.1) — gets
/// `554 5.7.1` and the connection closes. Its address is remembered in the ``StateStore`` for
/// ``Configuration/rememberTalker`` and refused at once on its next connections; a client that
/// waited politely is remembered for ``Configuration/rememberPassed`` and greeted without a pause.
/// Sendmail's `greet_pause` and Postfix postscreen's pregreet test are the models.
///
/// The server tells the hook whether bytes arrived before the greeting
/// (``SMTPCore/SessionContext/clientTalkedBeforeGreeting``); the pause is a `Task.sleep` in the
/// connect hook and holds one session, never an event loop. A store failure still pauses and
/// refuses talkers, it only forgets (logged). Log field: `defense=DM32`, `greet=early|remembered|passed`.
public struct GreetPause: SessionHooks {
    public struct Configuration: Sendable, Hashable {
        /// How long the greeting waits (default 5 s, as sendmail's usual `greet_pause`).
        public var pause: Duration
        /// How long a client that talked early is refused (default 1 day).
        public var rememberTalker: Duration
        /// How long a client that waited is greeted without a pause (default 1 day; 0: always pause).
        public var rememberPassed: Duration
        /// Clients from these networks are greeted at once.
        public var trustedNetworks: [IPNetwork]

        public init(pause: Duration = .seconds(5), rememberTalker: Duration = .seconds(86_400),
                    rememberPassed: Duration = .seconds(86_400), trustedNetworks: [IPNetwork] = []) {
            self.pause = pause
            self.rememberTalker = rememberTalker
            self.rememberPassed = rememberPassed
            self.trustedNetworks = trustedNetworks
        }
    }

    public static let id = DefenseID.greetPause

    /// `554 5.7.1`, then the connection closes.
    public static let refusal = Reply(.transactionFailed, EnhancedStatusCode(5, 7, 1),
                                      "Service unavailable; the client talked before the greeting")

    public let configuration: Configuration
    public let store: any StateStore
    let now: @Sendable () -> Date
    let logger: Logger

    public init(_ configuration: Configuration = .init(), store: any StateStore, now: @escaping @Sendable () -> Date = { Date() },
                logger: Logger = Logger(label: "mailnode.defense.greetpause")) {
        self.configuration = configuration
        self.store = store
        self.now = now
        self.logger = logger
    }

    public var stages: HookStages { .connected }

    public func connected(_ session: SessionContext) async -> HookDecision {
        guard !DefenseHookSupport.isExempt(session, authenticated: false, trusted: configuration.trustedNetworks),
              let client = ClientNetworkGrouping.singleAddress.key(for: session.remoteAddress)
        else { return .continue }
        let key = "greet:\(client)"
        let known = await attempt(session) { try await store.record(key, at: now()) } ?? nil
        switch known?.value {
        case "early":
            log("remembered", client: client, session: session)
            return .disconnect(Self.refusal)
        case "passed":
            return .continue
        default:
            break
        }
        try? await Task.sleep(for: configuration.pause)
        let at = now()
        if session.clientTalkedBeforeGreeting {
            log("early", client: client, session: session)
            await attempt(session) {
                try await store.putRecord(key, value: "early", expires: at.addingTimeInterval(Self.seconds(configuration.rememberTalker)), at: at)
            }
            return .disconnect(Self.refusal)
        }
        if configuration.rememberPassed > .zero {
            await attempt(session) {
                try await store.putRecord(key, value: "passed", expires: at.addingTimeInterval(Self.seconds(configuration.rememberPassed)), at: at)
            }
        }
        return .continue
    }

    static func seconds(_ duration: Duration) -> TimeInterval {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    @discardableResult
    private func attempt<T: Sendable>(_ session: SessionContext, _ body: () async throws -> T) async -> T? {
        do {
            return try await body()
        } catch {
            logger.warning("state store failed; greet pause without memory", metadata: [
                "defense": "\(Self.id)", "session": "\(session.sessionID)", "error": "\(error)",
            ])
            return nil
        }
    }

    private func log(_ outcome: String, client: String, session: SessionContext) {
        logger.notice("pre-greeting talker refused", metadata: [
            "defense": "\(Self.id)", "session": "\(session.sessionID)", "client": "\(client)", "greet": "\(outcome)",
        ])
    }
}
