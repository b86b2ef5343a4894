import Logging
import NIOCore
import NIOPosix

/// The real resolver: a stub resolver ([RFC 1123 §6.1.3.1](https://www.rfc-editor.org/rfc/rfc1123#section-6.1.3.1))
/// that builds and parses messages with libldns and sends them itself on SwiftNIO event loops.
///
/// - Queries carry a random ID, RD, by default AD ([RFC 6840 §5.7](https://www.rfc-editor.org/rfc/rfc6840#section-5.7))
///   and EDNS0 with a 1232-byte UDP size ([RFC 6891](https://www.rfc-editor.org/rfc/rfc6891)); a
///   server that answers FORMERR to EDNS is asked again without it (RFC 6891 §7).
/// - A reply is accepted only with the query's ID and question, from the server's address and port;
///   anything else is dropped while the wait goes on ([RFC 5452 §9.1](https://www.rfc-editor.org/rfc/rfc5452#section-9.1)).
/// - A truncated UDP reply (TC) is asked again over TCP ([RFC 7766 §5](https://www.rfc-editor.org/rfc/rfc7766#section-5)).
/// - Servers and rounds as ``DNSResolverConfiguration`` describes; a dead server costs its timeout.
/// - CNAME chains are followed, asking again for a target the reply did not resolve, up to
///   ``DNSResolverConfiguration/maxCNAMEChain`` links.
///
/// No cache: put a ``DNSCachingResolver`` in front. No thread ever blocks: sockets are NIO channels,
/// ldns only builds and parses bytes.
public struct LDNSResolver: DNSResolver {
    public let configuration: DNSResolverConfiguration
    private let transport: DNSTransport
    private let logger: Logger

