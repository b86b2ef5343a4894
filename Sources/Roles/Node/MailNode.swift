import Defenses
import Foundation
import Logging
import MailStore
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import SMTPCore
import StatePostgres
import StateSQLite

/// One running node: the roles its configuration enables, one spool, one spool runner.
///
/// Built roles: `mx` (stage A: accepts mail for the local domains, refuses relaying — DM07 —,
/// spools durably before 250, forwards by the routing table) and `antivirus` (stage C: accepts
/// from `antivirus.accept_from` only, scans each message at the end of DATA — DM28 — before the
/// spool commits it, rejects or quarantines what does not pass, forwards the rest the same
/// way), `store` (stage G, docs/store.md) and `outbound` (stage F: from the stages in front only,
/// delivered to the recipients' mail exchangers, docs/outbound.md). One process runs one role (``NodeConfiguration/running(role:)``). Other roles join here
/// as they are built.
public final class MailNode: Sendable {
    public let configuration: NodeConfiguration
    public let spool: SpoolStore
    /// The listeners of every enabled role.
    public let server: SMTPServer
    /// Forwards to next hops; nil when the routing table has none (mail then stays spooled).
    public let runner: SpoolRunner?
    /// What the defenses remember (`[state]`); nil when no enabled mechanism needs it.
    public let stateStore: (any StateStore)?
    /// What the node's defenses did and its traffic, counted since the start (`[metrics]` serves them).
    public let metrics: DefenseMetrics
    /// Serves ``metrics`` over HTTP when `[metrics]` is configured.
    public let metricsServer: MetricsServer?
    /// Held messages (`antivirus.action = "quarantine"`, `mailnode quarantine …`); nil unless
    /// the node runs the antivirus role.
    public let quarantine: QuarantineStore?
    /// False when the state store belongs to the caller (``init(configuration:group:logger:metrics:sharedStateStore:)``).
    let ownsStateStore: Bool
    /// Deletes expired state every `state.purge_interval`.
    let statePurger: Task<Void, Never>?
    /// Adopts released quarantine entries and purges old ones (antivirus role).
    let quarantineMaintenance = NIOLockedValueBox<Task<Void, Never>?>(nil)
    /// The store role's mailboxes (`[store]`); nil for the other roles.
    public let mailboxes: SQLiteMailboxStore?
    /// The store role's POP3 listeners.
    public let pop3: POP3Server?
    /// The store role's IMAP listeners.
    public let imap: IMAPServer?
    /// Purges the store's dedup pairs (store role).
    let storeMaintenance = NIOLockedValueBox<Task<Void, Never>?>(nil)
    /// `DIR/lock` of the spool, held from ``start()`` to the end of ``shutdown()``: this node owns
    /// the spool's files (docs/spool.md, "Administration").
    let spoolLock = NIOLockedValueBox<SpoolLock?>(nil)
    /// `DIR/control.sock`: `mailnode queue flush|hold|release|delete|bounce` while the node runs.
    let control = NIOLockedValueBox<SpoolControlServer?>(nil)
    let group: any EventLoopGroup
    let logger: Logger

    /// Another process (a node, or a `mailnode queue` command that did not let go) holds the spool.
    public struct SpoolInUse: Error, CustomStringConvertible {
        public var directory: String
        public var description: String { "spool \(directory) is in use by another process (\(SpoolLock.path(spoolDirectory: directory)) is locked)" }
    }

    /// Roles this build can run, and the ones still to come (listed, never faked).
    public static let availableRoles = ["mx", "submission", "antivirus", "store", "outbound"]
    public static let plannedRoles = ["antispam", "webmail"]

