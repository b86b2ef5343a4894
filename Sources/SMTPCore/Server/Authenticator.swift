/// Credentials from a SASL exchange (RFC 4616 PLAIN, or LOGIN). The password is never logged.
public struct Credentials: Sendable, Hashable, CustomStringConvertible {
    /// Authorization identity (PLAIN's authzid); empty when the client did not ask for one.
    public var authorizationID: String
    public var username: String
    public var password: String

    public init(authorizationID: String = "", username: String, password: String) {
        self.authorizationID = authorizationID
        self.username = username
        self.password = password
    }

    /// Redacted: the password never appears in logs or test failures.
    public var description: String { "Credentials(user: \(username), password: ***)" }
}

/// The outcome of checking credentials.
public enum AuthenticationResult: Sendable, Hashable {
    /// `235 2.7.0`; the associated value is the identity recorded for the session.
    case success(identity: String)
    /// `535 5.7.8` (RFC 4954 §6).
    case invalidCredentials
    /// `454 4.7.0`: the user directory could not be asked (RFC 4954 §6).
    case temporaryFailure
}

/// Checks SASL credentials against a user directory; the roles provide implementations.
public protocol Authenticator: Sendable {
    func authenticate(_ credentials: Credentials, session: SessionContext) async -> AuthenticationResult
}
