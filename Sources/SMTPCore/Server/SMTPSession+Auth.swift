import NIOCore

/// Where a SASL exchange stands (RFC 4954 §4).
enum SASLExchange: Sendable, Hashable {
    /// PLAIN without initial response: waiting for `authzid NUL authcid NUL passwd` (RFC 4616).
    case plain
    /// LOGIN: waiting for the user name.
    case loginUsername
    /// LOGIN: waiting for the password.
    case loginPassword(username: String)
    /// EXTERNAL without initial response: waiting for the authorization identity (RFC 4422 Appendix A).
    case external
}

extension SMTPSession {
    /// `AUTH mechanism [initial-response]` (RFC 4954 §4).
    mutating func auth(mechanism: String, initialResponse: String?) -> [Action] {
        guard !configuration.authMechanisms.isEmpty else {
            return error(Reply(.commandNotImplemented, .invalidCommand, "AUTH not available"))
        }
        guard context.isExtended, phase == .ready else {
            let text = phase == .transaction ? "AUTH not permitted during a mail transaction" : "Send EHLO first"
            return error(Reply(.badSequence, .badSequence, text))
        }
        guard context.authenticatedUser == nil else {
            return error(Reply(.badSequence, .badSequence, "Already authenticated"))
        }
        guard context.tls != nil || configuration.allowPlaintextAuth else {
            // RFC 4954 §6: credentials never travel in the clear.
            return error(Reply(.encryptionRequiredForMechanism, .encryptionRequiredForMechanism,
                               "Encryption required for requested authentication mechanism"))
        }
        let mechanism = mechanism.uppercased()
        guard configuration.authMechanisms.contains(mechanism) else {
            return error(Reply(.parameterNotImplemented, .invalidArguments, "Unrecognized authentication type"))
        }
        switch mechanism {
        case "PLAIN":
            if let initialResponse { return plainResponse(initialResponse) }
            return challenge(.plain, "")
        case "LOGIN":
            if let initialResponse {
                guard let username = decodeText(initialResponse) else { return invalidBase64() }
                return challenge(.loginPassword(username: username), Base64.encode("Password:"))
            }
            return challenge(.loginUsername, Base64.encode("Username:"))
        case "EXTERNAL":
            if let initialResponse { return externalResponse(initialResponse) }
            return challenge(.external, "")
        default:
            return error(Reply(.parameterNotImplemented, .invalidArguments, "Unrecognized authentication type"))
        }
    }

    /// EXTERNAL: the client certificate the TLS handshake verified is the credential; the
    /// response is the requested authorization identity (empty: the certificate's own).
    mutating func externalResponse(_ text: String) -> [Action] {
        guard let authzid = decodeText(text) else { return invalidBase64() }
        guard let names = context.tls?.clientCertificateNames, !names.isEmpty else {
            authFailures += 1
            return error(Reply(.authenticationFailed, .authCredentialsInvalid, "No verified client certificate"))
        }
        pending = .authentication
        return [.authenticate(.external(certificateNames: names, authorizationID: authzid))]
    }

    mutating func challenge(_ exchange: SASLExchange, _ text: String) -> [Action] {
        phase = .authenticating(exchange)
        framer.expectAuthLine()
        return [.reply(Reply(.authContinue, nil, text))]
    }

    /// A response line during a SASL exchange.
    mutating func authResponse(_ line: ByteBuffer, exchange: SASLExchange) -> [Action] {
        phase = .ready
        let text = String(buffer: line)
        if text == "*" {
            return error(Reply(.parameterSyntaxError, EnhancedStatusCode(5, 7, 0), "Authentication cancelled"))
        }
        switch exchange {
        case .plain:
            return plainResponse(text)
        case .loginUsername:
            guard let username = decodeText(text) else { return invalidBase64() }
            return challenge(.loginPassword(username: username), Base64.encode("Password:"))
        case .loginPassword(let username):
            guard let password = decodeText(text) else { return invalidBase64() }
            pending = .authentication
            return [.authenticate(Credentials(username: username, password: password))]
        case .external:
            return externalResponse(text)
        }
    }

    /// RFC 4616 §2: `[authzid] NUL authcid NUL passwd`.
    mutating func plainResponse(_ text: String) -> [Action] {
        guard let bytes = text == "=" ? [] : Base64.decode(text) else { return invalidBase64() }
        let parts = bytes.split(separator: 0, maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[1].isEmpty,
              let authzid = String(validating: parts[0], as: UTF8.self),
              let authcid = String(validating: parts[1], as: UTF8.self),
              let passwd = String(validating: parts[2], as: UTF8.self)
        else {
            return error(Reply(.parameterSyntaxError, .syntaxError, "Malformed PLAIN response"))
        }
        pending = .authentication
        return [.authenticate(Credentials(authorizationID: authzid, username: authcid, password: passwd))]
    }

    func decodeText(_ text: String) -> String? {
        guard let bytes = text == "=" ? [] : Base64.decode(text) else { return nil }
        return String(validating: bytes, as: UTF8.self)
    }

    mutating func invalidBase64() -> [Action] {
        error(Reply(.parameterSyntaxError, .syntaxError, "Invalid base64 data"))
    }

    /// The authenticator answered.
    public mutating func authenticationCompleted(_ result: AuthenticationResult, now: NIODeadline) -> [Action] {
        guard pending == .authentication else { return [] }
        pending = nil
        lastActivity = now
        switch result {
        case .success(let identity):
            context.authenticatedUser = identity
            return [.reply(Reply(.authenticationSucceeded, .authSucceeded, "Authentication successful"))]
        case .invalidCredentials:
            authFailures += 1
            let reply = Reply(.authenticationFailed, .authCredentialsInvalid, "Authentication credentials invalid")
            if authFailures >= configuration.limits.maxAuthFailures {
                return [.reply(reply), .reply(Reply(.serviceNotAvailable, EnhancedStatusCode(4, 7, 0), "Too many authentication failures"))] + close()
            }
            return error(reply)
        case .temporaryFailure:
            return [.reply(Reply(.temporaryAuthFailure, .temporaryAuthFailure, "Temporary authentication failure"))]
        }
    }
}