    /// - Parameters:
    ///   - metrics: counters to add to (several stages of one process share one set); nil: new ones.
    ///   - sharedStateStore: a state store opened (and later shut down) by the caller, for several
    ///     stages of one process; nil: the node opens `[state]` itself when a mechanism needs it.
    ///   - sessionTasksOnConnectionLoop: see ``SMTPCore/SMTPServerServices/sessionTasksOnConnectionLoop``
    ///     (the `mailnode` binary sets it; off by default).
    public init(configuration: NodeConfiguration, group: any EventLoopGroup, logger: Logger,
                metrics: DefenseMetrics? = nil, sharedStateStore: (any StateStore)? = nil,
                sessionTasksOnConnectionLoop: Bool = false) throws {
        self.configuration = configuration
        self.group = group
        self.logger = logger
        let metrics = metrics ?? DefenseMetrics()
        self.metrics = metrics
        if configuration.antivirus != nil { metrics.antivirus.enable() }
        metricsServer = configuration.metricsListen.map { MetricsServer(address: $0, metrics: metrics, group: group, logger: logger) }
        let spool = try SpoolStore(directory: configuration.spoolDirectory)
        self.spool = spool

        var tlsContext: NIOSSLContext?
        if let certificate = configuration.tlsCertificatePath, let key = configuration.tlsKeyPath {
            let tls = TLSConfiguration.makeServerConfiguration(
                certificateChain: try NIOSSLCertificate.fromPEMFile(certificate).map { .certificate($0) },
                privateKey: .privateKey(try NIOSSLPrivateKey(file: key, format: .pem)))
            tlsContext = try NIOSSLContext(configuration: tls)
        }

        var listeners: [SMTPListenerConfiguration] = []
        var hooks: any SessionHooks = NoHooks()
        var receiving = SpoolReceiverConfiguration()
        // The outbound role (stage F): hand-offs from the stages in front only (docs/outbound.md).
        if let outbound = configuration.outbound {
            let others = configuration.enabledRoles.filter { $0 != "outbound" }
            guard others.isEmpty else { throw OutboundSetupError.notAlone(others) }
            receiving.trustedUpstreams["outbound"] = outbound.trustedUpstreams
            listeners += Self.outboundListeners(outbound, hostname: configuration.hostname, tlsContext: tlsContext)
            hooks = Self.outboundHooks(outbound, metrics: metrics, logger: logger)
        }
        if let mx = configuration.mx {
            receiving.trustedUpstreams["mx"] = mx.trustedUpstreams
            let session = SMTPSessionConfiguration(hostname: configuration.hostname, limits: mx.limits,
                                                   bareLineEndings: mx.bareLineEndings)
            for address in mx.listen {
                listeners.append(SMTPListenerConfiguration(
                    name: "mx", host: address.host, port: address.port, session: session,
                    tls: tlsContext == nil ? .none : .startTLS, tlsContext: tlsContext,
                    proxyProtocolTrusted: mx.proxyProtocolTrusted))
            }
        }
        if let av = configuration.antivirus {
            receiving.trustedUpstreams["antivirus"] = av.trustedUpstreams
            var session = SMTPSessionConfiguration(hostname: configuration.hostname, sessionProtocol: av.sessionProtocol)
            // The stage buffers up to its scan limit; SIZE says so, a larger message gets 552 at MAIL.
            session.limits.maxMessageSize = av.maxMessageSize
            for address in av.listen {
                listeners.append(SMTPListenerConfiguration(
                    name: "antivirus", host: address.host, port: address.port, session: session,
                    tls: tlsContext == nil ? .none : .startTLS, tlsContext: tlsContext))
            }
            hooks = MeteredHooks(InternalStageAccess.id, InternalStageAccess(networks: av.acceptFrom, stage: "antivirus", logger: logger),
                                 metrics: metrics)
            quarantine = try QuarantineStore(spoolDirectory: configuration.spoolDirectory)
        } else {
            quarantine = nil
        }
        let store = configuration.needsStateStore
            ? try sharedStateStore ?? Self.openStateStore(configuration.state, logger: logger) : nil
        stateStore = store
        ownsStateStore = sharedStateStore == nil
        // One cached resolver for every DNS-based defense of the mx role, made only when one needs it.
        let mxResolver = configuration.mx.flatMap { Self.mxResolver($0, node: configuration, logger: logger) }
        var inspectors: [any MessageInspector] = []
        if let outbound = configuration.outbound, let signing = try Self.outboundSigning(outbound, metrics: metrics, logger: logger) {
            inspectors.append(signing)
        }
        if let mx = configuration.mx {
            let allowList = try mx.allowlist.map { try AllowList($0, logger: logger) }
            let chain = HookChain(try Self.mxHooks(mx, node: configuration, resolver: mxResolver, store: store, allowList: allowList,
                                                   metrics: metrics, logger: logger))
            // Header fields only our stages write never come in from outside (Mailnode-Id, X-Mailnode-*).
            inspectors.append(InternalHeaderFilter(trustedNetworks: mx.trustedUpstreams, logger: logger))
            // DM23 on headers and bodies: the cheap check first (every inspection still gives its verdict).
            if let rules = mx.contentRules {
                inspectors.append(ContentRules(rules, allowList: allowList, metrics: metrics, logger: logger))
            }
            // DM26: stamps are read from the header; the state store remembers the spent ones.
            if let store, let postage = mx.hashcash {
                inspectors.append(HashcashPostage(postage, store: store, allowList: allowList, metrics: metrics, logger: logger))
            }
            if let resolver = mxResolver, var authentication = mx.dnsDefenses.authentication {
                // The message stage (DM31, MN10, MN04): our Authentication-Results on top of each message.
                if authentication.authservID.isEmpty { authentication.authservID = configuration.hostname }
                let reports = try mx.dnsDefenses.dmarcRecords.path(spool: configuration.spoolDirectory).map {
                    try DMARCReportFileStore(directory: $0, retentionDays: mx.dnsDefenses.dmarcRecords.retentionDays)
                }
                inspectors.append(MessageAuthentication(configuration: authentication, resolver: resolver,
                                                        spf: SPFConfiguration(receivingHost: configuration.hostname),
                                                        reports: reports, metrics: metrics, logger: logger))
            }
            // DM36 wraps the chain: it sees the 5xx the relay control gives at RCPT TO.
            if let store, let throttle = mx.badRecipientThrottle {
                hooks = BadRecipientThrottle(throttle, wrapping: chain, store: store, logger: logger, metrics: metrics)
            } else {
                hooks = chain
            }
        }
        // The submission role (stage B) when this node runs it instead of mx (one role per process:
        // the roles' hooks and authenticator differ).
        var authenticator: (any Authenticator)?
        if configuration.mx == nil, let submission = configuration.submission {
            guard let tlsContext else { throw SubmissionSetupError.noTLS }
            listeners += Self.submissionListeners(submission, hostname: configuration.hostname,
                                                  tlsContext: try Self.submissionTLSContext(submission, node: configuration, default: tlsContext))
            if submission.hideClientAddress { receiving.hideClientAddress = ["submission", "submissions"] }
            let users = try Self.userDirectory(path: submission.usersPath, node: configuration, stateStore: store)
            let chain = HookChain(Self.submissionHooks(submission, users: users, store: store, metrics: metrics, logger: logger))
            // DM36 wraps the chain: it sees the 5xx of the recipient check (an account probing addresses).
            if let store, let throttle = submission.badRecipientThrottle {
                hooks = BadRecipientThrottle(throttle, wrapping: chain, store: store, logger: logger, metrics: metrics)
            } else {
                hooks = chain
            }
            if submission.checkFrom { inspectors.append(AuthorOwnership(users: users, metrics: metrics, logger: logger)) }
            if let rules = submission.contentRules { inspectors.append(ContentRules(rules, metrics: metrics, logger: logger)) }
            if let store {
                authenticator = DirectoryAuthenticator(users: users, store: store, configuration: submission.authentication, logger: logger)
            }
        }
        // The store role (stage G) delivers into mailboxes instead of the spool (docs/store.md).
        var storeParts: StoreParts?
        if configuration.mx == nil, let role = configuration.store {
            let parts = try Self.storeParts(role, node: configuration, tlsContext: tlsContext, stateStore: store, metrics: metrics,
                                            group: group, logger: logger)
            listeners += parts.listeners
            hooks = parts.hooks
            storeParts = parts
        }
        mailboxes = storeParts?.mailboxes
        pop3 = storeParts?.pop3
        imap = storeParts?.imap
        // Retried hand-offs from upstream stages are answered without storing twice (docs/spool.md).
        let delivered = try FileDeliveredSet(directory: configuration.spoolDirectory + "/delivered",
                                             configuration: configuration.dedup, logger: logger)
        let spoolReceiver = SpoolReceiver(store: spool, hostname: configuration.hostname, configuration: receiving,
                                          delivered: delivered, inspectors: inspectors, logger: logger)
        var receiver: any MessageReceiver = storeParts?.receiver ?? spoolReceiver
        if let av = configuration.antivirus {
            // DM28 decides before the spool commits: the previous stage hears 554 (or 250 when quarantined).
            var stage = av.stageConfiguration
            stage.quarantine = quarantine
            stage.metrics = metrics
            stage.scannerName = configuration.hostname
            receiver = AntivirusReceiver(next: spoolReceiver, configuration: stage, logger: logger)
        }
        statePurger = ownsStateStore ? store.map { Self.purgeRegularly($0, every: configuration.state.purgeInterval, logger: logger) } : nil
        // RFC 8689: REQUIRETLS is offered only when every next hop is reached over TLS, so the
        // flag reaches the next stage (a plaintext hand-off between stages could not carry it,
        // and the mail would bounce there with 5.7.30). A last stage (store) has no hop.
        let carriesRequireTLS = Self.carriesRequireTLS(configuration.routing)
        for index in listeners.indices { listeners[index].session.requireTLSOffered = carriesRequireTLS }
        server = SMTPServer(listeners: listeners,
                            services: SMTPServerServices(receiver: receiver, hooks: hooks, authenticator: authenticator, logger: logger,
                                                         metrics: metrics, sessionTasksOnConnectionLoop: sessionTasksOnConnectionLoop),
                            group: group, connectionCaps: configuration.connectionCaps)
        if configuration.hasNextHop {
            var forwarding = SpoolRunnerConfiguration(routing: configuration.routing, retry: configuration.retry,
                                                      hostname: configuration.outbound?.hostname ?? configuration.hostname)
            // Only the outbound role looks up mail exchangers; every other role talks only to its hops.
            forwarding.destinations = configuration.outbound.map { Self.outboundDestinations($0, node: configuration, logger: logger) }
            forwarding.egress = configuration.outbound == nil ? .configuredHops : .mailExchangers
            if let outbound = configuration.outbound {
                forwarding.maxDeliveriesPerHost = outbound.maxConnectionsPerHost
                forwarding.honoursTLSRequiredNo = outbound.tlsRequiredHeader
            }
            if let path = configuration.tlsCAFilePath { forwarding.tlsTrustRoots = .file(path) }
            forwarding.hopCredentials = configuration.hopCredentials
            if let outbound = configuration.outbound, let resolver = forwarding.destinations as? MXDestinationResolver {
                let reporter = try outbound.tlsReportsPath(spool: configuration.spoolDirectory).map {
                    Self.tlsReporter(try TLSReportFileStore(directory: $0), mtaSTS: resolver.mtaSTS, logger: logger)
                }
                let history = resolver.tlsHistory
                if reporter != nil || history != nil {
                    forwarding.tlsObserver = { observation in
                        if observation.outcome == .negotiated { await history?.noteTLS(observation.domain, at: observation.date) }
                        await reporter?(observation)
                    }
                }
            }
            runner = SpoolRunner(store: spool, configuration: forwarding, group: group, logger: logger)
        } else {
            runner = nil
        }
    }

