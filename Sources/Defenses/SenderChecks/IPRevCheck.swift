import SMTPCore

/// The results of the `iprev` method ([RFC 8601 §2.7.3](https://www.rfc-editor.org/rfc/rfc8601#section-2.7.3)).
public enum IPRevResult: String, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    /// A PTR name of the client resolves back to the client's address.
    case pass
    /// PTR names exist, but none resolves back to the address (their forward look-ups answered,
    /// with other addresses, NXDOMAIN or no records).
    case fail
    /// A DNS failure kept the check from finishing; a later attempt may succeed.
    case temperror
    /// No PTR data is published for the address (NXDOMAIN or no PTR records), or the PTR names
    /// cannot be asked: a later attempt is unlikely to differ.
    case permerror

    public var description: String { rawValue }
}

/// The outcome of ``SenderChecker/checkIPRev(_:)``.
public struct IPRevCheck: Hashable, Sendable {
    public var result: IPRevResult
    /// The client address checked (an IPv4-mapped address as IPv4).
    public var clientIP: IPAddress
    /// The PTR names looked at, in the order received (at most ``SenderCheckConfiguration/maxPTRNames``).
    public var names: [String]
    /// The first name (in PTR order) whose forward look-up contains the address.
    public var confirmedName: String?
    public var trail: [String]

    /// The `iprev` resinfo of Authentication-Results
    /// ([RFC 8601 §2.7.3, §3](https://www.rfc-editor.org/rfc/rfc8601#section-3)):
    /// `iprev=pass policy.iprev=192.0.2.10 (host.example)`.
    public var authenticationResultsFragment: String {
        var text = "iprev=\(result) policy.iprev=\(clientIP)"
        if let confirmedName { text += " (\(confirmedName))" }
        return text
    }
}

extension SenderChecker {
    /// Forward-confirmed reverse DNS ([RFC 8601 §3](https://www.rfc-editor.org/rfc/rfc8601#section-3)):
    /// the PTR names of the address, then the A (IPv4) or AAAA (IPv6) records of each name; the
    /// check passes when one of them contains the address.
    ///
    /// - no PTR (NXDOMAIN, NODATA): ``IPRevResult/permerror``;
    /// - PTR failed temporarily: ``IPRevResult/temperror``;
    /// - a name confirms: ``IPRevResult/pass`` (whatever the other names did);
    /// - none confirms and a forward look-up failed temporarily: ``IPRevResult/temperror``;
    /// - none confirms and no name could even be asked: ``IPRevResult/permerror``;
    /// - otherwise ``IPRevResult/fail``.
    public func checkIPRev(_ clientIP: IPAddress) async -> IPRevCheck {
        let ip = SPFEvaluation.unmapped(clientIP)
        let resolver = resolver
        let maxNames = configuration.maxPTRNames
        return await limited {
            await Self.iprev(ip, resolver: resolver, maxNames: maxNames)
        } timedOut: {
            IPRevCheck(result: .temperror, clientIP: ip, names: [], confirmedName: nil, trail: ["time limit exceeded"])
        }
    }

    private static func iprev(_ ip: IPAddress, resolver: any DNSResolver, maxNames: Int) async -> IPRevCheck {
        var trail: [String] = []
        let names: [String]
        switch await result({ () async throws(DNSError) in try await resolver.lookupPTR(ip) }) {
        case .success(let answer):
            names = Array(answer.records.prefix(maxNames))
            trail.append("\(ip.reversePointerName) PTR \(answer.records.joined(separator: ", "))")
            if answer.records.count > maxNames { trail.append("only the first \(maxNames) PTR names are looked at") }
        case .failure(let error) where error.isTemporary:
            trail.append("\(ip.reversePointerName) PTR: \(error)")
            return IPRevCheck(result: .temperror, clientIP: ip, names: [], confirmedName: nil, trail: trail)
        case .failure(let error):
            trail.append("\(ip.reversePointerName) PTR: \(error)")
            return IPRevCheck(result: .permerror, clientIP: ip, names: [], confirmedName: nil, trail: trail)
        }
        guard !names.isEmpty else {
            return IPRevCheck(result: .permerror, clientIP: ip, names: [], confirmedName: nil, trail: trail)
        }

        // The forward look-ups run in parallel (one name, the common case, in this task); the first
        // confirming name in PTR order wins.
        let forward: @Sendable (String) async -> Result<[IPAddress], DNSError> = { name in
            switch ip {
            case .v4: await result({ () async throws(DNSError) in try await resolver.lookupA(name).records.map(IPAddress.v4) })
            case .v6: await result({ () async throws(DNSError) in try await resolver.lookupAAAA(name).records.map(IPAddress.v6) })
            }
        }
        let outcomes: [Result<[IPAddress], DNSError>]
        if names.count == 1 {
            outcomes = [await forward(names[0])]
        } else {
            outcomes = await withTaskGroup(of: (Int, Result<[IPAddress], DNSError>).self) { group in
                for (index, name) in names.enumerated() {
                    group.addTask { (index, await forward(name)) }
                }
                var outcomes: [Result<[IPAddress], DNSError>?] = Array(repeating: nil, count: names.count)
                for await (index, outcome) in group { outcomes[index] = outcome }
                return outcomes.map { $0 ?? .failure(.cancelled) }
            }
        }
        var temporary = false
        var askable = false
        var confirmed: String? = nil
        let type = if case .v4 = ip { "A" } else { "AAAA" }
        for (name, outcome) in zip(names, outcomes) {
            switch outcome {
            case .success(let addresses):
                askable = true
                trail.append("\(name) \(type) \(addresses.map(\.description).joined(separator: ", "))")
                if confirmed == nil, addresses.contains(ip) { confirmed = name }
            case .failure(let error):
                trail.append("\(name) \(type): \(error)")
                if error.isTemporary { temporary = true }
                if case .invalidName = error {} else { askable = true }
            }
        }
        let verdict: IPRevResult
        if confirmed != nil {
            verdict = .pass
        } else if temporary {
            verdict = .temperror
        } else if !askable {
            verdict = .permerror
        } else {
            verdict = .fail
        }
        return IPRevCheck(result: verdict, clientIP: ip, names: names, confirmedName: confirmed, trail: trail)
    }
}
