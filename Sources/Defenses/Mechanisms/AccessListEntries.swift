import Foundation
import NIOCore
import SMTPCore

/// What a local block list (DM18) or allow list (DM21) names: client networks, sender
/// addresses or domains, HELO names.
///
/// The file form (`mx.blocklist.file`, one entry per line, `#` starts a comment):
///
/// ```text
/// 192.0.2.0/24            # a client network (a bare address or CIDR is a client)
/// client 2001:db8::/32
/// sender spammer@example.com
/// sender *.bulk.example   # any subdomain
/// helo localhost.localdomain
/// recipient alice@example.org   # DM19's recipient directory file
/// recipient @lists.example.org  # every address of that domain
/// ```
public struct AccessListEntries: Sendable, Hashable {
    public var networks: [IPNetwork]
    public var senders: [AddressPattern]
    public var heloNames: [AddressPattern]
    /// Local recipients that exist (DM19's recipient directory file, `recipient` lines).
    public var recipients: [AddressPattern]

    public init(networks: [IPNetwork] = [], senders: [AddressPattern] = [], heloNames: [AddressPattern] = [],
                recipients: [AddressPattern] = []) {
        self.networks = networks
        self.senders = senders
        self.heloNames = heloNames
        self.recipients = recipients
    }

    public var isEmpty: Bool { networks.isEmpty && senders.isEmpty && heloNames.isEmpty && recipients.isEmpty }
    public var count: Int { networks.count + senders.count + heloNames.count + recipients.count }

    /// Both lists together.
    public func merged(with other: AccessListEntries) -> AccessListEntries {
        AccessListEntries(networks: networks + other.networks, senders: senders + other.senders,
                          heloNames: heloNames + other.heloNames, recipients: recipients + other.recipients)
    }

    /// The first network containing the client address, if any.
    public func network(containing address: SocketAddress?) -> IPNetwork? {
        guard let address else { return nil }
        return networks.first { $0.contains(address) }
    }

    /// The first sender pattern matching the reverse-path, if any.
    public func sender(matching path: ReversePath) -> AddressPattern? {
        senders.first { $0.matches(path) }
    }

    /// The first HELO pattern matching the name (address literals match by their text).
    public func heloName(matching name: MailHost) -> AddressPattern? {
        heloNames.first { $0.matches(domain: "\(name)") }
    }

    /// One problem in a list file, by line.
    public struct Problem: Sendable, Hashable, CustomStringConvertible {
        public var line: Int
        public var message: String
        public var description: String { "line \(line): \(message)" }
    }

    /// Parses a list file's text; lines it cannot read are returned as problems and skipped
    /// (a typo in one line must not empty the whole list).
    public static func parse(_ text: String) -> (entries: AccessListEntries, problems: [Problem]) {
        var entries = AccessListEntries()
        var problems: [Problem] = []
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var line = Substring(raw)
            if let hash = line.firstIndex(of: "#") { line = line[..<hash] }
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" }).map(String.init)
            guard !words.isEmpty else { continue }
            let number = index + 1
            let kind = words.count == 2 ? words[0].lowercased() : "client"
            let value = words.count == 2 ? words[1] : words[0]
            guard words.count <= 2 else {
                problems.append(Problem(line: number, message: "expected '[client|sender|helo|recipient] VALUE'"))
                continue
            }
            switch kind {
            case "client", "ip":
                guard let network = IPNetwork(value) else {
                    problems.append(Problem(line: number, message: "'\(value)' is not an address or CIDR network"))
                    continue
                }
                entries.networks.append(network)
            case "sender", "from":
                guard let pattern = AddressPattern(value) else {
                    problems.append(Problem(line: number, message: "'\(value)' is not an address, domain or *.domain"))
                    continue
                }
                entries.senders.append(pattern)
            case "recipient", "rcpt":
                guard let pattern = AddressPattern(value) else {
                    problems.append(Problem(line: number, message: "'\(value)' is not an address or @domain"))
                    continue
                }
                entries.recipients.append(pattern)
            case "helo":
                guard let pattern = AddressPattern(value), !pattern.isAddress else {
                    problems.append(Problem(line: number, message: "'\(value)' is not a host name or *.domain"))
                    continue
                }
                entries.heloNames.append(pattern)
            default:
                problems.append(Problem(line: number, message: "unknown kind '\(words[0])' (client, sender, helo or recipient)"))
            }
        }
        return (entries, problems)
    }
}

extension AddressPattern {
    /// True for `user@domain` patterns.
    public var isAddress: Bool {
        if case .address = form { return true }
        return false
    }
}