    /// Keeps a TLS-RPT record per observed session (RFC 8460): `sts` when the domain has a
    /// valid MTA-STS policy (enforce or testing) in the cache. A failing store is logged only.
    static func tlsReporter(_ store: TLSReportFileStore, mtaSTS: MTASTSPolicyCache?,
                            logger: Logger) -> @Sendable (TLSSessionObservation) async -> Void {
        { observation in
            var sts = false
            if let entry = await mtaSTS?.cached(observation.domain) {
                sts = entry.expires > observation.date.timeIntervalSince1970 && entry.policy.mode != .none
            }
            guard let record = TLSReportRecord(observation, sts: sts) else { return }
            do {
                try await store.append(record)
            } catch {
                logger.warning("TLS report record not kept", metadata: ["domain": "\(observation.domain)", "error": "\(error)"])
            }
        }
    }

    /// True when every hop of `routing` uses STARTTLS (`required` or `verify`; `opportunistic`
    /// may end in plaintext) or is on this host (a loopback address: the chained stages of
    /// `mailnode up`), or there is none.
    static func carriesRequireTLS(_ routing: RoutingTable) -> Bool {
        (Array(routing.routes.values) + [routing.defaultHop].compactMap { $0 }).allSatisfy {
            $0.tls == .required || $0.tls == .verify || LoopbackAddress.contains($0.host)
        }
    }

