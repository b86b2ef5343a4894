/// The Public Suffix List (<https://publicsuffix.org>): the names under which anyone may register
/// a domain (`com`, `co.uk`, `github.io`). DMARC uses it to find a name's organisational domain
/// ([RFC 7489 §3.2](https://www.rfc-editor.org/rfc/rfc7489#section-3.2)): the public suffix
/// plus one label.
///
/// A list is an immutable value. ``embedded`` is the copy shipped in this repository
/// (`Data/publicsuffix/`, compiled in by `scripts/update-psl.py`, so a deployed binary needs no
/// data file); ``init(parsing:sections:)`` reads a newer `public_suffix_list.dat` at run time.
///
/// Matching follows the list's own algorithm (<https://publicsuffix.org/list/>): labels compare
/// case-insensitively; `*.` rules match any one label; `!` exception rules win over every other
/// rule and give the rule minus its left-most label; with no matching rule the default `*`
/// applies (the last label is the suffix). Rules written in Unicode are also held in their
/// A-label form, so DNS-form names (`xn--...`) match.
public struct PublicSuffixList: Hashable, Sendable {
    /// Which parts of the list to use.
    public enum Sections: String, Hashable, Sendable, CaseIterable {
        /// Only the ICANN section (names delegated by registries).
        case icann
        /// The ICANN and the PRIVATE section (suffixes run by companies for their customers, such
        /// as `github.io` or `blogspot.com`). The default, and what DMARC here uses: two
        /// customers of such a suffix are different organisations.
        case all
    }

    private var rules: Set<String> = []
    private var wildcards: Set<String> = []
    private var exceptions: Set<String> = []

    /// How many rules were read (normal, wildcard and exception; A-label copies included).
    public var ruleCount: Int { rules.count + wildcards.count + exceptions.count }

    /// Reads `public_suffix_list.dat` text: one rule per line, `//` comments, the sections
    /// marked by `// ===BEGIN ICANN DOMAINS===` and `// ===BEGIN PRIVATE DOMAINS===`. Text
    /// without markers is taken as ICANN rules.
    public init(parsing text: String, sections: Sections = .all) {
        var inPrivate = false
        for line in text.split(whereSeparator: { $0 == "\n" || $0 == "\r" }) {
            let trimmed = line.drop { $0 == " " || $0 == "\t" }
            if trimmed.hasPrefix("//") {
                if trimmed.contains("===BEGIN PRIVATE DOMAINS===") { inPrivate = true }
                if trimmed.contains("===BEGIN ICANN DOMAINS===") { inPrivate = false }
                continue
            }
            guard let rule = trimmed.split(whereSeparator: { $0 == " " || $0 == "\t" }).first else { continue }
            if inPrivate && sections == .icann { continue }
            add(String(rule))
        }
    }

    /// The embedded copy (see `Data/publicsuffix/README.md` for its version).
    public static let embedded = PublicSuffixList(embeddedSections: .all)

    /// The embedded copy, ICANN section only.
    public static let embeddedICANN = PublicSuffixList(embeddedSections: .icann)

    private init(embeddedSections sections: Sections) {
        self.init(parsing: Self.embeddedICANNRules)
        if sections == .all {
            for line in Self.embeddedPrivateRules.split(separator: "\n") { add(String(line)) }
        }
    }

    private mutating func add(_ rule: String) {
        let lower = MessageASCII.lowercased(rule)
        if lower.hasPrefix("!") {
            exceptions.insert(String(lower.dropFirst()))
        } else if lower.hasPrefix("*.") {
            wildcards.insert(String(lower.dropFirst(2)))
        } else if !lower.isEmpty {
            rules.insert(lower)
        }
    }

    /// The public suffix of a domain (`co.uk` for `a.b.example.co.uk`); `nil` for an empty or
    /// over-long name. A name that is itself a suffix returns itself.
    public func publicSuffix(of domain: String) -> String? {
        guard let labels = Self.labels(domain) else { return nil }
        let count = suffixLabelCount(labels)
        return labels.suffix(count).joined(separator: ".")
    }

    /// The registrable (organisational) domain: the public suffix plus one label
    /// (`example.co.uk` for `a.b.example.co.uk`); `nil` when the name is a public suffix itself.
    public func registrableDomain(of domain: String) -> String? {
        guard let labels = Self.labels(domain) else { return nil }
        let count = suffixLabelCount(labels)
        guard labels.count > count else { return nil }
        return labels.suffix(count + 1).joined(separator: ".")
    }

    /// The organisational domain of RFC 7489 §3.2: the registrable domain, or the name itself
    /// when it is a public suffix (step 4 has no further label to add).
    public func organizationalDomain(of domain: String) -> String {
        registrableDomain(of: domain) ?? Self.labels(domain)?.joined(separator: ".") ?? MessageASCII.lowercased(domain)
    }

    private func suffixLabelCount(_ labels: [String]) -> Int {
        let total = labels.count
        // Exception rules win; the longest one that matches decides.
        for start in 0..<total where exceptions.contains(labels[start...].joined(separator: ".")) {
            return total - start - 1
        }
        for start in 0..<total {
            let length = total - start
            if rules.contains(labels[start...].joined(separator: ".")) { return length }
            if start + 1 < total, wildcards.contains(labels[(start + 1)...].joined(separator: ".")) { return length }
        }
        return 1  // the default rule "*"
    }

    /// Lower-cased labels without a trailing dot; `nil` for an empty name, an empty label or a
    /// name past 253 octets (bounded work on hostile input).
    static func labels(_ domain: String) -> [String]? {
        var name = MessageASCII.lowercased(domain)
        if name.hasSuffix(".") { name.removeLast() }
        guard !name.isEmpty, name.utf8.count <= 253 else { return nil }
        let labels = name.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard labels.allSatisfy({ !$0.isEmpty }) else { return nil }
        return labels
    }
}
