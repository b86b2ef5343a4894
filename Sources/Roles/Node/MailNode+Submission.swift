import Defenses
import Logging
import NIOSSL
import SMTPCore
import StateSQLite

/// The submission role's parts (stage B).
extension MailNode {
    /// 587-style listeners (STARTTLS required before MAIL and AUTH) and 465-style implicit-TLS ones;
    /// both require AUTH before MAIL and offer only PLAIN and LOGIN (and EXTERNAL with client
    /// certificates), never in plaintext.
    static func submissionListeners(_ submission: SubmissionRoleConfiguration, hostname: String,
                                    tlsContext: NIOSSLContext) -> [SMTPListenerConfiguration] {
        var session = SMTPSessionConfiguration(hostname: hostname, limits: submission.limits, bareLineEndings: submission.bareLineEndings)
        session.requireTLS = true
        session.requireAuthentication = true
        session.authMechanisms = ["PLAIN", "LOGIN"] + (submission.clientCAFile == nil ? [] : ["EXTERNAL"])
        session.allowPlaintextAuth = false
        return submission.listen.map {
            SMTPListenerConfiguration(name: "submission", host: $0.host, port: $0.port, session: session, tls: .startTLS, tlsContext: tlsContext)
        } + submission.listenTLS.map {
            SMTPListenerConfiguration(name: "submissions", host: $0.host, port: $0.port, session: session, tls: .implicit, tlsContext: tlsContext)
        }
    }

    /// DM10 and DM11 (per client), then sender ownership (DM04) and the per-user volume limit (DM34); relaying to any
    /// domain is allowed only because every session authenticated (the session enforces that).
    /// The submission listeners' TLS: the node's certificate, and with `submission.client_ca_file`
    /// a request for the client's certificate, verified against those CAs when one is presented
    /// (NIOSSL's optional verification: no certificate is fine, a bad one ends the handshake).
    static func submissionTLSContext(_ submission: SubmissionRoleConfiguration, node: NodeConfiguration,
                                     default context: NIOSSLContext) throws -> NIOSSLContext {
        guard let caFile = submission.clientCAFile, let certificate = node.tlsCertificatePath, let key = node.tlsKeyPath else { return context }
        var tls = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMFile(certificate).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(file: key, format: .pem)))
        tls.certificateVerification = .optionalVerification
        tls.trustRoots = .file(caFile)
        return try NIOSSLContext(configuration: tls)
    }

    static func submissionHooks(_ submission: SubmissionRoleConfiguration, users: any UserDirectory, store: (any StateStore)?,
                                metrics: DefenseMetrics, logger: Logger) -> [any SessionHooks] {
        var hooks: [any SessionHooks] = []
        if let limit = submission.connectionLimit {
            hooks.append(MeteredHooks(ClientConnectionLimit.id, ClientConnectionLimit(limit, logger: logger), metrics: metrics))
        }
        if let store, let rate = submission.rateLimit {
            hooks.append(MeteredHooks(ClientRateLimit.id, ClientRateLimit(rate, store: store, logger: logger), metrics: metrics))
        }
        hooks.append(MeteredHooks(RelayControl.id, RelayControl(.init(localDomains: [], allowAuthenticatedRelay: true), logger: logger),
                                  metrics: metrics))
        hooks.append(MeteredHooks(SenderOwnership.id, SenderOwnership(users: users, configuration: .init(allowNullSender: submission.allowNullSender),
                                                                      logger: logger), metrics: metrics))
        if !submission.localDomains.isEmpty {
            // DM19: a user's typo in a colleague's address is answered now, not by a bounce later.
            hooks.append(MeteredHooks(RecipientVerification.id, RecipientVerification(.init(domains: submission.localDomains),
                                                                                      directory: UserRecipientDirectory(users), logger: logger),
                                      metrics: metrics))
        }
        if let store, let volume = submission.senderVolume {
            hooks.append(MeteredHooks(SenderVolumeLimit.id, SenderVolumeLimit(volume, store: store, logger: logger), metrics: metrics))
        }
        return hooks
    }
}

/// Why a submission role cannot start.
public enum SubmissionSetupError: Error, CustomStringConvertible {
    case noTLS

    public var description: String { "the submission role needs tls.certificate and tls.key (AUTH only over TLS)" }
}