    /// The user directory of a role: the PostgreSQL state store's when `state.users = "store"`,
    /// else the SQLite file at `path`.
    static func userDirectory(path: String, node: NodeConfiguration, stateStore: (any StateStore)?) throws -> any UserDirectory {
        if node.state.usersInStore, let postgres = stateStore as? PostgresStateStore { return postgres.users }
        return try SQLiteUserDirectory(path: path)
    }

    /// The resolver of the mx role's DNS-based defenses (hooks and message stage); nil when none is on.
    static func mxResolver(_ mx: MXRoleConfiguration, node: NodeConfiguration, logger: Logger) -> (any DNSResolver)? {
        let needsDNS = mx.dnsDefenses.dnsLists != nil || mx.dnsDefenses.senderChecks != nil || mx.dnsDefenses.spf != nil
            || mx.dnsDefenses.authentication != nil
            || (mx.greylisting.map { $0.exemptSPFPass && mx.greylistingChecksSPF } ?? false)
        return needsDNS ? DNSCachingResolver(wrapping: LDNSResolver(configuration: node.dns ?? .system(), logger: logger)) : nil
    }

    /// The mx role's hooks, cheap first: DM10 (a counter in memory), DM18 (list look-ups, one
    /// store read for the dynamic list) and DM07 (a set look-up) before DM11 and DM34 (store
    /// counters), DM27 (at RCPT), DM32 (which waits seconds before the greeting) and DM22. The
    /// spam checks (DM18, DM27, DM32, DM22) sit behind the DM21 allow list when one is configured;
    /// relay control and the limits never do.
    static func mxHooks(_ mx: MXRoleConfiguration, node: NodeConfiguration, resolver: (any DNSResolver)?, store: (any StateStore)?,
                        allowList: AllowList?, metrics: DefenseMetrics, logger: Logger) throws -> [any SessionHooks] {
        // Each mechanism counts its own refusals (DESIGN.md §3.6).
        func metered(_ id: DefenseID, _ hook: any SessionHooks) -> any SessionHooks { MeteredHooks(id, hook, metrics: metrics) }
        func gated(_ hooks: [any SessionHooks]) -> [any SessionHooks] {
            guard !hooks.isEmpty else { return [] }
            let chain: any SessionHooks = hooks.count == 1 ? hooks[0] : HookChain(hooks)
            guard let allowList else { return [chain] }
            return [AllowListGate(allowList, wrapping: chain, logger: logger, metrics: metrics)]
        }
        var hooks: [any SessionHooks] = []
        if let limit = mx.connectionLimit { hooks.append(metered(ClientConnectionLimit.id, ClientConnectionLimit(limit, logger: logger))) }
        if let block = mx.blocklist {
            hooks += gated([metered(LocalBlocklist.id, try LocalBlocklist(block, store: block.checkDynamic ? store : nil, logger: logger))])
        }
        hooks.append(metered(RelayControl.id, RelayControl(.init(localDomains: mx.localDomains), logger: logger)))
        if let settings = mx.recipientDirectory {
            // Trap addresses "exist", so that DM27 (behind the allow-list gate) sees them.
            let file = try settings.file.map { try AccessListFile(path: $0, reloadInterval: settings.reloadInterval, logger: logger) }
            var directory: any RecipientDirectory = StaticRecipientDirectory(patterns: settings.addresses + (mx.spamTraps?.addresses ?? []),
                                                                             file: file)
            if let path = settings.usersPath {
                directory = RecipientDirectories([directory, UserRecipientDirectory(try userDirectory(path: path, node: node, stateStore: store))])
            }
            hooks.append(metered(RecipientVerification.id, RecipientVerification(.init(domains: settings.domains), directory: directory,
                                                                                 logger: logger)))
        }
        if let store, let rate = mx.rateLimit { hooks.append(metered(ClientRateLimit.id, ClientRateLimit(rate, store: store, logger: logger))) }
        if let store, let volume = mx.senderVolume {
            hooks.append(metered(SenderVolumeLimit.id, SenderVolumeLimit(volume, store: store, logger: logger)))
        }
        var spamChecks: [any SessionHooks] = []
        if let rules = mx.envelopeRules { spamChecks.append(metered(EnvelopeRules.id, EnvelopeRules(rules, logger: logger))) }
        if let store, let traps = mx.spamTraps { spamChecks.append(metered(SpamTrap.id, SpamTrap(traps, store: store, logger: logger))) }
        if let resolver, let lists = mx.dnsDefenses.dnsLists {
            spamChecks.append(metered(DNSListDefense.id, DNSListDefense(
                checker: DNSListChecker(resolver: resolver, configuration: lists, logger: logger),
                policy: mx.dnsDefenses.dnsListPolicy, logger: logger)))
        }
        if let resolver, let policy = mx.dnsDefenses.senderChecks {
            let local = SenderCheckConfiguration(localNames: Set([node.hostname] + mx.localDomains))
            spamChecks.append(metered(SenderCheckDefense.id, SenderCheckDefense(
                checker: SenderChecker(resolver: resolver, configuration: local), policy: policy, logger: logger)))
        }
        if let resolver, let spf = mx.dnsDefenses.spf {
            // Before greylisting: its SPF-pass exemption reads the result kept here.
            let checker = SPFChecker(resolver: resolver, configuration: SPFConfiguration(receivingHost: node.hostname))
            spamChecks.append(metered(SPFDefense.id, SPFDefense(checker: checker, configuration: spf, logger: logger)))
        }
        if let store, let pause = mx.greetPause { spamChecks.append(metered(GreetPause.id, GreetPause(pause, store: store, logger: logger))) }
        if let store, let greylist = mx.greylisting {
            let spf = greylist.exemptSPFPass && mx.greylistingChecksSPF
                ? resolver.map { Greylisting.spfCheck(using: SPFChecker(resolver: $0)) }
                : nil
            spamChecks.append(metered(Greylisting.id, Greylisting(greylist, store: store, spfCheck: spf, logger: logger)))
        }
        hooks += gated(spamChecks)
        return hooks
    }

