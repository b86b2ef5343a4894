import Foundation
import SMTPCore

/// A pattern for mail addresses and domains in block and allow lists (DM18, DM21), in the
/// forms operators know from Postfix access tables:
///
/// - `user@example.org` — that one address (the local part compared case-insensitively, as
///   every mail system in practice does, although [RFC 5321 §2.4](https://www.rfc-editor.org/rfc/rfc5321#section-2.4)
///   lets a host treat it case-sensitively);
/// - `example.org` or `@example.org` — every address at that domain, not its subdomains;
/// - `*.example.org` or `.example.org` — every address at any subdomain of it, not the domain itself;
/// - `*` — every address (the null reverse-path `<>` included).
///
/// Domains are compared in lower case without a trailing dot; address literals (`[192.0.2.1]`)
/// compare as their text.
public struct AddressPattern: Sendable, Hashable, CustomStringConvertible {
    public enum Form: Sendable, Hashable {
        case address(localPart: String, domain: String)
        case domain(String)
        case subdomains(of: String)
        case any
    }

    public let form: Form

    /// Parses one pattern; nil for an empty text, spaces, or an address without a domain.
    public init?(_ text: String) {
        let text = text.trimmingCharacters(in: .whitespaces).lowercased()
        guard !text.isEmpty, !text.contains(" ") else { return nil }
        if text == "*" {
            form = .any
        } else if let at = text.lastIndex(of: "@") {
            let local = String(text[..<at])
            let domain = Self.normalise(String(text[text.index(after: at)...]))
            guard !domain.isEmpty else { return nil }
            form = local.isEmpty || local == "*" ? .domain(domain) : .address(localPart: local, domain: domain)
        } else if text.hasPrefix("*.") || text.hasPrefix(".") {
            let domain = Self.normalise(String(text.drop(while: { $0 == "*" || $0 == "." })))
            guard !domain.isEmpty else { return nil }
            form = .subdomains(of: domain)
        } else {
            let domain = Self.normalise(text)
            guard !domain.isEmpty else { return nil }
            form = .domain(domain)
        }
    }

    static func normalise(_ domain: String) -> String {
        var domain = domain.lowercased()
        while domain.hasSuffix(".") { domain.removeLast() }
        return domain
    }

    /// Whether a domain (e.g. a HELO name) matches; address patterns never match a bare domain.
    public func matches(domain: String) -> Bool {
        let domain = Self.normalise(domain)
        switch form {
        case .any: return true
        case .address: return false
        case .domain(let name): return domain == name
        case .subdomains(let parent): return domain.hasSuffix("." + parent)
        }
    }

    /// Whether a mailbox matches.
    public func matches(_ mailbox: Mailbox) -> Bool {
        switch form {
        case .address(let local, let domain):
            return mailbox.localPart.lowercased() == local && Self.normalise("\(mailbox.host)") == domain
        default:
            return matches(domain: "\(mailbox.host)")
        }
    }

    /// Whether a reverse-path matches: `<>` only by `*`.
    public func matches(_ path: ReversePath) -> Bool {
        guard let mailbox = path.mailbox else { return form == .any }
        return matches(mailbox)
    }

    public var description: String {
        switch form {
        case .address(let local, let domain): "\(local)@\(domain)"
        case .domain(let domain): domain
        case .subdomains(let parent): "*.\(parent)"
        case .any: "*"
        }
    }
}
