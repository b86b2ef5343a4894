import SMTPCore

/// One stage of a process that runs several roles: the role's name and the configuration a
/// ``MailNode`` for it runs (only that role's table, its own spool, its next hop filled in).
public struct ChainedStage: Sendable {
    public var role: String
    public var configuration: NodeConfiguration
}

extension NodeConfiguration {
    /// The roles whose tables this configuration has, in the order mail flows through them:
    /// the entry stages (mx, submission), then antivirus, then the two exits, outbound and store
    /// (the store last: it starts first, so the outbound stage's bounces to local senders find it).
    public var enabledRoles: [String] {
        var roles: [String] = []
        if mx != nil { roles.append("mx") }
        if submission != nil { roles.append("submission") }
        if antivirus != nil { roles.append("antivirus") }
        if outbound != nil { roles.append("outbound") }
        if store != nil { roles.append("store") }
        return roles
    }

    /// The stages one process runs for this configuration (`--role all`, `mailnode up`).
    ///
    /// With one role table, one stage: the configuration unchanged. With several, each stage
    /// gets only its table and its own spool `<node.spool>/stages/<role>` (entries, dedup pairs
    /// and quarantine stay per stage, as on separate machines), and the stages are chained over
    /// their own listeners — real SMTP/LMTP hand-offs, each one durable before its 250:
    ///
    /// ```
    /// mx ─┐
    ///     ├─▶ antivirus ─▶ store           (mx.domains; LMTP)
    /// submission ─┘    └─▶ outbound        (every other domain; without it [routes]/[hops])
    /// ```
    ///
    /// - The entry stages hand everything to antivirus when there is one; otherwise they route
    ///   like the last stage below.
    /// - The last spooling stage uses the file's `[routes]`, except that the mx's local domains
    ///   go to the store when there is one (a route the file gives for such a domain wins). With
    ///   an outbound stage, what has no route of its own goes to the outbound stage, which routes
    ///   like the last stage (its bounces to local senders go to the store) and delivers the
    ///   rest to the recipients' mail exchangers — or, when the file has a default route
    ///   (`"*"`), through that hop (smarthost mode).
    /// - When the store is one of the stages, the mx refuses unknown users at RCPT (DM19)
    ///   against the store's user directory, unless `[mx.recipients] enabled = false`.
    /// - A stage receiving from another one accepts it (`accept_from`) and trusts its
    ///   `Mailnode-Id` (`trusted_upstreams`) on the hop's address, so a retried hand-off is
    ///   answered without storing it twice.
    public func stages() -> [ChainedStage] {
        let roles = enabledRoles
        guard roles.count > 1 else { return roles.map { ChainedStage(role: $0, configuration: self) } }
        let storeHop = store.flatMap { store in
            store.listen.first.map { Self.hop("store", $0, store.sessionProtocol) }
        }
        let antivirusHop = antivirus.flatMap { av in av.listen.first.map { Self.hop("antivirus", $0, av.sessionProtocol) } }
        let outboundHop = outbound.flatMap { out in out.listen.first.map { Self.hop("outbound", $0, out.sessionProtocol) } }
        var exit = routing
        if let storeHop {
            for domain in mx?.localDomains ?? [] where exit.routes[domain.lowercased()] == nil {
                exit.routes[domain.lowercased()] = storeHop
            }
        }
        // The outbound stage itself: the exit's routes, and the file's default route when it
        // has one (smarthost mode: everything leaves through that relay); without one, by MX.
        let outboundRouting = RoutingTable(routes: exit.routes, defaultHop: routing.defaultHop).removingHops(to: outbound?.listen ?? [])
        if let outboundHop { exit.defaultHop = outboundHop }
        func stage(_ role: String, routing: RoutingTable) -> ChainedStage {
            var copy = running(role: role)
            copy.spoolDirectory = spoolDirectory + "/stages/" + role
            copy.routing = routing
            if role != roles.first { copy.metricsListen = nil }   // one metrics listener serves the shared counters
            return ChainedStage(role: role, configuration: copy)
        }
        var result: [ChainedStage] = []
        for role in roles where role == "mx" || role == "submission" {
            var entry = stage(role, routing: antivirusHop.map { RoutingTable(defaultHop: $0) } ?? exit)
            // DM19 against the store's users, like Postfix's default local_recipient_maps: an unknown
            // user is refused at RCPT instead of bounced by the store later (backscatter).
            if role == "mx", let store, var mx = entry.configuration.mx, !mx.recipientDirectoryOff {
                var directory = mx.recipientDirectory ?? RecipientDirectorySettings()
                if mx.recipientDirectory == nil { directory.domains = Set(mx.localDomains.map { $0.lowercased() }) }
                directory.usersPath = directory.usersPath ?? store.usersPath
                mx.recipientDirectory = directory
                entry.configuration.mx = mx
            }
            result.append(entry)
        }
        if antivirus != nil { result.append(stage("antivirus", routing: exit)) }
        if outbound != nil { result.append(stage("outbound", routing: outboundRouting)) }
        if store != nil { result.append(stage("store", routing: RoutingTable())) }
        // The receiving stages accept and trust the hop addresses their upstreams use.
        let used = Set(result.flatMap { Array($0.configuration.routing.routes.values) + ($0.configuration.routing.defaultHop.map { [$0] } ?? []) })
        func trusted(_ hop: NextHop?) -> [IPNetwork] { hop.flatMap { used.contains($0) ? IPNetwork($0.host) : nil }.map { [$0] } ?? [] }
        func adding(_ networks: [IPNetwork], to list: inout [IPNetwork]) { list += networks.filter { !list.contains($0) } }
        for index in result.indices {
            if var av = result[index].configuration.antivirus {
                adding(trusted(antivirusHop), to: &av.acceptFrom)
                adding(trusted(antivirusHop), to: &av.trustedUpstreams)
                result[index].configuration.antivirus = av
            }
            if var out = result[index].configuration.outbound {
                adding(trusted(outboundHop), to: &out.acceptFrom)
                adding(trusted(outboundHop), to: &out.trustedUpstreams)
                result[index].configuration.outbound = out
            }
            if var st = result[index].configuration.store {
                adding(trusted(storeHop), to: &st.acceptFrom)
                adding(trusted(storeHop), to: &st.trustedUpstreams)
                result[index].configuration.store = st
            }
        }
        return result
    }