    /// Opens the configured store (SQLite creates its file and schema here; PostgreSQL connects
    /// in ``start()``).
    public static func openStateStore(_ state: StateConfiguration, logger: Logger) throws -> any StateStore {
        var metadata: Logger.Metadata = ["backend": "\(state.backend)"]   // never the password
        if case .sqlite = state.backend {
            metadata["sync"] = "\(state.sqliteSync.rawValue)"
            metadata["write_behind"] = "\(state.sqliteWriteBehind)"
        }
        logger.info("state store", metadata: metadata)
        switch state.backend {
        case .sqlite(let path):
            if state.sqliteWriteBehind > .zero {
                return try SQLiteWriteBehindStore(path: path, sync: state.sqliteSync, interval: state.sqliteWriteBehind, logger: logger)
            }
            return try SQLiteStateStore(path: path, sync: state.sqliteSync)
        case .postgres(let configuration): return PostgresStateStore(configuration: configuration, logger: logger)
        case .memory: return MemoryStateStore()
        }
    }

    public static func purgeRegularly(_ store: any StateStore, every interval: Duration, logger: Logger) -> Task<Void, Never> {
        Task {
            while !Task.isCancelled {
                do {
                    try await Task.sleep(for: interval)
                    let removed = try await store.purgeExpired(at: Date())
                    logger.debug("state purged", metadata: ["rows": "\(removed)"])
                } catch is CancellationError {
                    return
                } catch {
                    logger.warning("state purge failed", metadata: ["error": "\(error)"])
                }
            }
        }
    }

