/// A mailnode role (`mailnode --role`), one per server stage of the paper's architecture
/// (DESIGN.md §1). Which of them a build can run is the Roles module's business
/// (`MailNode.availableRoles`); the catalog only says where each defense belongs.
public enum MailnodeRole: String, CaseIterable, Hashable, Sendable, Comparable, CustomStringConvertible {
    case mx
    case submission
    case antivirus
    case antispam
    case webmail
    case outbound
    case store

    public var description: String { rawValue }

    /// The paper's stage letter (figure 10).
    public var paperStage: PaperStage {
        switch self {
        case .mx: .a
        case .submission: .b
        case .antivirus: .c
        case .antispam: .d
        case .webmail: .e
        case .outbound: .f
        case .store: .g
        }
    }

    public static func < (lhs: MailnodeRole, rhs: MailnodeRole) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}