    /// The stage running `role` (see ``stages()``); nil when the configuration has no such table.
    public func stage(_ role: String) -> ChainedStage? { stages().first { $0.role == role } }

    /// A hop to a stage's listener; a wildcard listen address is reached on loopback.
    static func hop(_ role: String, _ address: ListenAddress, _ sessionProtocol: SessionProtocol) -> NextHop {
        let host = address.host == "0.0.0.0" ? "127.0.0.1" : address.host == "::" ? "::1" : address.host
        // The hand-off stays on this machine: TLS would add nothing but cost.
        return NextHop(name: role, host: host, port: address.port, sessionProtocol: sessionProtocol, tls: .none)
    }
}

extension RoutingTable {
    /// The table without the routes (and default) that lead to one of `listeners` — a stage's
    /// own listening addresses, where a hop would be a loop. A wildcard listener (`0.0.0.0`,
    /// `::`) matches its port on any address.
    func removingHops(to listeners: [ListenAddress]) -> RoutingTable {
        func isOwn(_ hop: NextHop) -> Bool {
            listeners.contains { listener in
                guard listener.port == hop.port else { return false }
                if listener.host == "0.0.0.0" || listener.host == "::" { return true }
                return listener.host.lowercased() == hop.host.lowercased()
            }
        }
        var copy = self
        copy.routes = routes.filter { !isOwn($0.value) }
        if let hop = defaultHop, isOwn(hop) { copy.defaultHop = nil }
        return copy
    }
}