    /// Recovers the spool, starts forwarding, binds the listeners; returns their addresses.
    @discardableResult
    public func start() async throws -> [SocketAddress] {
        if ownsStateStore, let postgres = stateStore as? PostgresStateStore {
            try await postgres.prepare()
        }
        if let mailboxes {
            let task = try await Self.maintainStore(mailboxes, retention: configuration.dedup.retention, logger: logger)
            storeMaintenance.withLockedValue { $0 = task }
        }
        // Before recovery: no other node may work on these files, and a `mailnode queue` command
        // on them finishes first (it holds the lock for a moment).
        guard let lock = try await SpoolLock.acquire(spoolDirectory: spool.directory, timeout: .seconds(10)) else {
            throw SpoolInUse(directory: spool.directory)
        }
        spoolLock.withLockedValue { $0 = lock }
        if let runner {
            try await runner.start()
        } else if mailboxes == nil {
            let waiting = try spool.committedIDs().count
            logger.warning("no next hop configured: accepted mail stays in the spool", metadata: ["queued": "\(waiting)"])
        }
        await startControl()
        try await metricsServer?.start()
        if let quarantine, let retention = configuration.antivirus?.quarantineRetention {
            let task = Self.maintain(quarantine, spool: spool, runner: runner, retention: retention, logger: logger)
            quarantineMaintenance.withLockedValue { $0 = task }
        }
        let addresses = try await server.start()
        return addresses + (try await pop3?.start() ?? []) + (try await imap?.start() ?? [])
    }

