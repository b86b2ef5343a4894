#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A name server to send queries to: an IP address and a port (53 unless given).
///
/// Always an address, never a host name: looking up the resolver's own address would need a
/// resolver ([RFC 1035 §7.2](https://www.rfc-editor.org/rfc/rfc1035#section-7.2)).
public struct DNSServerAddress: Hashable, Sendable, CustomStringConvertible {
    public var address: IPAddress
    public var port: UInt16

    public init(_ address: IPAddress, port: UInt16 = 53) {
        self.address = address
        self.port = port
    }

    /// From `192.0.2.1`, `192.0.2.1:5353`, `2001:db8::1`, `[2001:db8::1]` or `[::1]:5353`.
    public init?(_ text: String) {
        var host = Substring(text)
        var port: UInt16 = 53
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { return nil }
            let rest = host[host.index(after: close)...]
            host = host[host.index(after: host.startIndex)..<close]
            if !rest.isEmpty {
                guard rest.hasPrefix(":"), let value = UInt16(rest.dropFirst()), value > 0 else { return nil }
                port = value
            }
        } else if host.filter({ $0 == ":" }).count == 1, let colon = host.firstIndex(of: ":") {
            guard let value = UInt16(host[host.index(after: colon)...]), value > 0 else { return nil }
            port = value
            host = host[..<colon]
        }
        guard let address = IPAddress(String(host)) else { return nil }
        self.init(address, port: port)
    }

    /// `192.0.2.1:53` or `[2001:db8::1]:53`.
    public var description: String {
        switch address {
        case .v4: "\(address):\(port)"
        case .v6: "[\(address)]:\(port)"
        }
    }
}

/// How ``LDNSResolver`` asks: which servers, how long, with which options.
///
/// A look-up tries each server in order, and the whole list up to ``attempts`` times, waiting
/// ``timeout`` for each try; so a dead server costs at most `timeout × attempts × servers`, never a
/// hang. A server that answered SERVFAIL or another error RCODE is not asked again for that question.
public struct DNSResolverConfiguration: Sendable, Hashable {
    /// Servers in the order they are tried.
    public var nameservers: [DNSServerAddress]
    /// How long one try (one UDP exchange, or the TCP exchange after a truncated answer) may take.
    public var timeout: Duration
    /// How many rounds over ``nameservers``; at least 1.
    public var attempts: Int
    /// EDNS0 ([RFC 6891](https://www.rfc-editor.org/rfc/rfc6891)) on queries, or `nil` to send plain
    /// RFC 1035 queries (answers then truncate at 512 bytes and come again over TCP).
    public var edns: EDNS?
    /// Set the AD bit in queries, asking a validating resolver to report whether it validated the
    /// answer without needing the DO bit ([RFC 6840 §5.7](https://www.rfc-editor.org/rfc/rfc6840#section-5.7)).
    public var requestAuthenticatedData: Bool
    /// Which servers' AD bit to believe.
    public var adTrust: ADTrust
    /// How many CNAMEs to follow before giving up (``DNSError/cnameChainTooLong(_:)``).
    public var maxCNAMEChain: Int

    /// EDNS0 options of a query ([RFC 6891 §6.1.2](https://www.rfc-editor.org/rfc/rfc6891#section-6.1.2)).
    public struct EDNS: Sendable, Hashable {
        /// The largest UDP reply we take; 1232 avoids IP fragmentation (DNS Flag Day 2020).
        public var udpPayloadSize: UInt16
        /// The DO bit: ask for DNSSEC records ([RFC 3225](https://www.rfc-editor.org/rfc/rfc3225)).
        /// Not needed for the AD bit; it makes answers bigger.
        public var dnssecOK: Bool

        public init(udpPayloadSize: UInt16 = 1232, dnssecOK: Bool = false) {
            self.udpPayloadSize = udpPayloadSize
            self.dnssecOK = dnssecOK
        }
    }

    /// Whose AD bit counts. A stub resolver cannot check DNSSEC itself; the AD bit means something
    /// only if the server validates and nobody on the path could set it
    /// ([RFC 4035 §4.9.3](https://www.rfc-editor.org/rfc/rfc4035#section-4.9.3), [RFC 6698 §4.1](https://www.rfc-editor.org/rfc/rfc6698#section-4.1)).
    public enum ADTrust: Sendable, Hashable {
        /// Never: ``DNSResponse/authenticated`` is always false.
        case never
        /// Only from a server on a loopback address (a validating resolver on the same host). The default.
        case loopbackOnly
        /// From every configured server (`options trust-ad` in resolv.conf): only for a trusted path.
        case always

        func trusts(_ server: DNSServerAddress) -> Bool {
            switch self {
            case .never: false
            case .loopbackOnly: server.address.isLoopback
            case .always: true
            }
        }
    }

    public init(
        nameservers: [DNSServerAddress],
        timeout: Duration = .seconds(2),
        attempts: Int = 2,
        edns: EDNS? = EDNS(),
        requestAuthenticatedData: Bool = true,
        adTrust: ADTrust = .loopbackOnly,
        maxCNAMEChain: Int = 8
    ) {
        self.nameservers = nameservers
        self.timeout = timeout
        self.attempts = max(1, attempts)
        self.edns = edns
        self.requestAuthenticatedData = requestAuthenticatedData
        self.adTrust = adTrust
        self.maxCNAMEChain = maxCNAMEChain
    }

    /// The servers and options of a resolv.conf text (resolv.conf(5)).
    ///
    /// Reads `nameserver` lines (IPv6 zone indexes such as `%eth0` are not supported and are
    /// skipped) and the options `timeout:n` (seconds, at most 30), `attempts:n` (at most 5) and
    /// `trust-ad`. `search`, `domain` and `ndots` do not apply: names are always absolute. Without a
    /// `nameserver` line the server is 127.0.0.1, as for the C library.
    public static func parsingResolvConf(_ text: String) -> DNSResolverConfiguration {
        var configuration = DNSResolverConfiguration(nameservers: [])
        for rawLine in text.split(whereSeparator: \.isNewline) {
            let line = rawLine.prefix { $0 != "#" && $0 != ";" }
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard let keyword = fields.first else { continue }
            switch keyword {
            case "nameserver":
                if fields.count >= 2, let address = IPAddress(String(fields[1])) {
                    configuration.nameservers.append(DNSServerAddress(address))
                }
            case "options":
                for option in fields.dropFirst() {
                    if option.hasPrefix("timeout:"), let seconds = Int(option.dropFirst(8)) {
                        configuration.timeout = .seconds(min(max(seconds, 1), 30))
                    } else if option.hasPrefix("attempts:"), let count = Int(option.dropFirst(9)) {
                        configuration.attempts = min(max(count, 1), 5)
                    } else if option == "trust-ad" {
                        configuration.adTrust = .always
                    }
                }
            default:
                continue
            }
        }
        if configuration.nameservers.isEmpty {
            configuration.nameservers = [DNSServerAddress(.v4(IPv4Address(octets: [127, 0, 0, 1])!))]
        }
        return configuration
    }

    /// The system's configuration from `/etc/resolv.conf` (or `path`), read synchronously: call it
    /// at start-up, not on an event loop. An unreadable file gives the C library's default, 127.0.0.1.
    public static func system(path: String = "/etc/resolv.conf") -> DNSResolverConfiguration {
        parsingResolvConf(readSmallFile(path) ?? "")
    }

    private static func readSmallFile(_ path: String) -> String? {
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var contents: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while contents.count < 1 << 20 {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { break }
            contents += chunk[0..<count]
        }
        return String(decoding: contents, as: UTF8.self)
    }
}
