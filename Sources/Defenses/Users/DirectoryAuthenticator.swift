import Foundation
import Logging
import SMTPCore

/// SMTP AUTH (DM04) against a ``UserDirectory``, with brute-force protection: failed logins are
/// counted per user and per client address in the ``StateStore`` (shared by the nodes of one
/// store); beyond ``Configuration/maxFailuresPerUser`` or ``Configuration/maxFailuresPerClient``
/// within ``Configuration/window`` every attempt — right or wrong — is answered `454 4.7.0`
/// (temporary: the real user can retry later, an attacker learns nothing from the answer) and
/// logged as a lockout, until the window has moved on. Successful logins do not reset the
/// counters: a guessing client cannot clear its record by logging in to its own account.
///
/// Passwords are compared by ``PasswordHash/verify(_:against:)`` off the event loops; an unknown
/// user costs one dummy hash as well, so timing does not tell which names exist. Disabled users
/// fail like wrong passwords. Log fields: `defense=DM04`, `user=`, `client=`, `result=`; never the
/// password.
public struct DirectoryAuthenticator: Authenticator {
    public struct Configuration: Sendable, Hashable {
        /// Failures per user name and window before the user is locked out (default 10).
        public var maxFailuresPerUser: Int
        /// Failures per client address and window before the client is locked out (default 20).
        public var maxFailuresPerClient: Int
        /// The window (default 15 minutes).
        public var window: Duration

        public init(maxFailuresPerUser: Int = 10, maxFailuresPerClient: Int = 20, window: Duration = .seconds(900)) {
            self.maxFailuresPerUser = max(1, maxFailuresPerUser)
            self.maxFailuresPerClient = max(1, maxFailuresPerClient)
            self.window = window
        }
    }

    public static let id = DefenseID.smtpAuth

    public let users: any UserDirectory
    public let store: any StateStore
    public let configuration: Configuration
    let now: @Sendable () -> Date
    let logger: Logger
    /// A yescrypt hash (default cost) of a random password nobody knows, verified against when the
    /// user does not exist so that an unknown name costs as much time as a wrong password.
    static let dummyHash = "$y$j9T$Ck4AHGWry.q/KNVOY4G/1.noRzDwO7tmAynHRn.hEO6$aEcmIqY9QU/.Cpd.p48woVE5gMAIxinZSP9ZVN5h/c3"

    public init(users: any UserDirectory, store: any StateStore, configuration: Configuration = .init(),
                now: @escaping @Sendable () -> Date = { Date() }, logger: Logger = Logger(label: "mailnode.auth")) {
        self.users = users
        self.store = store
        self.configuration = configuration
        self.now = now
        self.logger = logger
    }

    public func authenticate(_ credentials: Credentials, session: SessionContext) async -> SMTPCore.AuthenticationResult {
        if credentials.isExternal { return await authenticateExternal(credentials, session: session) }
        let name = credentials.username.lowercased()
        let client = ClientNetworkGrouping.singleAddress.key(for: session.remoteAddress) ?? "-"
        let window = StateWindow(configuration.window)
        var metadata: Logger.Metadata = ["defense": "\(Self.id)", "session": "\(session.sessionID)", "user": "\(name)", "client": "\(client)"]
        do {
            let userFailures = try await store.count("authfail:user:\(name)", window: window, at: now())
            let clientFailures = try await store.count("authfail:client:\(client)", window: window, at: now())
            if userFailures >= configuration.maxFailuresPerUser || clientFailures >= configuration.maxFailuresPerClient {
                metadata["result"] = "locked-out"
                metadata["failures"] = "user \(userFailures), client \(clientFailures)"
                logger.warning("AUTH brute force: locked out", metadata: metadata)
                return .temporaryFailure
            }
            let user = try await users.user(named: name)
            let matches = await PasswordHash.verify(credentials.password, against: user?.passwordHash ?? Self.dummyHash)
            if let user, matches, !user.disabled {
                metadata["result"] = "success"
                logger.info("AUTH", metadata: metadata)
                return .success(identity: user.name)
            }
            _ = try await store.increment("authfail:user:\(name)", window: window, at: now())
            _ = try await store.increment("authfail:client:\(client)", window: window, at: now())
            metadata["result"] = user == nil ? "unknown-user" : user?.disabled == true ? "disabled" : "wrong-password"
            logger.notice("AUTH failed", metadata: metadata)
            return .invalidCredentials
        } catch {
            metadata["error"] = "\(error)"
            logger.error("AUTH: directory or state store failed", metadata: metadata)
            return .temporaryFailure
        }
    }

    /// AUTH EXTERNAL (DM05): the client certificate the listener verified names the user — one of
    /// its email identities is a user's name or alias. A requested authorization identity must be
    /// an address of that same user. No password, so nothing to guess: failures are still counted
    /// per client (a client with a valid certificate for nobody keeps trying), and a locked-out
    /// client or a disabled user is refused as with passwords.
    func authenticateExternal(_ credentials: Credentials, session: SessionContext) async -> SMTPCore.AuthenticationResult {
        let client = ClientNetworkGrouping.singleAddress.key(for: session.remoteAddress) ?? "-"
        let window = StateWindow(configuration.window)
        var metadata: Logger.Metadata = [
            "defense": "\(DefenseID.certificates)", "session": "\(session.sessionID)", "client": "\(client)",
            "certificate": "\(credentials.certificateNames.joined(separator: ","))",
        ]
        do {
            let clientFailures = try await store.count("authfail:client:\(client)", window: window, at: now())
            if clientFailures >= configuration.maxFailuresPerClient {
                metadata["result"] = "locked-out"
                logger.warning("AUTH EXTERNAL: client locked out", metadata: metadata)
                return .temporaryFailure
            }
            var found: MailUser?
            for name in credentials.certificateNames {
                if let user = try await users.user(forAddress: name) {
                    found = user
                    break
                }
            }
            let requested = credentials.authorizationID.lowercased()
            if let user = found, !user.disabled,
               requested.isEmpty || requested == user.name || user.aliases.contains(requested) {
                metadata["user"] = "\(user.name)"
                metadata["result"] = "success"
                logger.info("AUTH EXTERNAL", metadata: metadata)
                return .success(identity: user.name)
            }
            _ = try await store.increment("authfail:client:\(client)", window: window, at: now())
            metadata["user"] = "\(found?.name ?? "-")"
            metadata["result"] = found == nil ? "unknown-certificate" : found?.disabled == true ? "disabled" : "authzid-refused"
            if !requested.isEmpty { metadata["authzid"] = "\(requested)" }
            logger.notice("AUTH EXTERNAL failed", metadata: metadata)
            return .invalidCredentials
        } catch {
            metadata["error"] = "\(error)"
            logger.error("AUTH EXTERNAL: directory or state store failed", metadata: metadata)
            return .temporaryFailure
        }
    }
}
