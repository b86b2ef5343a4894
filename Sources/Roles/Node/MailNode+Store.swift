import Defenses
import Foundation
import Logging
import MailStore
import NIOCore
import NIOSSL
import SMTPCore
import StateSQLite

/// The store role's parts (stage G).
extension MailNode {
    /// What ``MailNode`` runs for `[store]`: the intake listeners with their hooks and receiver,
    /// the mailbox store, and the POP3 and IMAP servers.
    struct StoreParts: Sendable {
        let mailboxes: SQLiteMailboxStore
        let listeners: [SMTPListenerConfiguration]
        let hooks: any SessionHooks
        let receiver: any MessageReceiver
        let pop3: POP3Server?
        let imap: IMAPServer?
    }

    /// Intake: LMTP (or SMTP) from `store.accept_from` only (DM07 for an internal stage), unknown
    /// users `550 5.1.1` (DM19) and full mailboxes `452 4.2.2` (DM35) at RCPT, delivery into the
    /// INBOX by ``StoreReceiver``. POP3 and IMAP on STARTTLS and implicit-TLS listeners against
    /// the user directory with the lockout of ``DirectoryAuthenticator`` (DM04's, per user and client).
    static func storeParts(_ role: StoreRoleConfiguration, node: NodeConfiguration, tlsContext: NIOSSLContext?,
                           stateStore: (any StateStore)?, metrics: DefenseMetrics, group: any EventLoopGroup,
                           logger: Logger) throws -> StoreParts {
        let mailboxes = try SQLiteMailboxStore(directory: role.path)
        let users = try userDirectory(path: role.usersPath, node: node, stateStore: stateStore)
        var session = SMTPSessionConfiguration(hostname: node.hostname, sessionProtocol: role.sessionProtocol)
        session.limits.maxMessageSize = role.maxMessageSize
        let listeners = role.listen.map {
            SMTPListenerConfiguration(name: "store", host: $0.host, port: $0.port, session: session,
                                      tls: tlsContext == nil ? .none : .startTLS, tlsContext: tlsContext)
        }
        var hooks: [any SessionHooks] = [
            MeteredHooks(InternalStageAccess.id, InternalStageAccess(networks: role.acceptFrom, stage: "store", logger: logger), metrics: metrics),
            MeteredHooks(.mtaRules, StoreRecipientCheck(users: users, store: mailboxes, quota: QuotaLimits(), logger: logger), metrics: metrics),
        ]
        if !role.quota.isUnlimited {
            hooks.append(MeteredHooks(.mailboxQuota, StoreRecipientCheck(users: users, store: mailboxes, quota: role.quota, logger: logger),
                                      metrics: metrics))
        }
        let receiver = StoreReceiver(store: mailboxes, users: users,
                                     configuration: StoreIntakeConfiguration(hostname: node.hostname, trustedUpstreams: role.trustedUpstreams,
                                                                             quota: role.quota),
                                     logger: logger)
        var pop3: POP3Server?
        var imap: IMAPServer?
        if role.servesPOP3 || role.servesIMAP {
            guard let tlsContext, let stateStore else { throw StoreSetupError.noTLS }
            let authenticator = DirectoryAuthenticator(users: users, store: stateStore, configuration: role.authentication, logger: logger)
            let imapListeners = role.imapListen.map {
                IMAPListenerConfiguration(name: "imap", host: $0.host, port: $0.port, tls: .startTLS, tlsContext: tlsContext, limits: role.imapLimits)
            } + role.imapsListen.map {
                IMAPListenerConfiguration(name: "imaps", host: $0.host, port: $0.port, tls: .implicit, tlsContext: tlsContext, limits: role.imapLimits)
            }
            if !imapListeners.isEmpty {
                imap = IMAPServer(listeners: imapListeners,
                                  services: IMAPServices(store: mailboxes, authenticator: authenticator, quota: role.quota, logger: logger),
                                  group: group)
            }
            let pop3Listeners = role.pop3Listen.map {
                POP3ListenerConfiguration(name: "pop3", host: $0.host, port: $0.port, tls: .stls, tlsContext: tlsContext, limits: role.pop3Limits)
            } + role.pop3sListen.map {
                POP3ListenerConfiguration(name: "pop3s", host: $0.host, port: $0.port, tls: .implicit, tlsContext: tlsContext, limits: role.pop3Limits)
            }
            if !pop3Listeners.isEmpty {
                pop3 = POP3Server(listeners: pop3Listeners,
                                  services: POP3Services(store: mailboxes, authenticator: authenticator, logger: logger), group: group)
            }
        }
        return StoreParts(mailboxes: mailboxes, listeners: listeners, hooks: HookChain(hooks), receiver: receiver, pop3: pop3, imap: imap)
    }

    /// Start-up sweep of unreferenced body files, then every hour: forgets deduplication pairs
    /// older than `dedup.retention`.
    static func maintainStore(_ mailboxes: SQLiteMailboxStore, retention: Duration, logger: Logger) async throws -> Task<Void, Never> {
        let removed = try await mailboxes.sweep()
        if removed > 0 { logger.notice("store: unreferenced message files removed at start", metadata: ["files": "\(removed)"]) }
        return Task {
            while !Task.isCancelled {
                do {
                    let cutoff = Date().addingTimeInterval(-Double(retention.components.seconds))
                    let forgotten = try await mailboxes.purgeDeduplication(before: cutoff)
                    logger.debug("store: dedup pairs purged", metadata: ["rows": "\(forgotten)"])
                    try await Task.sleep(for: .seconds(3600))
                } catch is CancellationError {
                    return
                } catch {
                    logger.warning("store: dedup purge failed", metadata: ["error": "\(error)"])
                    try? await Task.sleep(for: .seconds(3600))
                }
            }
        }
    }
}

/// Why a store role cannot start.
public enum StoreSetupError: Error, CustomStringConvertible {
    case noTLS

    public var description: String { "the store role's POP3 and IMAP listeners need tls.certificate and tls.key (credentials only over TLS)" }
}
