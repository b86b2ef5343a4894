import Foundation
import Logging
import SMTPCore

/// DM18 "local domain or IP blacklists": client networks, sender addresses/domains and HELO
/// names the operator refuses, from the configuration and from a list file that is reloaded
/// when it changes (``AccessListFile``); plus the dynamic entries other mechanisms add to the
/// ``StateStore`` (`block:` records — DM27 spam traps put the clients that write to a trap
/// there), shared by every node on one store. Postfix's `check_client_access`,
/// `check_sender_access` and `check_helo_access` tables are the model.
///
/// Where it answers (generic words on the wire, the matching entry only in the log):
/// - a listed or dynamically blocked client: `554 5.7.1 Access denied` as the greeting, and the
///   connection closes;
/// - a listed HELO name: `550 5.7.1 Access denied`;
/// - a listed sender: `550 5.7.1 Sender address rejected: access denied`.
///
/// Trusted networks (upstream stages) are never blocked. A store failure lets the session go on
/// (logged). Log field: `defense=DM18` with `list=client|dynamic|helo|sender` and `entry=`.
public struct LocalBlocklist: SessionHooks {
    public struct Configuration: Sendable, Hashable {
        /// Entries from the configuration file itself (`mx.blocklist.clients|senders|helo`).
        public var entries: AccessListEntries
        /// A list file (``AccessListEntries`` format), reloaded when it changes (`mx.blocklist.file`).
        public var file: String?
        /// How often a look-up checks whether the file changed (default 30 s).
        public var reloadInterval: Duration
        /// Whether `block:` records in the state store refuse clients (default on; needs a store).
        public var checkDynamic: Bool
        /// Never blocked.
        public var trustedNetworks: [IPNetwork]

        public init(entries: AccessListEntries = .init(), file: String? = nil, reloadInterval: Duration = .seconds(30),
                    checkDynamic: Bool = true, trustedNetworks: [IPNetwork] = []) {
            self.entries = entries
            self.file = file
            self.reloadInterval = reloadInterval
            self.checkDynamic = checkDynamic
            self.trustedNetworks = trustedNetworks
        }
    }

    public static let id = DefenseID.localBlockLists

    /// `554 5.7.1` as the greeting, then the connection closes.
    public static let clientRefusal = Reply(.transactionFailed, EnhancedStatusCode(5, 7, 1), "Access denied")
    /// `550 5.7.1` for a listed HELO name.
    public static let heloRefusal = Reply(.mailboxUnavailable, EnhancedStatusCode(5, 7, 1), "Access denied")
    /// `550 5.7.1` for a listed sender.
    public static let senderRefusal = Reply(.mailboxUnavailable, EnhancedStatusCode(5, 7, 1), "Sender address rejected: access denied")

    /// The store key of a dynamic block of one client address (see ``SpamTrap``).
    public static func dynamicKey(client: String) -> String { "block:\(client)" }

    public let configuration: Configuration
    public let store: (any StateStore)?
    /// The list file, read at init.
    public let file: AccessListFile?
    let now: @Sendable () -> Date
    let logger: Logger

    /// Reads the list file, if one is configured; throws when it cannot be read.
    public init(_ configuration: Configuration, store: (any StateStore)? = nil, now: @escaping @Sendable () -> Date = { Date() },
                logger: Logger = Logger(label: "mailnode.defense.blocklist")) throws {
        self.configuration = configuration
        self.store = store
        self.file = try configuration.file.map { try AccessListFile(path: $0, reloadInterval: configuration.reloadInterval, logger: logger) }
        self.now = now
        self.logger = logger
    }

    /// The configured and the file's entries.
    var currentEntries: AccessListEntries {
        guard let file else { return configuration.entries }
        return configuration.entries.merged(with: file.entries())
    }

    public var stages: HookStages { [.connected, .helo, .mailFrom] }

    public func connected(_ session: SessionContext) async -> HookDecision {
        guard !isTrusted(session) else { return .continue }
        if let network = currentEntries.network(containing: session.remoteAddress) {
            log("client", entry: "\(network)", session: session)
            return .disconnect(Self.clientRefusal)
        }
        guard configuration.checkDynamic, let store,
              let client = ClientNetworkGrouping.singleAddress.key(for: session.remoteAddress) else { return .continue }
        do {
            if let record = try await store.record(Self.dynamicKey(client: client), at: now()) {
                log("dynamic", entry: record.value, session: session, extra: ["until": "\(record.expires)"])
                return .disconnect(Self.clientRefusal)
            }
        } catch {
            logger.warning("state store failed; dynamic block list not checked", metadata: [
                "defense": "\(Self.id)", "session": "\(session.sessionID)", "error": "\(error)",
            ])
        }
        return .continue
    }

    public func helo(_ name: MailHost, session: SessionContext) async -> HookDecision {
        guard !isTrusted(session), let pattern = currentEntries.heloName(matching: name) else { return .continue }
        log("helo", entry: "\(pattern)", session: session)
        return .reply(Self.heloRefusal)
    }

    public func mailFrom(_ path: ReversePath, parameters: MailParameters, session: SessionContext) async -> HookDecision {
        guard !isTrusted(session), let pattern = currentEntries.sender(matching: path) else { return .continue }
        log("sender", entry: "\(pattern)", session: session, extra: ["sender": "\(path)"])
        return .reply(Self.senderRefusal)
    }

    func isTrusted(_ session: SessionContext) -> Bool {
        DefenseHookSupport.isExempt(session, authenticated: false, trusted: configuration.trustedNetworks)
    }

    func log(_ list: String, entry: String, session: SessionContext, extra: Logger.Metadata = [:]) {
        var metadata: Logger.Metadata = [
            "defense": "\(Self.id)", "session": "\(session.sessionID)", "list": "\(list)", "entry": "\(entry)",
        ]
        if let client = session.remoteAddress?.ipAddress { metadata["client"] = "\(client)" }
        metadata.merge(extra) { $1 }
        logger.notice("blocked by local list", metadata: metadata)
    }
}
