import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL

/// How a stage forwards what it spooled.
public struct SpoolRunnerConfiguration: Sendable {
    public var routing: RoutingTable
    public var retry: RetryPolicy
    /// Base client settings; mode and TLS are set per hop.
    public var client: SMTPClientConfiguration
    /// Deliveries in flight at once.
    public var maxConcurrentDeliveries: Int
    /// Deliveries in flight at once to one mail exchanger address (hosts found by MX only;
    /// configured hops are the operator's own servers). `outbound.max_connections_per_host`.
    public var maxDeliveriesPerHost = 10
    /// Our name in bounces (`Reporting-MTA`) and in EHLO towards the next hop.
    public var hostname: String
    /// The recipients' own mail exchangers, for domains ``routing`` has no hop for (the outbound
    /// stage); nil: such recipients fail with "No route" (every other stage only talks to its
    /// configured next hops).
    public var destinations: (any DestinationResolver)?
    /// Where the client may connect: the routing table's hops only (default), or also the
    /// mail exchangers from ``destinations`` (the outbound stage only).
    public var egress: EgressRule = .configuredHops
    /// The runner's notion of now: schedule, lifetime and delay warnings. Tests move it forward
    /// instead of waiting hours; everything else uses the system clock.
    public var clock: @Sendable () -> Date = { Date() }
    /// The certificate authorities a hop with ``NextHop/HopTLS/verify`` is checked against:
    /// the system's store by default (`node.tls_ca_file` names another).
    public var tlsTrustRoots: NIOSSLTrustRoots = .default
    /// Honour `TLS-Required: No` (``TLSRequiredField``, RFC 8689 §5) in messages to mail
    /// exchangers: such a message goes with opportunistic STARTTLS where the destination's level
    /// (DANE, MTA-STS, `encrypt`/`verify`) would otherwise hold it back. On by default, as
    /// Postfix's `tls_required_enable`; `outbound.tls_required_header = false` turns it off.
    public var honoursTLSRequiredNo = true
    /// AUTH credentials per configured hop name (`hops.NAME.auth_file`, e.g. a smarthost's
    /// submission account). Never used for hosts found by MX; the client sends them only over
    /// TLS. Their description is redacted, so they never reach a log.
    public var hopCredentials: [String: SMTPClientCredentials] = [:]
    /// Told what TLS did on each new connection to a host found by MX (TLS-RPT data, RFC 8460).
    public var tlsObserver: (@Sendable (TLSSessionObservation) async -> Void)?

    public init(routing: RoutingTable, retry: RetryPolicy = .init(), client: SMTPClientConfiguration = .init(),
                maxConcurrentDeliveries: Int = 20, hostname: String) {
        self.routing = routing
        self.retry = retry
        self.client = client
        self.maxConcurrentDeliveries = maxConcurrentDeliveries
        self.hostname = hostname
        self.client.heloName = .domain(hostname)
    }
}

