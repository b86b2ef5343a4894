import SMTPCore

/// Local facts and limits of the sender and client checks.
public struct SenderCheckConfiguration: Sendable {
    /// Names that are ours: a client saying `HELO` with one of them impersonates this site
    /// (compared in A-labels, case-insensitively, without a trailing dot).
    public var localNames: Set<String>
    /// Addresses that are ours: an address literal naming one of them impersonates this site
    /// (the session's local address counts too).
    public var localAddresses: [IPAddress]
    /// PTR names of the client looked at by iprev; the rest are ignored (as SPF's
    /// [RFC 7208 §4.6.4](https://www.rfc-editor.org/rfc/rfc7208#section-4.6.4) limit of 10).
    public var maxPTRNames: Int
    /// Wall-clock limit of one check; past it the result is the check's temporary error.
    public var timeLimit: Duration

    public init(localNames: Set<String> = [], localAddresses: [IPAddress] = [], maxPTRNames: Int = 10, timeLimit: Duration = .seconds(20)) {
        self.localNames = Set(localNames.compactMap(SenderChecker.canonicalDomain))
        self.localAddresses = localAddresses.map(SPFEvaluation.unmapped)
        self.maxPTRNames = maxPTRNames
        self.timeLimit = timeLimit
    }
}

/// The DNS-based sender and client checks of the paper's DM19 "MTA rules" and
/// [RFC 2505](https://www.rfc-editor.org/rfc/rfc2505) ("Anti-Spam Recommendations for SMTP MTAs",
/// §2.5–2.6: check the sender's domain and the client's name):
///
/// - ``checkSenderDomain(_:)``: can the MAIL FROM domain receive mail at all (MX, else A/AAAA as
///   the implicit MX of [RFC 5321 §5.1](https://www.rfc-editor.org/rfc/rfc5321#section-5.1); a
///   null MX of [RFC 7505](https://www.rfc-editor.org/rfc/rfc7505) says it never does)?
/// - ``checkIPRev(_:)``: forward-confirmed reverse DNS of the client, the `iprev` method of
///   [RFC 8601 §3](https://www.rfc-editor.org/rfc/rfc8601#section-3).
/// - ``checkHELO(_:clientIP:localAddress:)``: is the HELO name an FQDN or an address literal,
///   does a literal match the client, is it one of our names, does it resolve?
///
/// Pure async functions over the injected resolver, returning verdicts with a reasoning trail;
/// ``SenderCheckDefense`` maps them to actions. Catalog id ``defenseID`` (DM19).
public struct SenderChecker: Sendable {
    /// DM19 "MTA rules: check sender domain, reject unknown recipients" in the defense catalog.
    public static let defenseID = DefenseID.mtaRules

    public var resolver: any DNSResolver
    public var configuration: SenderCheckConfiguration

    public init(resolver: any DNSResolver, configuration: SenderCheckConfiguration = SenderCheckConfiguration()) {
        self.resolver = resolver
        self.configuration = configuration
    }

    /// Runs `body`, or returns `timedOut` after ``SenderCheckConfiguration/timeLimit`` (the
    /// look-ups in flight are cancelled).
    func limited<T: Sendable>(_ body: @escaping @Sendable () async -> T, timedOut: @escaping @Sendable () -> T) async -> T {
        await withTimeLimit(configuration.timeLimit, body, timedOut: timedOut)
    }

    /// A domain in the form names are compared in: A-labels, lower case, no trailing dot;
    /// `nil` when IDNA refuses it or it is empty.
    static func canonicalDomain(_ text: String) -> String? {
        var name = text
        if name.hasSuffix(".") { name.removeLast() }
        guard !name.isEmpty else { return nil }
        if !name.utf8.allSatisfy({ $0 < 0x80 }) {
            guard let ascii = try? IDNA.toASCII(name) else { return nil }
            name = ascii
        }
        return name.lowercased()
    }

    static func result<T>(_ body: () async throws(DNSError) -> T) async -> Result<T, DNSError> {
        do {
            return .success(try await body())
        } catch {
            return .failure(error)
        }
    }
}
