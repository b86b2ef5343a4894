import SMTPCore

/// What the HELO/EHLO argument says about the client.
///
/// [RFC 5321 §4.1.4](https://www.rfc-editor.org/rfc/rfc5321#section-4.1.4): a server MAY check
/// that the name corresponds to the client's address but MUST NOT refuse a message because that
/// check fails — so ``literalMismatch`` and ``unresolvable`` default to tagging in
/// ``SenderCheckPolicy``. A name that is not an FQDN breaks the syntax of
/// [RFC 5321 §4.1.1.1](https://www.rfc-editor.org/rfc/rfc5321#section-4.1.1.1), and a client
/// claiming to be this server is forging.
public enum HELOResult: String, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    /// An FQDN with A/AAAA records, or an address literal equal to the client's address.
    case pass
    /// Neither a fully-qualified domain name nor an address literal (`localhost`, `mail`, a bare
    /// IP address, a numeric top-level label, a general literal).
    case notFQDN = "not-fqdn"
    /// One of our own names or addresses (``SenderCheckConfiguration/localNames``,
    /// ``SenderCheckConfiguration/localAddresses``, the address the client connected to).
    case impersonation
    /// An address literal that is not the client's address.
    case literalMismatch = "literal-mismatch"
    /// An FQDN without A or AAAA records (NXDOMAIN or none).
    case unresolvable
    /// The name's look-ups failed temporarily.
    case temperror

    public var description: String { rawValue }
}

/// The outcome of ``SenderChecker/checkHELO(_:clientIP:localAddress:)``.
public struct HELOCheck: Hashable, Sendable {
    public var result: HELOResult
    /// The argument as given.
    public var name: String
    /// The name's addresses, when it was resolved.
    public var addresses: [IPAddress]
    /// Whether the name's addresses (or the literal) include the client's address; `nil` when
    /// that was not determined. Informational: never a reason to refuse (RFC 5321 §4.1.4).
    public var matchesClient: Bool?
    public var trail: [String]
}

extension SenderChecker {
    /// Checks a HELO/EHLO argument against the client's address and our own names.
    /// `localAddress` is the address the client connected to (also "ours").
    public func checkHELO(_ host: MailHost, clientIP: IPAddress?, localAddress: IPAddress? = nil) async -> HELOCheck {
        let client = clientIP.map(SPFEvaluation.unmapped)
        var ours = configuration.localAddresses
        if let localAddress { ours.append(SPFEvaluation.unmapped(localAddress)) }
        func literal(_ text: String, _ parsed: IPAddress?) -> HELOCheck {
            guard let parsed else {
                return HELOCheck(result: .notFQDN, name: host.description, addresses: [], matchesClient: nil, trail: ["\(host): not an address"])
            }
            let address = SPFEvaluation.unmapped(parsed)
            if address == client {
                return HELOCheck(result: .pass, name: host.description, addresses: [address], matchesClient: true,
                                 trail: ["\(host) is the client's address"])
            }
            if ours.contains(address) {
                return HELOCheck(result: .impersonation, name: host.description, addresses: [address], matchesClient: false,
                                 trail: ["\(host) is one of our addresses"])
            }
            return HELOCheck(result: .literalMismatch, name: host.description, addresses: [address], matchesClient: client == nil ? nil : false,
                             trail: ["\(host) is not the client's address \(client?.description ?? "-")"])
        }
        switch host {
        case .ipv4(let text):
            return literal(text, IPv4Address(text).map(IPAddress.v4))
        case .ipv6(let text):
            return literal(text, IPv6Address(text).map(IPAddress.v6))
        case .general:
            return HELOCheck(result: .notFQDN, name: host.description, addresses: [], matchesClient: nil,
                             trail: ["\(host): a general address literal is no client identity"])
        case .domain(let text):
            guard let name = Self.canonicalDomain(text), Self.isFQDN(name) else {
                return HELOCheck(result: .notFQDN, name: text, addresses: [], matchesClient: nil,
                                 trail: ["\(text): not a fully-qualified domain name (RFC 5321 §4.1.1.1)"])
            }
            if configuration.localNames.contains(name) {
                return HELOCheck(result: .impersonation, name: text, addresses: [], matchesClient: nil, trail: ["\(name) is our own name"])
            }
            let resolver = resolver
            return await limited {
                await Self.resolveHELO(name, given: text, client: client, resolver: resolver)
            } timedOut: {
                HELOCheck(result: .temperror, name: text, addresses: [], matchesClient: nil, trail: ["\(name): time limit exceeded"])
            }
        }
    }

    private static func resolveHELO(_ name: String, given: String, client: IPAddress?, resolver: any DNSResolver) async -> HELOCheck {
        // Both in flight at once; the A look-up in this task, so one child task, not two.
        async let v6 = result({ () async throws(DNSError) in try await resolver.lookupAAAA(name).records.map(IPAddress.v6) })
        let v4 = await result({ () async throws(DNSError) in try await resolver.lookupA(name).records.map(IPAddress.v4) })
        let answers = [v4, await v6]
        var trail: [String] = []
        var addresses: [IPAddress] = []
        var temporary = false
        for (type, answer) in zip(["A", "AAAA"], answers) {
            switch answer {
            case .success(let found):
                trail.append("\(name) \(type) \(found.map(\.description).joined(separator: ", "))")
                addresses += found
            case .failure(let error):
                trail.append("\(name) \(type): \(error)")
                if error.isTemporary { temporary = true }
            }
        }
        let matches = client.map { addresses.contains($0) }
        if !addresses.isEmpty {
            return HELOCheck(result: .pass, name: given, addresses: addresses, matchesClient: matches, trail: trail)
        }
        return HELOCheck(result: temporary ? .temperror : .unresolvable, name: given, addresses: [], matchesClient: nil, trail: trail)
    }

    /// At least two labels of letters, digits and hyphens (no hyphen at either end, at most 63
    /// octets), and a top-level label that is not all-numeric
    /// ([RFC 5321 §4.1.2](https://www.rfc-editor.org/rfc/rfc5321#section-4.1.2) `Domain`,
    /// [RFC 3696 §2](https://www.rfc-editor.org/rfc/rfc3696#section-2)).
    static func isFQDN(_ name: String) -> Bool {
        let labels = name.split(separator: ".", omittingEmptySubsequences: false)
        guard labels.count >= 2, name.utf8.count <= 253 else { return false }
        for label in labels {
            let bytes = Array(label.utf8)
            guard (1...63).contains(bytes.count), bytes.first != UInt8(ascii: "-"), bytes.last != UInt8(ascii: "-"),
                bytes.allSatisfy({ $0 == UInt8(ascii: "-") || ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x7A) })
            else { return false }
        }
        return !labels.last!.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 }
    }
}