/// Hands spooled messages to their next hops: per-recipient results, retries with backoff and
/// jitter, a maximum lifetime, and delivery status notifications (RFC 3464) to the sender —
/// never to `<>`: bounces for recipients that failed, one delayed-delivery warning per
/// recipient still pending after ``RetryPolicy/delayWarning``, and success reports for
/// NOTIFY=SUCCESS recipients a next hop took without promising DSNs of its own (`relayed`) or
/// an LMTP hop delivered (`delivered`).
///
/// State lives in the ``SpoolStore``; the runner's memory is only an index of it, rebuilt by
/// ``start()`` after any restart or crash. Delivery is at-least-once: a crash between the next
/// hop's 250 and the state save re-sends the message on restart.
public actor SpoolRunner: SpoolAdministrator {
    public let store: SpoolStore
    public let configuration: SpoolRunnerConfiguration
    let group: any EventLoopGroup
    let logger: Logger

    private var entries: [String: (entry: SpoolEntry, state: DeliveryState)] = [:]
    /// Every entry not in flight, by its next attempt time.
    private var schedule = DeliverySchedule()
    private var inFlight: [String: Task<Void, Never>] = [:]
    private var loop: Task<Void, Never>?
    private var waiter: CheckedContinuation<Void, Never>?
    /// Ends the current wait at its deadline; cancelled when work ends it first, so that a wait
    /// long over does not wake the runner once more (one per message under load).
    private var sleeper: Task<Void, Never>?
    private var workSignalled = false
    private var stopping = false
    /// Open connections kept between messages, per hop.
    private let pool: ConnectionPool
    /// Deliveries in flight per mail exchanger address.
    let slots: DestinationSlots

    public init(store: SpoolStore, configuration: SpoolRunnerConfiguration,
                group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, logger: Logger) {
        self.store = store
        self.configuration = configuration
        self.group = group
        self.logger = logger
        slots = DestinationSlots(limit: configuration.maxDeliveriesPerHost)
        // Idle connections to a remote server count against it too: never more than the per-host
        // limit when this runner delivers to mail exchangers (stage hops keep 20).
        pool = ConnectionPool(maxIdlePerHop: configuration.destinations == nil ? 20 : min(20, max(1, configuration.maxDeliveriesPerHost)))
    }

    /// Recovers the spool and starts forwarding. Newly committed entries are picked up at once.
    @discardableResult
    public func start() async throws -> SpoolStore.Recovery {
        let recovery = try await store.recover(logger: logger)
        for item in recovery.entries {
            entries[item.entry.id] = item
            // A held entry waits for `mailnode queue release` (its hold is in the saved state).
            if !item.state.isHeld { schedule.schedule(item.entry.id, at: item.state.nextAttempt) }
        }
        logger.notice("spool recovered", metadata: [
            "entries": "\(recovery.entries.count)", "quarantined": "\(recovery.quarantined.count)",
            "partials_removed": "\(recovery.discardedPartials)",
        ])
        store.onCommit { [weak self] entry in
            guard let self else { return }
            Task { await self.add(entry) }
        }
        loop = Task { await self.run() }
        return recovery
    }

    /// Stops starting deliveries and waits for those in flight.
    public func stop() async {
        stopping = true
        wake()
        await loop?.value
        for task in inFlight.values { await task.value }
        await pool.drain()
    }

    /// Number of entries not yet finished.
    public var queued: Int { entries.count }

    /// Makes every deferred entry due now (like `postqueue -f`); held entries stay held.
    /// Returns the ids made due.
    @discardableResult
    public func flush() -> [String] {
        let now = configuration.clock()
        schedule.removeAll()
        var flushed: [String] = []
        for id in entries.keys.sorted() where inFlight[id] == nil {
            guard entries[id]?.state.isHeld == false else { continue }
            entries[id]?.state.nextAttempt = now
            schedule.schedule(id, at: now)
            flushed.append(id)
        }
        wake()
        return flushed
    }

    /// Schedules an entry another process committed into this runner's `queue/` (a released
    /// quarantined message); an entry already known is left alone.
    public func adopt(_ entry: SpoolEntry) {
        add(entry)
    }

    // MARK: - Administration (`mailnode queue …`, through the node's control socket)

    /// Carries out an operator command: the schedule in memory and the files change together, so
    /// a held entry is not started, a deleted one is never delivered and no saved state comes
    /// back. An entry being delivered at this moment is waited for first (at most the client's
    /// timeouts): that attempt saves its state, may deliver the last recipients (then the entry
    /// is gone and the command answers ``SpoolAdminError/notFound(_:)``), and only then does the
    /// command apply. Every command is logged with the queue id.
    public func perform(_ command: SpoolAdminCommand) async throws(SpoolAdminError) -> SpoolAdminOutcome {
        try await command.logged(logger) { log in try await carryOut(command, logger: log) }
    }

    private func carryOut(_ command: SpoolAdminCommand, logger: Logger) async throws -> SpoolAdminOutcome {
        guard let id = command.id else {
            let flushed = flush()
            return SpoolAdminOutcome(ids: flushed, message: "\(flushed.count) message\(flushed.count == 1 ? "" : "s") due now")
        }
        guard SpoolStore.isValidID(id) else { throw SpoolAdminError.badID(id) }
        while let attempt = inFlight[id] { await attempt.value }
        guard let current = entries[id] else { throw SpoolAdminError.notFound(id) }
        let entry = current.entry
        var state = current.state
        let now = configuration.clock()
        switch command.verb {
        case .flush:
            guard !state.isHeld else { throw SpoolAdminError.held(id) }
            entries[id]?.state.nextAttempt = now
            schedule.remove(id)
            schedule.schedule(id, at: now)
            wake()
            return SpoolAdminOutcome(ids: [id], message: "\(id): due now")
        case .hold:
            guard !state.isHeld else { return SpoolAdminOutcome(ids: [id], message: "\(id): already held") }
            // Held in memory first, so that nothing starts it while the state is being saved.
            schedule.remove(id)
            state.heldSince = now
            entries[id]?.state = state
            do {
                try await store.save(state, for: id)
            } catch {
                if entries[id] != nil {
                    entries[id]?.state.heldSince = nil
                    schedule.remove(id)
                    schedule.schedule(id, at: state.nextAttempt)
                }
                throw error
            }
            return SpoolAdminOutcome(ids: [id], message: "\(id): held")
        case .release:
            guard state.isHeld else { return SpoolAdminOutcome(ids: [id], message: "\(id): not held") }
            state.heldSince = nil
            state.nextAttempt = now
            // Saved first: a release that did not reach the disk must not look done.
            try await store.save(state, for: id)
            guard entries[id] != nil else { throw SpoolAdminError.notFound(id) }
            entries[id]?.state = state
            schedule.remove(id)
            schedule.schedule(id, at: now)
            wake()
            return SpoolAdminOutcome(ids: [id], message: "\(id): released, due now")
        case .delete:
            entries[id] = nil
            schedule.remove(id)
            try await store.delete(id)
            return SpoolAdminOutcome(ids: [id], message: "\(id): deleted")
        case .bounce:
            entries[id] = nil
            schedule.remove(id)
            let failures = state.pendingIndices.map {
                DeliveryStatusNotification.ReportedRecipient(recipient: entry.record.envelope.recipients[$0],
                                                             reply: SpoolAdminCommand.bounceReply, remoteMTA: nil)
            }
            // The bounce is durable before the entry goes: a crash in between bounces twice, never not at all.
            let bounce = try await store.queueBounce(for: entry, failures: failures, reportingMTA: configuration.hostname, logger: logger)
            try await store.delete(id)
            return SpoolAdminOutcome.bounced(id, bounce: bounce)
        }
    }

    /// Whether the runner knows `id` and holds it (for tests and `queue show` of a live node).
    public func isHeld(_ id: String) -> Bool? {
        entries[id].map(\.state.isHeld)
    }

    func add(_ entry: SpoolEntry) {
        guard entries[entry.id] == nil else { return }
        let now = configuration.clock()
        entries[entry.id] = (entry, DeliveryState(recipientCount: entry.record.envelope.recipients.count, nextAttempt: now))
        schedule.schedule(entry.id, at: now)
        wake()
    }

    private func wake() {
        sleeper?.cancel()
        sleeper = nil
        if let waiter {
            self.waiter = nil
            waiter.resume()
        } else {
            workSignalled = true
        }
    }

    private func run() async {
        while !stopping {
            let now = configuration.clock()
            let capacity = configuration.maxConcurrentDeliveries - inFlight.count
            if capacity > 0 {
                for id in schedule.popDue(now: now, limit: capacity) where entries[id]?.state.isHeld == false && inFlight[id] == nil {
                    inFlight[id] = Task { await self.attempt(id) }
                }
            }
            // At capacity, a due entry waits for a finishing attempt's wake-up, not for a timer.
            let next = capacity > 0 ? schedule.nextDue : nil
            await waitForWork(until: next ?? now.addingTimeInterval(60))
        }
    }

    private func waitForWork(until deadline: Date) async {
        if workSignalled || stopping {
            workSignalled = false
            return
        }
        let delay = max(0, deadline.timeIntervalSince(configuration.clock()))
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            waiter = continuation
            sleeper = Task { [weak self] in
                do { try await Task.sleep(nanoseconds: UInt64(delay * 1_000_000_000)) } catch { return }   // cancelled: woken by work
                await self?.wake()
            }
        }
        workSignalled = false
    }

    // MARK: - One attempt

    private func attempt(_ id: String) async {
        defer {
            inFlight[id] = nil
            wake()
        }
        guard let (entry, startState) = entries[id] else { return }
        var state = startState
        let recipients = entry.record.envelope.recipients
        var log = logger
        log[metadataKey: "msg"] = "\(id)"

        // Split the pending recipients per next hop (one message, several hops).
        var byHop: [NextHop: [Int]] = [:]
        var byDomain: [String: [Int]] = [:]
        var newlyFailed: [DeliveryStatusNotification.ReportedRecipient] = []
        // This pass's temporary failures, per recipient: the reply a delay warning quotes.
        var lastReply: [Int: (reply: Reply, remoteMTA: String?)] = [:]
        for index in state.pendingIndices {
            if let hop = configuration.routing.hop(for: recipients[index].path) {
                byHop[hop, default: []].append(index)
            } else if configuration.destinations != nil, let domain = Self.domain(of: recipients[index].path) {
                byDomain[domain, default: []].append(index)
            } else {
                let reply = Reply(.transactionFailed, EnhancedStatusCode(5, 4, 4), "No route to destination")
                state.recipients[index].status = .failed
                state.recipients[index].lastResult = "\(reply)"
                newlyFailed.append(.init(recipient: recipients[index], reply: reply, remoteMTA: nil))
            }
        }

        // Domains without a route: their own mail exchangers, tried in order.
        var attempts: [(hop: NextHop, indices: [Int], result: DeliveryResult, offersDSN: Bool)] = []
        if let destinations = configuration.destinations {
            for (domain, indices) in byDomain.sorted(by: { $0.key < $1.key }) {
                var destination = await destinations.destination(for: domain)
                if case .hosts(let hosts) = destination, hosts.isEmpty {
                    destination = .noMailHost("no host to try")
                }
                if entry.record.envelope.parameters.requireTLS, case .hosts(let hosts) = destination {
                    // RFC 8689 §4.2.1: only to exchangers whose name DNSSEC or MTA-STS vouches for.
                    let authenticated = hosts.filter(\.mxAuthenticated)
                    destination = authenticated.isEmpty
                        ? .securityDeferral("REQUIRETLS: no authenticated mail exchanger for \(domain) ("
                            + Array(Set(hosts.map(\.name))).sorted().joined(separator: ", ")
                            + ": the MX record is not DNSSEC-validated and no MTA-STS policy names it)")
                        : .hosts(authenticated)
                }
                switch destination {
                case .hosts(let hosts):
                    var last: (NextHop, DeliveryResult, Bool)?
                    for host in hosts {
                        let slot = "\(host.host):\(host.port)"
                        await slots.acquire(slot)
                        let (result, offersDSN) = await deliver(entry, indices: indices, to: host, fromResolver: true, domain: domain, logger: log)
                        await slots.release(slot)
                        last = (host, result, offersDSN)
                        guard Self.triesNextHost(result) else { break }
                        log.info("next mail exchanger", metadata: ["domain": "\(domain)", "host": "\(host)", "reason": "\(result)"])
                    }
                    if let (host, result, offersDSN) = last { attempts.append((host, indices, result, offersDSN)) }
                case .nullMX, .noMailHost, .loopsBack:
                    let reply: Reply
                    switch destination {
                    case .noMailHost(let reason):
                        reply = Reply(.mailboxUnavailable, EnhancedStatusCode(5, 1, 2), "No mail host for \(domain): \(reason)")
                    case .loopsBack(let reason):
                        // RFC 3463 X.4.6 routing loop detected, as Postfix says it.
                        reply = Reply(ReplyCode(554), EnhancedStatusCode(5, 4, 6), reason)
                    default:
                        reply = Destination.nullMXReply
                    }
                    for index in indices {
                        state.recipients[index].status = .failed
                        state.recipients[index].lastResult = "\(reply)"
                        newlyFailed.append(.init(recipient: recipients[index], reply: reply, remoteMTA: nil))
                        log.notice("failed", metadata: ["domain": "\(domain)", "rcpt": "\(recipients[index].path)", "reply": "\(reply)"])
                    }
                case .temporaryFailure(let reason), .securityDeferral(let reason):
                    // RFC 3463 X.4.3: directory server failure; X.7.5: cryptographic failure.
                    var code = EnhancedStatusCode(4, 4, 3)
                    if case .securityDeferral = destination { code = EnhancedStatusCode(4, 7, 5) }
                    for index in indices {
                        state.recipients[index].attempts += 1
                        state.recipients[index].lastResult = reason
                        state.recipients[index].hop = "MX of \(domain)"
                        lastReply[index] = (Reply(.localError, code, reason), nil)
                    }
                    log.info("deferred", metadata: ["domain": "\(domain)", "reason": "\(reason)"])
                }
            }
        }
        for (hop, indices) in byHop.sorted(by: { $0.key.name < $1.key.name }) {
            let (result, offersDSN) = await deliver(entry, indices: indices, to: hop, logger: log)
            attempts.append((hop, indices, result, offersDSN))
        }

        var succeeded: [DeliveryStatusNotification.ReportedRecipient] = []
        for (hop, indices, result, offersDSN) in attempts {
            for (position, index) in indices.enumerated() {
                guard position < result.recipients.count else { continue }
                let outcome = result.recipients[position]
                state.recipients[index].attempts += 1
                state.recipients[index].lastResult = "\(outcome.reply)"
                state.recipients[index].hop = hop.description
                switch outcome.status {
                case .accepted(let reply):
                    state.recipients[index].status = .delivered
                    log.info("forwarded", metadata: ["hop": "\(hop)", "rcpt": "\(recipients[index].path)", "reply": "\(reply)"])
                    if DeliveryStatusNotification.wantsSuccessNotice(recipients[index]),
                       let action = Self.successAction(hop: hop, offersDSN: offersDSN) {
                        succeeded.append(.init(recipient: recipients[index], action: action, reply: reply, remoteMTA: hop.host))
                    }
                case .permanentFailure(let error):
                    state.recipients[index].status = .failed
                    newlyFailed.append(.init(recipient: recipients[index], reply: error.reply, remoteMTA: hop.host))
                    log.notice("failed", metadata: ["hop": "\(hop)", "rcpt": "\(recipients[index].path)", "reply": "\(error.reply)"])
                case .temporaryFailure(let error):
                    if case .rejected = error { lastReply[index] = (error.reply, hop.host) } else { lastReply[index] = (error.reply, nil) }
                    log.info("deferred", metadata: ["hop": "\(hop)", "rcpt": "\(recipients[index].path)", "reason": "\(error)"])
                }
            }
        }

        state.attempts += 1
        let now = configuration.clock()
        if !state.isFinished {
            if now.timeIntervalSince(entry.record.arrival) >= configuration.retry.maxLifetime {
                // RFC 5321 §4.5.4.1: give up after the lifetime; the last reply explains why.
                for index in state.pendingIndices {
                    state.recipients[index].status = .failed
                    let last = state.recipients[index].lastResult ?? "no attempt succeeded"
                    let reply = Reply(.transactionFailed, EnhancedStatusCode(5, 4, 7), "Delivery time expired: \(last)")
                    newlyFailed.append(.init(recipient: recipients[index], reply: reply, remoteMTA: nil))
                    log.notice("expired", metadata: ["rcpt": "\(recipients[index].path)"])
                }
            } else {
                state.nextAttempt = now.addingTimeInterval(configuration.retry.delay(afterAttempts: state.attempts))
            }
        }

        if !newlyFailed.isEmpty {
            await report(.failure, entry, newlyFailed, logger: log)
        }
        if !state.isFinished {
            await warnOfDelay(entry, state: &state, lastReply: lastReply, now: now, logger: log)
        }
        if !succeeded.isEmpty {
            await report(.success, entry, succeeded, logger: log)
        }

        do {
            if state.isFinished {
                try await store.remove(id)
                entries[id] = nil
            } else {
                try await store.save(state, for: id)
                entries[id]?.state = state
                schedule.schedule(id, at: state.nextAttempt)
            }
        } catch {
            // The entry stays; at worst it is delivered again (the receiver deduplicates).
            log.error("cannot save delivery state", metadata: ["error": "\(error)"])
            entries[id]?.state = state
            if entries[id] != nil { schedule.schedule(id, at: state.nextAttempt) }
        }
    }

    /// One delivery to `hop`, and whether the hop offered DSN (its EHLO said so; false when
    /// no session got that far).
    private func deliver(_ entry: SpoolEntry, indices: [Int], to hop: NextHop, fromResolver: Bool = false,
                         domain: String? = nil, logger: Logger) async -> (result: DeliveryResult, offersDSN: Bool) {
        let original = entry.record.envelope
        guard configuration.egress.allows(hop, routing: configuration.routing, fromResolver: fromResolver) else {
            logger.error("egress refused: not a configured next hop of this stage", metadata: [
                "host": "\(hop.host)", "port": "\(hop.port)", "egress": "\(configuration.egress.rawValue)",
            ])
            return (.failed(.localPolicy(EgressRule.refusedReply, stage: .connect), recipients: indices.map { original.recipients[$0].path }), false)
        }
        let parameters = original.parameters
        let envelope = OutboundEnvelope(
            sender: original.reversePath,
            recipients: indices.map {
                OutboundRecipient(original.recipients[$0].path, notify: original.recipients[$0].parameters.notify,
                                  originalRecipient: original.recipients[$0].parameters.originalRecipient)
            },
            body: parameters.body, messageIsInternationalized: parameters.smtpUTF8,
            dsnReturn: parameters.dsnReturn, envelopeID: parameters.envelopeID, requireTLS: parameters.requireTLS)
        var client = configuration.client
        client.mode = hop.sessionProtocol
        if !fromResolver, let credentials = configuration.hopCredentials[hop.name] { client.credentials = credentials }
        // A configured stage on this host may carry REQUIRETLS in plaintext (RFC 8689's threat is the network).
        if !fromResolver { client.requireTLSOverLoopback = LoopbackAddress.contains(hop.host) }
        switch hop.tls {
        case .none: client.tls = .none
        case .opportunistic: client.tls = .opportunistic
        case .required: client.tls = .required
        case .verify: client.tls = .verify(serverName: hop.tlsServerName ?? hop.host, trustRoots: configuration.tlsTrustRoots)
        }
        if let dane = hop.dane {
            client.tls = .dane(dane)
        }
        if fromResolver, !parameters.requireTLS, configuration.honoursTLSRequiredNo, client.tls.requiresTLS,
           let headers = try? await DeliveryStatusNotification.headerSection(of: store.message(of: entry, chunkSize: 16 * 1024)),
           TLSRequiredField.saysNo(headers: headers) {
            logger.info("TLS-Required: No: the destination's TLS level is not enforced for this message", metadata: [
                "host": "\(hop.name)", "dane": "\(hop.dane != nil)",
            ])
            client.tls = .opportunistic
        } else if parameters.requireTLS, fromResolver, hop.dane == nil {
            // RFC 8689 §4.2.1: a REQUIRETLS message goes to a mail exchanger only over TLS whose
            // certificate verifies for the MX name, by the CAs or by DANE (above); the client
            // also needs REQUIRETLS offered.
            client.tls = .verify(serverName: hop.tlsServerName ?? hop.host, trustRoots: configuration.tlsTrustRoots)
        }
        let message = store.message(of: entry, chunkSize: client.chunkSize)
        // A pooled connection first; if it turns out stale (the server closed it while idle),
        // one fresh connection — nothing was delivered over a connection that was unusable.
        // A REQUIRETLS message to a mail exchanger never rides on a pooled connection, which may
        // have been opened with a weaker TLS policy.
        if !(parameters.requireTLS && fromResolver), let pooled = await pool.take(hop) {
            let result = await pooled.send(envelope: envelope, message: message, size: entry.messageSize)
            if case .temporaryFailure(let error, _) = result, Self.isStaleConnection(error) {
                await pooled.close()
            } else {
                let offersDSN = await pooled.capabilities.dsn
                await pool.give(pooled, to: hop)
                return (result, offersDSN)
            }
        }
        let connection: SMTPClientConnection
        do {
            connection = try await SMTPClientConnection.connect(host: hop.host, port: hop.port, configuration: client,
                                                                group: group, logger: logger)
        } catch {
            switch error {
            case .tlsFailed(let reason): await observeTLS(domain, hop, .failed(reason))
            case .localPolicy(_, stage: .startTLS): await observeTLS(domain, hop, .startTLSNotOffered)
            default: break   // no session to report on
            }
            return (.failed(error, recipients: envelope.recipients.map(\.path)), false)
        }
        await observeTLS(domain, hop, await connection.isTLS ? .negotiated : .plaintext)
        let result = await connection.send(envelope: envelope, message: message, size: entry.messageSize)
        let offersDSN = await connection.capabilities.dsn
        await pool.give(connection, to: hop)
        return (result, offersDSN)
    }

    /// Tells the TLS observer about a new session with a mail exchanger (nothing for configured hops).
    private func observeTLS(_ domain: String?, _ hop: NextHop, _ outcome: TLSSessionObservation.Outcome) async {
        guard let domain, let observer = configuration.tlsObserver else { return }
        await observer(TLSSessionObservation(domain: domain, hop: hop, outcome: outcome, date: configuration.clock()))
    }

    /// What a success report says about a recipient `hop` accepted, nil when we send none:
    /// an LMTP hop is final delivery (`delivered`: the store issues no DSNs itself, so we do,
    /// whatever its LHLO offers — as Postfix's LMTP client does); an SMTP hop that offered DSN
    /// got NOTIFY and reports from now on; one that did not cannot, so we say `relayed`
    /// ([RFC 3461 §5.2.2](https://www.rfc-editor.org/rfc/rfc3461#section-5.2.2)).
    static func successAction(hop: NextHop, offersDSN: Bool) -> DeliveryStatusNotification.Action? {
        if hop.sessionProtocol == .lmtp { return .delivered }
        return offersDSN ? nil : .relayed
    }

    /// The recipient's domain as the DNS knows it (lower case, A-labels, RFC 5890), nil for
    /// `<Postmaster>` and address literals (those take the routing table's default or fail).
    static func domain(of path: ForwardPath) -> String? {
        guard case .mailbox(let mailbox) = path, case .domain(let name) = mailbox.host else { return nil }
        var domain = name.lowercased()
        if domain.hasSuffix(".") { domain.removeLast() }
        if let ascii = try? IDNA.toASCII(domain) { domain = ascii }
        return domain.isEmpty ? nil : domain
    }

    /// Whether the next mail exchanger should be tried: this one could not be reached or did
    /// not take a session (RFC 5321 §5.1: "unable to connect" or a temporary refusal before
    /// any transaction) — never after a recipient or the message got an answer.
    static func triesNextHost(_ result: DeliveryResult) -> Bool {
        // A host that refuses the session itself (5xx greeting or EHLO/HELO) says nothing about
        // the recipients: the next exchanger may take them (as Postfix does).
        if case .permanentFailure(.rejected(_, let stage), let recipients) = result, !recipients.contains(where: \.isAccepted) {
            return stage == .greeting || stage == .hello
        }
        guard case .temporaryFailure(let error, let recipients) = result, !recipients.contains(where: \.isAccepted) else { return false }
        switch error {
        case .connectionFailed, .tlsFailed, .connectionUnusable: return true
        case .timeout(let stage), .connectionClosed(let stage):
            return [.connect, .greeting, .hello, .startTLS].contains(stage)
        case .rejected(_, let stage): return [.greeting, .hello, .startTLS].contains(stage)
        default: return false
        }
    }

    /// Errors that mean the connection was dead before this message started using it.
    static func isStaleConnection(_ error: SMTPClientError) -> Bool {
        switch error {
        case .connectionUnusable: return true
        case .connectionClosed(let stage): return stage == .mail || stage == .reset
        default: return false
        }
    }

    /// One delayed-delivery warning (RFC 3464 `Action: delayed`) for the recipients of `entry`
    /// still pending past ``RetryPolicy/delayWarning`` that were not warned yet and whose NOTIFY
    /// asks for it (or is absent); never to `<>`. Each gets ``DeliveryState/Recipient/delayNotified``
    /// once the warning is queued, saved with the state: one warning per recipient, even across
    /// restarts (a crash between queueing and saving can warn twice, never not at all). Several
    /// recipients crossing the threshold in one pass share one warning.
    private func warnOfDelay(_ entry: SpoolEntry, state: inout DeliveryState,
                             lastReply: [Int: (reply: Reply, remoteMTA: String?)], now: Date, logger: Logger) async {
        let record = entry.record
        guard record.envelope.reversePath != .null,
              configuration.retry.warnsOfDelay(age: now.timeIntervalSince(record.arrival)) else { return }
        let recipients = record.envelope.recipients
        let due = state.pendingIndices.filter {
            state.recipients[$0].delayNotified == nil && DeliveryStatusNotification.wantsDelayNotice(recipients[$0])
        }
        guard !due.isEmpty else { return }
        let reported = due.map { index in
            let last = lastReply[index]
                ?? (Reply(.localError, EnhancedStatusCode(4, 0, 0), state.recipients[index].lastResult ?? "Not delivered yet"), nil)
            return DeliveryStatusNotification.ReportedRecipient(recipient: recipients[index], action: .delayed,
                                                                reply: last.reply, remoteMTA: last.remoteMTA)
        }
        do {
            try await store.queueReport(.delay, for: entry, recipients: reported, reportingMTA: configuration.hostname,
                                        willRetryUntil: record.arrival.addingTimeInterval(configuration.retry.maxLifetime),
                                        date: now, logger: logger)
            for index in due { state.recipients[index].delayNotified = now }
        } catch {
            // Not marked: the next attempt tries again.
            logger.error("cannot queue delay warning", metadata: ["error": "\(error)"])
        }
    }

    private func report(_ kind: DeliveryStatusNotification.Kind, _ entry: SpoolEntry,
                        _ recipients: [DeliveryStatusNotification.ReportedRecipient], logger: Logger) async {
        do {
            try await store.queueReport(kind, for: entry, recipients: recipients, reportingMTA: configuration.hostname,
                                        date: configuration.clock(), logger: logger)
        } catch {
            logger.error(kind == .failure ? "cannot queue bounce" : "cannot queue \(kind.rawValue) report", metadata: ["error": "\(error)"])
        }
    }
}
