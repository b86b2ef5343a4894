import SMTPCore

/// Can the MAIL FROM domain receive mail (and so take a bounce)?
public enum SenderDomainResult: String, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    /// MX hosts, or addresses as the implicit MX ([RFC 5321 §5.1](https://www.rfc-editor.org/rfc/rfc5321#section-5.1)).
    case pass
    /// Not checked: the null reverse-path `<>` or an address literal.
    case none
    /// The domain publishes a null MX: it sends no mail and accepts none
    /// ([RFC 7505 §4.2](https://www.rfc-editor.org/rfc/rfc7505#section-4.2): reject with
    /// `550 5.7.27`).
    case nullMX
    /// NXDOMAIN: the domain does not exist.
    case nonexistent
    /// The domain exists but has neither MX nor A/AAAA records: no mail can reach it.
    case noMailHost
    /// The name cannot be a domain (IDNA refused it, a label is too long).
    case invalid
    /// A DNS failure (timeout, SERVFAIL): ask again later, never a reason for a 5xx.
    case temperror

    public var description: String { rawValue }
}

/// The outcome of ``SenderChecker/checkSenderDomain(_:)``.
public struct SenderDomainCheck: Hashable, Sendable {
    public var result: SenderDomainResult
    /// The domain checked (A-labels), or `nil` for `none`.
    public var domain: String?
    /// The mail hosts found: MX exchanges, or the domain itself for an implicit MX.
    public var mailHosts: [String]
    /// What was asked and answered.
    public var trail: [String]
}

extension SenderChecker {
    /// Checks the domain of a reverse-path; `<>` and address literals are ``SenderDomainResult/none``.
    public func checkSenderDomain(_ reversePath: ReversePath) async -> SenderDomainCheck {
        guard let mailbox = reversePath.mailbox, let domain = mailbox.host.domainName else {
            return SenderDomainCheck(result: .none, domain: nil, mailHosts: [], trail: ["\(reversePath): no domain to check"])
        }
        return await checkSenderDomain(domain)
    }

    /// Whether `domain` can receive mail:
    /// 1. MX records: a single `MX 0 .` is a null MX ([RFC 7505 §3](https://www.rfc-editor.org/rfc/rfc7505#section-3));
    ///    otherwise the exchanges (a `.` among others is ignored) make it ``SenderDomainResult/pass``;
    /// 2. NXDOMAIN: ``SenderDomainResult/nonexistent``;
    /// 3. no MX (NODATA): the domain itself is the implicit MX when it has A or AAAA records
    ///    ([RFC 5321 §5.1](https://www.rfc-editor.org/rfc/rfc5321#section-5.1)), else
    ///    ``SenderDomainResult/noMailHost``;
    /// 4. any temporary failure on the way: ``SenderDomainResult/temperror``.
    public func checkSenderDomain(_ domain: String) async -> SenderDomainCheck {
        guard let name = Self.canonicalDomain(domain) else {
            return SenderDomainCheck(result: .invalid, domain: nil, mailHosts: [], trail: ["\(domain): not a domain name"])
        }
        let resolver = resolver
        return await limited {
            await Self.senderDomain(name, resolver: resolver)
        } timedOut: {
            SenderDomainCheck(result: .temperror, domain: name, mailHosts: [], trail: ["\(name): time limit exceeded"])
        }
    }

    private static func senderDomain(_ name: String, resolver: any DNSResolver) async -> SenderDomainCheck {
        var trail: [String] = []
        func done(_ result: SenderDomainResult, _ hosts: [String] = []) -> SenderDomainCheck {
            SenderDomainCheck(result: result, domain: name, mailHosts: hosts, trail: trail)
        }
        switch await result({ () async throws(DNSError) in try await resolver.lookupMX(name) }) {
        case .success(let answer):
            trail.append("\(name) MX \(answer.records.map { "\($0.preference) \($0.exchange)" }.joined(separator: ", "))")
            if answer.isNullMX {
                trail.append("null MX (RFC 7505): the domain accepts no mail")
                return done(.nullMX)
            }
            // RFC 7505 §3: a null MX must be the only MX; among others the "." exchange is unusable.
            let hosts = answer.records.map(\.exchange).filter { $0 != "." }
            return hosts.isEmpty ? done(.nullMX) : done(.pass, hosts)
        case .failure(.nxdomain):
            trail.append("\(name) MX: NXDOMAIN")
            return done(.nonexistent)
        case .failure(.noData):
            trail.append("\(name) MX: none, trying A/AAAA (implicit MX, RFC 5321 §5.1)")
        case .failure(.invalidName(let why)):
            trail.append("\(name): \(why)")
            return done(.invalid)
        case .failure(let error):
            trail.append("\(name) MX: \(error)")
            return done(.temperror)
        }
        // Both in flight at once; the A look-up in this task, so one child task, not two.
        async let v6 = result({ () async throws(DNSError) in try await resolver.lookupAAAA(name).records.map(\.description) })
        let v4 = await result({ () async throws(DNSError) in try await resolver.lookupA(name).records.map(\.description) })
        let answers = [v4, await v6]
        var temporary = false
        var addresses: [String] = []
        for (type, answer) in zip(["A", "AAAA"], answers) {
            switch answer {
            case .success(let found):
                trail.append("\(name) \(type) \(found.joined(separator: ", "))")
                addresses += found
            case .failure(let error):
                trail.append("\(name) \(type): \(error)")
                if error.isTemporary { temporary = true }
            }
        }
        if !addresses.isEmpty { return done(.pass, [name]) }
        if temporary { return done(.temperror) }
        // NODATA for MX, A and AAAA (or NXDOMAIN after all: the name went away between queries).
        return done(.noMailHost)
    }
}