    /// - Parameters:
    ///   - configuration: servers and options; ``DNSResolverConfiguration/system(path:)`` reads
    ///     `/etc/resolv.conf`.
    ///   - eventLoopGroup: where the sockets live: a NIOPosix `MultiThreadedEventLoopGroup`, the
    ///     shared singleton by default.
    public init(
        configuration: DNSResolverConfiguration,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "mailnode.dns")
    ) {
        self.configuration = configuration
        self.transport = DNSTransport(group: eventLoopGroup)
        self.logger = logger
    }

    public func resolve(_ question: DNSQuestion) async throws(DNSError) -> DNSResponse {
        var aliases: [DNSResourceRecord] = []
        var current = question
        var authenticated = true
        while true {
            let (reply, server) = try await exchange(current)
            authenticated = authenticated && reply.authenticatedData && configuration.adTrust.trusts(server)
            let walk = DNSAnswerWalk(records: reply.answers, name: current.name, type: current.type)
            aliases += walk.aliases
            if aliases.count > configuration.maxCNAMEChain || walk.looped {
                throw .cnameChainTooLong(question.name)
            }
            if !walk.records.isEmpty {
                return DNSResponse(question: question, records: walk.records, aliases: aliases, authenticated: authenticated)
            }
            let soa = walk.negativeTTL(authority: reply.authority)
            let negative = DNSNegativeAnswer(name: walk.finalName, type: question.type, ttl: soa, authenticated: authenticated)
            if reply.responseCode == LDNSMessage.nameError {
                throw .nxdomain(negative)
            }
            // An authoritative server stops at a CNAME that leaves its zone, without an SOA;
            // a NODATA for the target carries the target zone's SOA (RFC 2308 §2.2).
            if !walk.aliases.isEmpty && soa == nil {
                current = try DNSQuestion(name: walk.finalName, type: question.type)
                continue
            }
            throw .noData(negative)
        }
    }

    // MARK: - Servers and attempts

    /// Asks the servers in turn until one gives NOERROR or NXDOMAIN.
    private func exchange(_ question: DNSQuestion) async throws(DNSError) -> (LDNSMessage.Reply, DNSServerAddress) {
        let servers = configuration.nameservers
        guard !servers.isEmpty else { throw .noNameservers }
        var failures: [DNSError] = []
        var refusedBy: Set<Int> = []
        for attempt in 1...configuration.attempts {
            for (index, server) in servers.enumerated() where !refusedBy.contains(index) {
                do {
                    let reply = try await ask(question, server)
                    switch reply.responseCode {
                    case LDNSMessage.noError, LDNSMessage.nameError:
                        return (reply, server)
                    case LDNSMessage.serverFailure:
                        failures.append(.serverFailure)
                    default:
                        failures.append(.responseCode(reply.responseCode))
                    }
                    refusedBy.insert(index)
                    logger.debug("DNS error RCODE \(reply.responseCode) for \(question) from \(server)")
                } catch .cancelled {
                    throw .cancelled
                } catch {
                    if case .malformedResponse = error { refusedBy.insert(index) }
                    failures.append(error)
                    logger.debug("DNS \(question) to \(server), try \(attempt): \(error)")
                }
            }
            if refusedBy.count == servers.count { break }
        }
        // The most telling failure: an error RCODE says more than silence.
        for failure in failures {
            if case .serverFailure = failure { throw failure }
        }
        for failure in failures {
            if case .responseCode = failure { throw failure }
        }
        for failure in failures {
            if case .timeout = failure { throw failure }
        }
        throw failures.first ?? .timeout
    }

    /// One try with one server: UDP, then TCP when truncated, and once more without EDNS when the
    /// server does not know it.
    private func ask(_ question: DNSQuestion, _ server: DNSServerAddress) async throws(DNSError) -> LDNSMessage.Reply {
        let address: SocketAddress
        do {
            address = try SocketAddress(ipAddress: server.address.description, port: Int(server.port))
        } catch {
            throw .network("\(server): \(error)")
        }
        var edns = configuration.edns
        while true {
            let query = try LDNSMessage.makeQuery(
                question, id: UInt16.random(in: .min ... .max), edns: edns,
                requestAuthenticatedData: configuration.requestAuthenticatedData)
            guard let matcher = DNSWire.ReplyMatcher(query: query) else {
                throw .invalidName(question.name)
            }
            var reply = try LDNSMessage.parseReply(try await send(query, matcher, address, tcp: false))
            if reply.truncated {
                logger.debug("DNS \(question) from \(server) truncated, asking over TCP")
                reply = try LDNSMessage.parseReply(try await send(query, matcher, address, tcp: true))
            }
            if reply.responseCode == LDNSMessage.formatError, edns != nil {
                edns = nil  // RFC 6891 §7: a responder without EDNS answers FORMERR
                continue
            }
            return reply
        }
    }

    private func send(_ query: [UInt8], _ matcher: DNSWire.ReplyMatcher, _ address: SocketAddress, tcp: Bool) async throws(DNSError) -> [UInt8] {
        do {
            if tcp {
                return try await transport.tcp(query, matcher: matcher, server: address, timeout: configuration.timeout)
            }
            return try await transport.udp(query, matcher: matcher, server: address, timeout: configuration.timeout)
        } catch {
            switch error {
            case .timeout: throw .timeout
            case .cancelled: throw .cancelled
            case .network(let reason): throw .network(reason)
            }
        }
    }
}

/// The answer section read from a name: CNAMEs followed, then the records of the type.
struct DNSAnswerWalk {
    private(set) var records: [DNSResourceRecord] = []
    private(set) var aliases: [DNSResourceRecord] = []
    private(set) var finalName: String
    private(set) var looped = false

    init(records answer: [DNSResourceRecord], name: String, type: DNSRecordType) {
        finalName = name
        var seen: Set<String> = [name]
        while true {
            let here = answer.filter { $0.name == finalName }
            let matching = here.filter { $0.type == type }
            if !matching.isEmpty {
                records = matching
                return
            }
            guard let alias = here.first(where: { $0.type == .cname }), case .cname(let target) = alias.data else { return }
            aliases.append(alias)
            finalName = target
            if !seen.insert(target).inserted {
                looped = true
                return
            }
        }
    }

    /// min(SOA TTL, SOA MINIMUM) of the authority section's SOA
    /// ([RFC 2308 §5](https://www.rfc-editor.org/rfc/rfc2308#section-5)); `nil` without one.
    func negativeTTL(authority: [DNSResourceRecord]) -> UInt32? {
        for record in authority {
            if case .soa(let soa) = record.data { return min(record.ttl, soa.minimum) }
        }
        return nil
    }
}