    /// Every second: adopts messages `mailnode quarantine release` put into the queue (their
    /// markers); every hour (and at start): purges held messages older than `retention`.
    /// Markers left from before the start are dropped: recovery already found their entries.
    static func maintain(_ quarantine: QuarantineStore, spool: SpoolStore, runner: SpoolRunner?, retention: Duration,
                         logger: Logger) -> Task<Void, Never> {
        _ = quarantine.takeReleaseMarkers()
        return Task {
            var lastPurge: ContinuousClock.Instant?
            while !Task.isCancelled {
                if lastPurge.map({ ContinuousClock.now - $0 >= .seconds(3600) }) ?? true {
                    lastPurge = .now
                    let cutoff = Date().addingTimeInterval(-Double(retention.components.seconds))
                    do {
                        let removed = try await NIOThreadPool.singleton.runIfActive { try quarantine.purge(olderThan: cutoff) }
                        if !removed.isEmpty {
                            logger.notice("quarantine purged", metadata: ["removed": "\(removed.count)", "older_than": "\(cutoff)"])
                        }
                    } catch {
                        logger.warning("quarantine purge failed", metadata: ["error": "\(error)"])
                    }
                }
                for id in quarantine.takeReleaseMarkers() {
                    guard let runner else {
                        logger.warning("released message stays in the spool: no next hop", metadata: ["id": "\(id)"])
                        continue
                    }
                    do {
                        await runner.adopt(try spool.committedEntry(id))
                        logger.notice("released message queued for the next hop", metadata: ["id": "\(id)"])
                    } catch {
                        logger.warning("released entry not found (already delivered?)", metadata: ["id": "\(id)", "error": "\(error)"])
                    }
                }
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }

    /// Serves `DIR/control.sock`: the runner carries out the commands, or (no next hop) the files
    /// change directly — nothing else writes them. A socket that cannot be bound (a path too
    /// long for `sun_path`) is logged; `mailnode queue` then says no node answers.
    func startControl() async {
        let administrator: any SpoolAdministrator = runner
            ?? DirectSpoolAdministrator(store: spool, hostname: configuration.hostname, logger: logger)
        let server = SpoolControlServer(spoolDirectory: spool.directory, administrator: administrator, group: group, logger: logger)
        do {
            try await server.start()
            control.withLockedValue { $0 = server }
        } catch {
            logger.error("control socket unavailable: mailnode queue cannot change this spool while the node runs",
                         metadata: ["path": "\(server.path)", "error": "\(error)"])
        }
    }

    /// Stops accepting, lets sessions finish their message, then stops forwarding.
    public func shutdown() async {
        await pop3?.shutdown()
        await imap?.shutdown()
        await server.shutdown(gracePeriod: .seconds(30))
        storeMaintenance.withLockedValue { $0 }?.cancel()
        await control.withLockedValue { $0 }?.stop()
        await runner?.stop()
        await metricsServer?.stop()
        statePurger?.cancel()
        quarantineMaintenance.withLockedValue { $0 }?.cancel()
        if ownsStateStore {
            await (stateStore as? PostgresStateStore)?.shutdown()
            await (stateStore as? SQLiteWriteBehindStore)?.close()
        }
        spoolLock.withLockedValue { $0 }?.release()
    }
}
