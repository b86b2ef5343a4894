/// Credentials from a SASL exchange (RFC 4616 PLAIN, or LOGIN). The password is never logged.
public struct Credentials: Sendable, Hashable, CustomStringConvertible {
    /// Authorization identity (PLAIN's authzid); empty when the client did not ask for one.
    public var authorizationID: String
    public var username: String
    public var password: String
    /// AUTH EXTERNAL ([RFC 4422 Appendix A](https://www.rfc-editor.org/rfc/rfc4422#appendix-A)):
    /// the verified client certificate's identities (``TLSDetails/clientCertificateNames``); then
    /// ``username`` and ``password`` are empty and ``authorizationID`` is the identity asked for.
    public var certificateNames: [String]

    public init(authorizationID: String = "", username: String, password: String) {
        self.authorizationID = authorizationID
        self.username = username
        self.password = password
        self.certificateNames = []
    }

    /// AUTH EXTERNAL credentials: the certificate's identities and the requested authorization identity.
    public static func external(certificateNames: [String], authorizationID: String) -> Credentials {
        var credentials = Credentials(authorizationID: authorizationID, username: "", password: "")
        credentials.certificateNames = certificateNames
        return credentials
    }

    /// Whether these come from AUTH EXTERNAL (a client certificate), not from a password.
    public var isExternal: Bool { !certificateNames.isEmpty }

    /// Redacted: the password never appears in logs or test failures.
    public var description: String {
        isExternal ? "Credentials(certificate: \(certificateNames.joined(separator: ",")))" : "Credentials(user: \(username), password: ***)"
    }
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
