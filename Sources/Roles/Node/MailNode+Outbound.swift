import Defenses
import Logging
import NIOSSL
import SMTPCore

/// The outbound role's parts (stage F).
extension MailNode {
    /// The hand-off listeners: SMTP (or LMTP) from the stages in front, without TLS between
    /// stages unless `[tls]` is set (then STARTTLS is offered, as by antivirus).
    static func outboundListeners(_ outbound: OutboundRoleConfiguration, hostname: String,
                                  tlsContext: NIOSSLContext?) -> [SMTPListenerConfiguration] {
        var session = SMTPSessionConfiguration(hostname: hostname, sessionProtocol: outbound.sessionProtocol)
        session.limits.maxMessageSize = outbound.maxMessageSize
        return outbound.listen.map {
            SMTPListenerConfiguration(name: "outbound", host: $0.host, port: $0.port, session: session,
                                      tls: tlsContext == nil ? .none : .startTLS, tlsContext: tlsContext)
        }
    }

    /// Only the configured upstream stages may hand mail over: the stage relays to every
    /// domain, so anyone else would find an open relay (DM07, counted as such).
    static func outboundHooks(_ outbound: OutboundRoleConfiguration, metrics: DefenseMetrics, logger: Logger) -> any SessionHooks {
        MeteredHooks(InternalStageAccess.id, InternalStageAccess(networks: outbound.acceptFrom, stage: "outbound", logger: logger),
                     metrics: metrics)
    }

    /// DM31: the signing keys, read at start — a key that cannot be used stops the start
    /// rather than let mail leave unsigned.
    static func outboundSigning(_ outbound: OutboundRoleConfiguration, metrics: DefenseMetrics, logger: Logger) throws -> OutboundDKIMSigning? {
        guard let directory = outbound.dkimKeys else { return nil }
        var warnings: [String] = []
        let table: DKIMSigningTable
        do {
            table = try DKIMSigningTable.load(directory: directory, warnings: &warnings)
        } catch {
            throw OutboundSetupError.dkimKeys(error.description)
        }
        for warning in warnings { logger.warning("DKIM key permissions", metadata: ["defense": "DM31", "problem": "\(warning)"]) }
        if table.isEmpty {
            logger.warning("no DKIM keys: mail leaves unsigned", metadata: ["defense": "DM31", "directory": "\(directory)"])
        } else {
            logger.info("DKIM signing", metadata: [
                "defense": "DM31",
                "keys": "\(table.domains.map { domain in domain + "=" + (table.signers[domain] ?? []).map(\.selector).joined(separator: "+") }.joined(separator: " "))",
            ])
        }
        return OutboundDKIMSigning(table: table, metrics: metrics, logger: logger)
    }

    /// The recipients' own mail exchangers, found over the node's resolver (`[dns]`, cached).
    static func outboundDestinations(_ outbound: OutboundRoleConfiguration, node: NodeConfiguration,
                                     logger: Logger) -> MXDestinationResolver {
        let dns = DNSCachingResolver(wrapping: LDNSResolver(configuration: node.dns ?? .system(), logger: logger))
        var resolver = MXDestinationResolver(dns: dns, port: outbound.remotePort, tls: outbound.tls, addressOrder: outbound.addressOrder)
        resolver.ownHost = ownHost(outbound, node: node, interfaces: LocalInterfaceAddresses.all())
        resolver.tlsPolicy = outbound.tlsPolicy
        resolver.dane = outbound.dane
        if outbound.tlsNoDowngrade {
            resolver.tlsHistory = TLSHistory(file: node.spoolDirectory + "/tls-history.json", logger: logger)
        }
        if outbound.mtaSTS {
            let fetcher = HTTPSPolicyFetcher(dns: dns, trustRoots: node.tlsCAFilePath.map { .file($0) } ?? .default)
            resolver.mtaSTS = MTASTSPolicyCache(dns: dns, fetcher: fetcher, cacheFile: node.spoolDirectory + "/mta-sts-cache.json",
                                                logger: logger)
        }
        return resolver
    }

    /// This host as a mail exchanger: the addresses where the file's mx listens on the port the
    /// outbound stage delivers to (a wildcard listener: every interface address), and the host
    /// names when there is such a listener.
    static func ownHost(_ outbound: OutboundRoleConfiguration, node: NodeConfiguration,
                        interfaces: [IPAddress]) -> MXDestinationResolver.OwnHost {
        var addresses = Set<String>()
        for listener in outbound.ownListeners where listener.port == outbound.remotePort {
            if listener.host == "::" {
                addresses.formUnion(interfaces.map(\.description))   // a dual-stack wildcard
            } else if listener.host == "0.0.0.0" {
                for case .v4(let address) in interfaces { addresses.insert(address.description) }
            } else {
                addresses.insert(listener.host)
            }
        }
        guard !addresses.isEmpty else { return MXDestinationResolver.OwnHost() }
        return MXDestinationResolver.OwnHost(addresses: addresses, names: Set([node.hostname, outbound.hostname].compactMap { $0 }))
    }
}

/// Why a node cannot assemble the outbound role.
public enum OutboundSetupError: Error, CustomStringConvertible {
    /// `[outbound]` beside another role's table in one ``MailNode``: each role runs in its own
    /// node (``NodeConfiguration/running(role:)``, ``NodeConfiguration/stages()``).
    case notAlone([String])
    /// `outbound.dkim.keys` could not be read.
    case dkimKeys(String)

    public var description: String {
        switch self {
        case .notAlone(let roles): "the outbound role runs in a node of its own, not with \(roles.joined(separator: ", "))"
        case .dkimKeys(let problem): "outbound.dkim.keys: \(problem)"
        }
    }
}
