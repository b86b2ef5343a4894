/// A place in the paper's e-mail architecture where a defense mechanism belongs (Table I,
/// "Proposed location of defense mechanisms"; stages of figure 10).
public enum PaperStage: String, CaseIterable, Hashable, Sendable, Comparable, CustomStringConvertible {
    /// Firewalls at the network's edge, outside every mail server.
    case perimeter = "network perimeter"
    /// Stage A, MTA MX: the only entry point for Internet mail.
    case a = "A"
    /// Stage B, MSA / internal MTA: authenticated company users.
    case b = "B"
    /// Stage C, antivirus.
    case c = "C"
    /// Stage D, antispam.
    case d = "D"
    /// Stage E, corporate webmail (HTTPS only).
    case e = "E"
    /// Stage F, outgoing MTA: the only stage talking to the Internet's port 25.
    case f = "F"
    /// Stage G, message store (POP3/IMAP over TLS).
    case g = "G"
    /// The user's mail program, outside the architecture.
    case mua = "MUA"

    public var description: String { rawValue }

    /// The mailnode role that realises the stage; nil for the perimeter and the MUA.
    public var role: MailnodeRole? {
        switch self {
        case .a: .mx
        case .b: .submission
        case .c: .antivirus
        case .d: .antispam
        case .e: .webmail
        case .f: .outbound
        case .g: .store
        case .perimeter, .mua: nil
        }
    }

    /// The stages A–G.
    public static let servers: [PaperStage] = [.a, .b, .c, .d, .e, .f, .g]

    public static func < (lhs: PaperStage, rhs: PaperStage) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }

    /// Table I's notation for a set of stages: `A,B`, `A-G,MUA`, `network perimeter`.
    public static func notation(_ stages: [PaperStage]) -> String {
        let sorted = stages.sorted()
        let servers = sorted.filter { PaperStage.servers.contains($0) }
        var parts: [String] = sorted.contains(.perimeter) ? [PaperStage.perimeter.rawValue] : []
        if servers == PaperStage.servers {
            parts.append("A-G")
        } else {
            parts += servers.map(\.rawValue)
        }
        if sorted.contains(.mua) { parts.append(PaperStage.mua.rawValue) }
        return parts.joined(separator: ",")
    }
}
