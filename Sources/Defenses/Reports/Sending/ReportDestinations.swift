import Foundation

/// One mail address a report may be sent to, with the size limit its publisher set.
public struct ReportAddress: Hashable, Sendable, CustomStringConvertible {
    /// `local@domain`.
    public var address: String
    /// The largest report (octets of the whole message) the address takes; `nil`: no limit.
    public var maxSize: Int?

    public init(address: String, maxSize: Int? = nil) {
        self.address = address
        self.maxSize = maxSize
    }

    /// The domain part, lower case.
    public var domain: String {
        guard let at = address.lastIndex(of: "@") else { return "" }
        return MXDestinationResolver.hostName(String(address[address.index(after: at)...]))
    }

    public var description: String { address + (maxSize.map { "!\($0)" } ?? "") }
}

/// Where aggregate and TLS reports go, from the DNS records that ask for them.
public enum ReportDestinations {
    /// The `mailto:` URIs of a DMARC `rua=` tag ([RFC 7489 §6.2](https://www.rfc-editor.org/rfc/rfc7489#section-6.2),
    /// §6.4): `mailto:reports@example.org!10m` → the address with a 10 MiB limit (units k, m, g, t;
    /// none: octets). Other schemes are skipped (RFC 7489 defines only mailto for delivery).
    public static func dmarc(_ uris: [String]) -> [ReportAddress] {
        uris.compactMap { uri in
            var text = uri.trimmingCharacters(in: .whitespaces)
            guard text.lowercased().hasPrefix("mailto:") else { return nil }
            text = String(text.dropFirst("mailto:".count))
            var limit: Int?
            if let bang = text.lastIndex(of: "!") {
                limit = size(String(text[text.index(after: bang)...]))
                guard limit != nil else { return nil }
                text = String(text[..<bang])
            }
            text = text.removingPercentEncoding ?? text
            guard let at = text.lastIndex(of: "@"), at != text.startIndex, text.index(after: at) != text.endIndex,
                  !text.contains(where: { $0 == " " || $0 == "," || $0 == "<" || $0 == ">" }) else { return nil }
            return ReportAddress(address: text, maxSize: limit)
        }
    }

    /// `10m` → 10 485 760 (RFC 7489 §6.4 `size`: digits with an optional k, m, g or t).
    static func size(_ text: String) -> Int? {
        let lower = text.lowercased()
        let units: [Character: Int] = ["k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40]
        var digits = lower
        var multiplier = 1
        if let last = lower.last, let unit = units[last] {
            multiplier = unit
            digits.removeLast()
        }
        guard !digits.isEmpty, digits.allSatisfy(\.isASCII), let value = Int(digits) else { return nil }
        let (product, overflow) = value.multipliedReportingOverflow(by: multiplier)
        return overflow ? nil : product
    }

    /// The `rua` of a TLS-RPT record ([RFC 8460 §3](https://www.rfc-editor.org/rfc/rfc8460#section-3)):
    /// `v=TLSRPTv1; rua=mailto:tlsrpt@example.org,https://reports.example.org/v1` → its `mailto:`
    /// addresses and its `https:` URLs. `nil` when the text is no TLSRPTv1 record.
    public static func tlsReport(record text: String) -> (mailto: [ReportAddress], https: [String])? {
        let fields = text.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
        guard fields.first == "v=TLSRPTv1" else { return nil }
        guard let rua = fields.first(where: { $0.hasPrefix("rua=") }) else { return nil }
        var mailto: [ReportAddress] = []
        var https: [String] = []
        for uri in rua.dropFirst(4).split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) {
            if uri.lowercased().hasPrefix("https://") {
                https.append(uri)
            } else if let address = dmarc([uri]).first {
                mailto.append(ReportAddress(address: address.address))
            }
        }
        return (mailto, https)
    }

    /// The TLS-RPT destinations a recipient domain publishes at `_smtp._tls.DOMAIN` (exactly one
    /// TLSRPTv1 record counts, RFC 8460 §3); `nil` when it publishes none or the look-up failed.
    public static func tlsReport(domain: String, dns: any DNSResolver) async -> (mailto: [ReportAddress], https: [String])? {
        guard let texts = try? await dns.lookupTXT("_smtp._tls." + domain).records.map(\.text) else { return nil }
        let records = texts.compactMap { tlsReport(record: $0) }
        return records.count == 1 ? records[0] : nil
    }

    /// Whether a DMARC report about `policyDomain` may go to `address` ([RFC 7489 §7.1](https://www.rfc-editor.org/rfc/rfc7489#section-7.1)):
    /// always within the same organisational domain; otherwise only when the address's domain
    /// publishes `<policyDomain>._report._dmarc.<its domain>` TXT starting with `v=DMARC1`
    /// (so a domain cannot aim a stream of reports at a stranger).
    public static func acceptsDMARCReports(_ address: ReportAddress, about policyDomain: String, dns: any DNSResolver,
                                           publicSuffixes: PublicSuffixList = .embedded) async -> Bool {
        let destination = address.domain
        guard !destination.isEmpty else { return false }
        if publicSuffixes.organizationalDomain(of: destination) == publicSuffixes.organizationalDomain(of: policyDomain) { return true }
        guard let texts = try? await dns.lookupTXT("\(policyDomain)._report._dmarc.\(destination)").records.map(\.text) else {
            return false
        }
        return texts.contains { $0.hasPrefix("v=DMARC1") && ($0.count == 8 || $0.dropFirst(8).first.map { $0 == ";" || $0 == " " } == true) }
    }
}
